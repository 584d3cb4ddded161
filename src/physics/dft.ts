/**
 * 1D DFTs of any length, batched: the engine under the centred FFTs of fft.ts.
 *
 * A batched Stockham DIF FFT transforms the leading axis of data laid out as
 * [n][batch] (interleaved complex, float64 work buffers), so the innermost loop
 * always runs over contiguous memory, whatever the axis. Lengths factor into
 * radix-4/2/3/5 butterflies and generic odd-prime ones; a length with a prime
 * factor above MAX_DIRECT_PRIME goes through Bluestein's chirp-z algorithm,
 * whose power-of-two convolution uses fft.js. (For powers of two the batched
 * Stockham passes measured faster than fft.js's per-vector radix-4: 0.37 vs
 * 0.48 ms for 256 transforms of length 256, so fft.js serves Bluestein only.)
 */
import FFT from 'fft.js';

const MAX_DIRECT_PRIME = 64;

function factorize(n: number): number[] {
  const f: number[] = [];
  while (n % 4 === 0 && n > 4) { f.push(4); n /= 4; } // keep a final 4 or 2 below
  for (const p of [4, 2, 3, 5]) while (n % p === 0) { f.push(p); n /= p; }
  for (let p = 7; p * p <= n; p += 2) while (n % p === 0) { f.push(p); n /= p; }
  if (n > 1) f.push(n);
  return f;
}

/** A length-n complex DFT (unnormalised, natural order) along the leading axis of [n][batch] data. */
export interface Dft1d {
  readonly n: number;
  /**
   * Transforms `x` (length 2*n*batch, layout [n][batch]) using `y` as scratch.
   * `sign` is -1 for the forward DFT and +1 for the inverse. Returns x or y,
   * whichever holds the result.
   */
  run(x: Float64Array, y: Float64Array, batch: number, sign: 1 | -1): Float64Array;
}

/** One radix-r pass of a Stockham FFT: twiddles cos/sin(−2π p k / len) at [p r + k], p < m. */
export type Stage = { r: number; m: number; cos: Float64Array; sin: Float64Array };

/** The Stockham passes of a length-n DFT, or null when a prime factor above MAX_DIRECT_PRIME needs Bluestein. */
export function stockhamStages(n: number): Stage[] | null {
  const radices = factorize(n);
  if (radices.length > 0 && radices[radices.length - 1]! > MAX_DIRECT_PRIME) return null;
  const stages: Stage[] = [];
  let len = n;
  for (const r of radices) {
    const m = len / r;
    const cos = new Float64Array(m * r);
    const sin = new Float64Array(m * r);
    for (let p = 0; p < m; p++) {
      for (let k = 0; k < r; k++) {
        const a = (-2 * Math.PI * p * k) / len;
        cos[p * r + k] = Math.cos(a);
        sin[p * r + k] = Math.sin(a);
      }
    }
    stages.push({ r, m, cos, sin });
    len = m;
  }
  return stages;
}

/** cos/sin(2π jk / r), j, k = 1..(r−1)/2, as [k−1][j−1] tables: the generic odd radix's butterfly. */
export function oddRootTables(r: number): { c: Float64Array; s: Float64Array } {
  const h = (r - 1) >> 1;
  const c = new Float64Array(h * h);
  const s = new Float64Array(h * h);
  for (let k = 1; k <= h; k++) {
    for (let j = 1; j <= h; j++) {
      c[(k - 1) * h + j - 1] = Math.cos((2 * Math.PI * ((j * k) % r)) / r);
      s[(k - 1) * h + j - 1] = Math.sin((2 * Math.PI * ((j * k) % r)) / r);
    }
  }
  return { c, s };
}

class StockhamDft implements Dft1d {
  private uv = new Float64Array(0); // the pair sums/differences of one butterfly
  private readonly rootTables = new Map<number, { c: Float64Array; s: Float64Array }>();

  constructor(readonly n: number, readonly stages: Stage[]) {
    for (const { r } of stages) {
      if (r > 5 && !this.rootTables.has(r)) {
        this.rootTables.set(r, oddRootTables(r));
        this.uv = new Float64Array(Math.max(this.uv.length, 2 * (r - 1)));
      }
    }
  }

  run(x: Float64Array, y: Float64Array, batch: number, sign: 1 | -1): Float64Array {
    let s = batch;
    for (const st of this.stages) {
      switch (st.r) {
        case 2: radix2(st, s, x, y, sign); break;
        case 3: radix3(st, s, x, y, sign); break;
        case 4: radix4(st, s, x, y, sign); break;
        case 5: radix5(st, s, x, y, sign); break;
        default: radixOdd(st, s, x, y, sign, this.rootTables.get(st.r)!, this.uv);
      }
      const t = x; x = y; y = t;
      s *= st.r;
    }
    return x;
  }
}

// Each butterfly reads a_j = x[q + s(p + j m)] and writes y[q + s(r p + k)] = w^{pk} DFT_r(a)_k.

function radix2(st: Stage, s: number, x: Float64Array, y: Float64Array, sign: number): void {
  const { m, cos, sin } = st;
  for (let p = 0; p < m; p++) {
    const wr = cos[2 * p + 1]!, wi = -sign * sin[2 * p + 1]!;
    const i0 = 2 * s * p, i1 = 2 * s * (p + m), o0 = 2 * s * (2 * p), o1 = o0 + 2 * s;
    for (let q = 0; q < 2 * s; q += 2) {
      const ar = x[i0 + q]!, ai = x[i0 + q + 1]!, br = x[i1 + q]!, bi = x[i1 + q + 1]!;
      y[o0 + q] = ar + br; y[o0 + q + 1] = ai + bi;
      const dr = ar - br, di = ai - bi;
      y[o1 + q] = dr * wr - di * wi; y[o1 + q + 1] = dr * wi + di * wr;
    }
  }
}

function radix4(st: Stage, s: number, x: Float64Array, y: Float64Array, sign: number): void {
  const { m, cos, sin } = st;
  const ss = 2 * s;
  for (let p = 0; p < m; p++) {
    const w1r = cos[4 * p + 1]!, w1i = -sign * sin[4 * p + 1]!;
    const w2r = cos[4 * p + 2]!, w2i = -sign * sin[4 * p + 2]!;
    const w3r = cos[4 * p + 3]!, w3i = -sign * sin[4 * p + 3]!;
    const i0 = ss * p, i1 = ss * (p + m), i2 = ss * (p + 2 * m), i3 = ss * (p + 3 * m);
    const o0 = ss * 4 * p, o1 = o0 + ss, o2 = o1 + ss, o3 = o2 + ss;
    for (let q = 0; q < ss; q += 2) {
      const a0r = x[i0 + q]!, a0i = x[i0 + q + 1]!, a1r = x[i1 + q]!, a1i = x[i1 + q + 1]!;
      const a2r = x[i2 + q]!, a2i = x[i2 + q + 1]!, a3r = x[i3 + q]!, a3i = x[i3 + q + 1]!;
      const t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
      const t2r = a1r + a3r, t2i = a1i + a3i;
      // (a1 - a3) times -i (forward) or +i (inverse)
      const dr = a1r - a3r, di = a1i - a3i;
      const t3r = -sign * di, t3i = sign * dr;
      y[o0 + q] = t0r + t2r; y[o0 + q + 1] = t0i + t2i;
      const b1r = t1r + t3r, b1i = t1i + t3i, b2r = t0r - t2r, b2i = t0i - t2i, b3r = t1r - t3r, b3i = t1i - t3i;
      y[o1 + q] = b1r * w1r - b1i * w1i; y[o1 + q + 1] = b1r * w1i + b1i * w1r;
      y[o2 + q] = b2r * w2r - b2i * w2i; y[o2 + q + 1] = b2r * w2i + b2i * w2r;
      y[o3 + q] = b3r * w3r - b3i * w3i; y[o3 + q + 1] = b3r * w3i + b3i * w3r;
    }
  }
}

const S3 = Math.sqrt(3) / 2;

function radix3(st: Stage, s: number, x: Float64Array, y: Float64Array, sign: number): void {
  const { m, cos, sin } = st;
  const ss = 2 * s;
  const k3 = sign * S3; // (a1 - a2) is multiplied by i*sign*sqrt(3)/2
  for (let p = 0; p < m; p++) {
    const w1r = cos[3 * p + 1]!, w1i = -sign * sin[3 * p + 1]!;
    const w2r = cos[3 * p + 2]!, w2i = -sign * sin[3 * p + 2]!;
    const i0 = ss * p, i1 = ss * (p + m), i2 = ss * (p + 2 * m);
    const o0 = ss * 3 * p, o1 = o0 + ss, o2 = o1 + ss;
    for (let q = 0; q < ss; q += 2) {
      const a0r = x[i0 + q]!, a0i = x[i0 + q + 1]!, a1r = x[i1 + q]!, a1i = x[i1 + q + 1]!;
      const a2r = x[i2 + q]!, a2i = x[i2 + q + 1]!;
      const ur = a1r + a2r, ui = a1i + a2i;
      const cr = a0r - 0.5 * ur, ci = a0i - 0.5 * ui;
      const vr = -k3 * (a1i - a2i), vi = k3 * (a1r - a2r);
      y[o0 + q] = a0r + ur; y[o0 + q + 1] = a0i + ui;
      const b1r = cr + vr, b1i = ci + vi, b2r = cr - vr, b2i = ci - vi;
      y[o1 + q] = b1r * w1r - b1i * w1i; y[o1 + q + 1] = b1r * w1i + b1i * w1r;
      y[o2 + q] = b2r * w2r - b2i * w2i; y[o2 + q + 1] = b2r * w2i + b2i * w2r;
    }
  }
}

const C51 = Math.cos((2 * Math.PI) / 5), C52 = Math.cos((4 * Math.PI) / 5);
const S51 = Math.sin((2 * Math.PI) / 5), S52 = Math.sin((4 * Math.PI) / 5);

function radix5(st: Stage, s: number, x: Float64Array, y: Float64Array, sign: number): void {
  const { m, cos, sin } = st;
  const ss = 2 * s;
  for (let p = 0; p < m; p++) {
    const w1r = cos[5 * p + 1]!, w1i = -sign * sin[5 * p + 1]!, w2r = cos[5 * p + 2]!, w2i = -sign * sin[5 * p + 2]!;
    const w3r = cos[5 * p + 3]!, w3i = -sign * sin[5 * p + 3]!, w4r = cos[5 * p + 4]!, w4i = -sign * sin[5 * p + 4]!;
    const i0 = ss * p, i1 = ss * (p + m), i2 = ss * (p + 2 * m), i3 = ss * (p + 3 * m), i4 = ss * (p + 4 * m);
    const o0 = ss * 5 * p;
    for (let q = 0; q < ss; q += 2) {
      const a0r = x[i0 + q]!, a0i = x[i0 + q + 1]!;
      const a1r = x[i1 + q]!, a1i = x[i1 + q + 1]!, a4r = x[i4 + q]!, a4i = x[i4 + q + 1]!;
      const a2r = x[i2 + q]!, a2i = x[i2 + q + 1]!, a3r = x[i3 + q]!, a3i = x[i3 + q + 1]!;
      const u1r = a1r + a4r, u1i = a1i + a4i, v1r = a1r - a4r, v1i = a1i - a4i;
      const u2r = a2r + a3r, u2i = a2i + a3i, v2r = a2r - a3r, v2i = a2i - a3i;
      const c1r = a0r + C51 * u1r + C52 * u2r, c1i = a0i + C51 * u1i + C52 * u2i;
      const c2r = a0r + C52 * u1r + C51 * u2r, c2i = a0i + C52 * u1i + C51 * u2i;
      // d = (i sign) e: the odd part of the pairs
      const e1r = S51 * v1r + S52 * v2r, e1i = S51 * v1i + S52 * v2i;
      const e2r = S52 * v1r - S51 * v2r, e2i = S52 * v1i - S51 * v2i;
      const d1r = -sign * e1i, d1i = sign * e1r;
      const d2r = -sign * e2i, d2i = sign * e2r;
      const o = o0 + q;
      y[o] = a0r + u1r + u2r; y[o + 1] = a0i + u1i + u2i;
      const o1 = o + ss, o2 = o1 + ss, o3 = o2 + ss, o4 = o3 + ss;
      const b1r = c1r + d1r, b1i = c1i + d1i, b4r = c1r - d1r, b4i = c1i - d1i;
      const b2r = c2r + d2r, b2i = c2i + d2i, b3r = c2r - d2r, b3i = c2i - d2i;
      y[o1] = b1r * w1r - b1i * w1i; y[o1 + 1] = b1r * w1i + b1i * w1r;
      y[o2] = b2r * w2r - b2i * w2i; y[o2 + 1] = b2r * w2i + b2i * w2r;
      y[o3] = b3r * w3r - b3i * w3i; y[o3 + 1] = b3r * w3i + b3i * w3r;
      y[o4] = b4r * w4r - b4i * w4i; y[o4 + 1] = b4r * w4i + b4i * w4r;
    }
  }
}

/**
 * Generic odd radix r. With pair sums u_j = a_j + a_{r−j} and differences v_j = a_j − a_{r−j}:
 *   b_k = a_0 + Σ_j u_j cos(2πjk/r) + (i·sign) Σ_j v_j sin(2πjk/r),  b_{r−k} the same with −(i·sign).
 * Outputs are computed two k at a time so every loaded u_j, v_j feeds eight multiply-adds
 * (2.5× faster than one k at a time for r = 23, the radix of 230 and 368).
 */
function radixOdd(
  st: Stage, s: number, x: Float64Array, y: Float64Array, sign: number,
  roots: { c: Float64Array; s: Float64Array }, uv: Float64Array,
): void {
  const { r, m, cos, sin } = st;
  const h = (r - 1) >> 1;
  const ss = 2 * s;
  const C = roots.c, S = roots.s; // [k−1][j−1] tables, h×h
  const twiddle = (o: number, tw: number, re: number, im: number) => {
    const wr = cos[tw]!, wi = -sign * sin[tw]!;
    y[o] = re * wr - im * wi;
    y[o + 1] = re * wi + im * wr;
  };
  for (let p = 0; p < m; p++) {
    const o0 = ss * r * p;
    for (let q = 0; q < ss; q += 2) {
      const i0 = ss * p + q;
      const a0r = x[i0]!, a0i = x[i0 + 1]!;
      let sr = a0r, si = a0i;
      for (let j = 1; j <= h; j++) {
        const ia = ss * (p + j * m) + q, ib = ss * (p + (r - j) * m) + q;
        const ar = x[ia]!, ai = x[ia + 1]!, br = x[ib]!, bi = x[ib + 1]!;
        const o = 4 * (j - 1);
        uv[o] = ar + br; uv[o + 1] = ai + bi; uv[o + 2] = ar - br; uv[o + 3] = ai - bi;
        sr += ar + br; si += ai + bi;
      }
      y[o0 + q] = sr; y[o0 + q + 1] = si;
      for (let k = 1; k <= h; k += 2) {
        const t0 = (k - 1) * h, t1 = t0 + h, two = k < h;
        let c0r = a0r, c0i = a0i, e0r = 0, e0i = 0, c1r = a0r, c1i = a0i, e1r = 0, e1i = 0;
        for (let j = 0; j < h; j++) {
          const ur = uv[4 * j]!, ui = uv[4 * j + 1]!, vr = uv[4 * j + 2]!, vi = uv[4 * j + 3]!;
          const ca = C[t0 + j]!, sa = S[t0 + j]!;
          c0r += ca * ur; c0i += ca * ui; e0r += sa * vr; e0i += sa * vi;
          if (two) {
            const cb = C[t1 + j]!, sb = S[t1 + j]!;
            c1r += cb * ur; c1i += cb * ui; e1r += sb * vr; e1i += sb * vi;
          }
        }
        // d = (i·sign)·e
        const d0r = -sign * e0i, d0i = sign * e0r;
        const ok = o0 + k * ss + q, on = o0 + (r - k) * ss + q;
        if (p === 0) { // all twiddles are 1
          y[ok] = c0r + d0r; y[ok + 1] = c0i + d0i; y[on] = c0r - d0r; y[on + 1] = c0i - d0i;
        } else {
          twiddle(ok, p * r + k, c0r + d0r, c0i + d0i);
          twiddle(on, p * r + r - k, c0r - d0r, c0i - d0i);
        }
        if (two) {
          const d1r = -sign * e1i, d1i = sign * e1r;
          const ok1 = ok + ss, on1 = on - ss;
          if (p === 0) {
            y[ok1] = c1r + d1r; y[ok1 + 1] = c1i + d1i; y[on1] = c1r - d1r; y[on1 + 1] = c1i - d1i;
          } else {
            twiddle(ok1, p * r + k + 1, c1r + d1r, c1i + d1i);
            twiddle(on1, p * r + r - k - 1, c1r - d1r, c1i - d1i);
          }
        }
      }
    }
  }
}

/** Bluestein's chirp-z DFT for lengths with a large prime factor; fft.js does the power-of-two convolution. */
class BluesteinDft implements Dft1d {
  private readonly m: number;
  private readonly fft: FFT;
  private readonly chirp: Float64Array; // exp(-i π k² / n), k < n
  private readonly kernel: Float64Array; // FFT of conj chirp, wrapped to length m
  private readonly a: Float64Array;
  private readonly b: Float64Array;

  constructor(readonly n: number) {
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    this.m = m;
    this.fft = new FFT(m);
    this.chirp = new Float64Array(2 * n);
    for (let k = 0; k < n; k++) {
      const a = (-Math.PI * ((k * k) % (2 * n))) / n; // k² mod 2n keeps the angle exact
      this.chirp[2 * k] = Math.cos(a);
      this.chirp[2 * k + 1] = Math.sin(a);
    }
    const ker = new Float64Array(2 * m);
    for (let k = 0; k < n; k++) {
      ker[2 * k] = this.chirp[2 * k]!; ker[2 * k + 1] = -this.chirp[2 * k + 1]!;
      if (k > 0) { ker[2 * (m - k)] = ker[2 * k]!; ker[2 * (m - k) + 1] = ker[2 * k + 1]!; }
    }
    this.kernel = new Float64Array(2 * m);
    this.fft.transform(this.kernel, ker);
    this.a = new Float64Array(2 * m);
    this.b = new Float64Array(2 * m);
  }

  run(x: Float64Array, _y: Float64Array, batch: number, sign: 1 | -1): Float64Array {
    const { n, m, chirp, kernel, a, b } = this;
    // The inverse DFT is conj(DFT(conj(x))): conjugate on the way in and out.
    for (let q = 0; q < batch; q++) {
      a.fill(0);
      for (let k = 0; k < n; k++) {
        const i = 2 * (k * batch + q);
        const xr = x[i]!, xi = -sign * x[i + 1]!;
        const cr = chirp[2 * k]!, ci = chirp[2 * k + 1]!;
        a[2 * k] = xr * cr - xi * ci; a[2 * k + 1] = xr * ci + xi * cr;
      }
      this.fft.transform(b, a);
      for (let j = 0; j < m; j++) {
        const br = b[2 * j]!, bi = b[2 * j + 1]!, kr = kernel[2 * j]!, ki = kernel[2 * j + 1]!;
        b[2 * j] = br * kr - bi * ki; b[2 * j + 1] = br * ki + bi * kr;
      }
      this.fft.inverseTransform(a, b); // fft.js scales its inverse by 1/m
      for (let k = 0; k < n; k++) {
        const cr = chirp[2 * k]!, ci = chirp[2 * k + 1]!, ar = a[2 * k]!, ai = a[2 * k + 1]!;
        const i = 2 * (k * batch + q);
        x[i] = ar * cr - ai * ci;
        x[i + 1] = -sign * (ar * ci + ai * cr);
      }
    }
    return x;
  }
}

const dftCache = new Map<number, Dft1d>();

/** The (cached) DFT plan for length n. */
export function dftPlan(n: number): Dft1d {
  if (!Number.isInteger(n) || n < 1) throw new Error(`FFT length must be a positive integer, got ${n}`);
  let plan = dftCache.get(n);
  if (!plan) {
    const stages = stockhamStages(n);
    plan = stages ? new StockhamDft(n, stages) : new BluesteinDft(n);
    dftCache.set(n, plan);
  }
  return plan;
}
