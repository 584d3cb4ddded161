/**
 * Centred unitary FFTs, BART's convention for every size:
 *   fftc(x) = fftshift(fft(ifftshift(x))) / sqrt(N)      (`bart fft -u`)
 * The shifts cost nothing: they are index rolls applied while data is copied in
 * and out of the float64 work buffers of the 1D engine (dft.ts). fft2Plan hands
 * out the WebAssembly SIMD engine (fft-wasm.ts) where it runs, this one elsewhere.
 */
import { CArray, czeros } from './complex.js';
import { Dft1d, dftPlan } from './dft.js';
import { prepareMask, type Fft2, type PreparedMask } from './fft-mask.js';
import { WasmFft2, wasmFftSupports } from './fft-wasm.js';
import { requestedEngine, type KernelEngine } from './wasm-module.js';

export { dftPlan } from './dft.js';
export type { Fft2, PreparedMask } from './fft-mask.js';

/**
 * Centred unitary 2D FFT of one H×W complex image (row-major, W fastest):
 * forward = fftshift(fft2(ifftshift(x)))/sqrt(HW), inverse the same with ifft2·HW.
 * Holds its own work buffers, so repeated calls allocate nothing. The reference
 * engine (float64 work buffers): fft2Plan serves WasmFft2 where it can.
 */
export class CenteredFft2 implements Fft2 {
  private readonly dftH: Dft1d;
  private readonly dftW: Dft1d;
  private readonly bufs: [Float64Array, Float64Array, Float64Array];

  constructor(readonly H: number, readonly W: number) {
    this.dftH = dftPlan(H);
    this.dftW = dftPlan(W);
    this.bufs = [new Float64Array(2 * H * W), new Float64Array(2 * H * W), new Float64Array(2 * H * W)];
  }

  /** dst[dstOff .. dstOff + 2HW) = F(src[srcOff ..]) (or Fᴴ when `inverse`); src and dst may alias. */
  apply(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, inverse: boolean): void {
    const { H, W } = this;
    const sign = inverse ? 1 : -1;
    const cH = H >> 1, cW = W >> 1;
    const [b0, b1, b2] = this.bufs;
    const rowLen = 2 * W;

    // ifftshift along H while widening to float64: work row j = source row (j + cH) mod H.
    for (let j = 0; j < H; j++) {
      const from = srcOff + ((j + cH) % H) * rowLen;
      const to = j * rowLen;
      for (let i = 0; i < rowLen; i++) b0[to + i] = src[from + i]!;
    }
    const r = this.dftH.run(b0, b1, W, sign); // columns, batched over the W contiguous ones
    const free = r === b0 ? b1 : b0;

    // Transpose to [W][H], applying fftshift along H and ifftshift along W.
    for (let k = 0; k < H; k++) {
      const rowBase = ((k - cH + H) % H) * rowLen;
      for (let j = 0; j < W; j++) {
        const from = rowBase + 2 * ((j + cW) % W);
        const to = 2 * (j * H + k);
        free[to] = r[from]!;
        free[to + 1] = r[from + 1]!;
      }
    }
    const u = this.dftW.run(free, b2, H, sign); // rows, batched over H
    // Back to [H][W] with fftshift along W, narrowing to float32 with the unitary scale.
    const scale = 1 / Math.sqrt(H * W);
    for (let m = 0; m < W; m++) {
      const from = 2 * ((m - cW + W) % W) * H;
      for (let k = 0; k < H; k++) {
        const to = dstOff + k * rowLen + 2 * m;
        dst[to] = u[from + 2 * k]! * scale;
        dst[to + 1] = u[from + 2 * k + 1]! * scale;
      }
    }
  }
  prepareMask(mask: Float32Array): PreparedMask {
    return prepareMask(mask, this.H, this.W);
  }

  /** buf[off .. off + 2HW) ← Fᴴ M F buf, in place: the k-space projection inside the SENSE normal operator. */
  maskedRoundTrip(buf: Float32Array, off: number, mask: PreparedMask): void {
    const { H, W } = this;
    const [b0, b1, b2] = this.bufs;
    const n2 = 2 * H * W;
    const cH = H >> 1, cW = W >> 1;
    switch (mask.kind) {
      case 'constant': {
        if (mask.value !== 1) for (let i = off; i < off + n2; i++) buf[i] *= mask.value;
        return;
      }
      case 'rows': { // only transforms along H: rolls along H, none along W
        for (let j = 0; j < H; j++) copyRow(buf, off + ((j + cH) % H) * 2 * W, b0, j * 2 * W, 2 * W);
        const u = this.dftH.run(b0, b1, W, -1);
        scaleRows(u, mask.data, 2 * W);
        const v = this.dftH.run(u, u === b0 ? b1 : b0, W, 1);
        const s = 1 / H;
        for (let k = 0; k < H; k++) {
          const from = ((k - cH + H) % H) * 2 * W, to = off + k * 2 * W;
          for (let i = 0; i < 2 * W; i++) buf[to + i] = v[from + i]! * s;
        }
        return;
      }
      case 'columns': { // only transforms along W, in the transposed [W][H] layout
        transposeIn(buf, off, b0, H, W, 0, cW);
        const u = this.dftW.run(b0, b1, H, -1);
        scaleRows(u, mask.data, 2 * H);
        const v = this.dftW.run(u, u === b0 ? b1 : b0, H, 1);
        transposeOut(v, buf, off, H, W, 0, cW, 1 / W);
        return;
      }
      case 'general': {
        for (let j = 0; j < H; j++) rollRow(buf, off + ((j + cH) % H) * 2 * W, b0, j * 2 * W, W, cW);
        const r = this.dftH.run(b0, b1, W, -1);
        const t = r === b0 ? b1 : b0;
        transpose(r, t, H, W);
        const u = this.dftW.run(t, b2, H, -1);
        const md = mask.data;
        for (let i = 0; i < H * W; i++) { u[2 * i] *= md[i]!; u[2 * i + 1] *= md[i]!; }
        const v = this.dftW.run(u, u === b2 ? t : b2, H, 1);
        const back = v === r ? t : r;
        transpose(v, back, W, H);
        const x = this.dftH.run(back, v, W, 1);
        const s = 1 / (H * W);
        for (let k = 0; k < H; k++) unrollRow(x, ((k - cH + H) % H) * 2 * W, buf, off + k * 2 * W, W, cW, s);
        return;
      }
    }
  }
}

function copyRow(src: ArrayLike<number>, from: number, dst: Float64Array, to: number, len: number): void {
  for (let i = 0; i < len; i++) dst[to + i] = src[from + i]!;
}

/** dst row (complex, length W) = src row rolled left by c: dst[m] = src[(m + c) mod W]. */
function rollRow(src: Float32Array, from: number, dst: Float64Array, to: number, W: number, c: number): void {
  const head = 2 * (W - c);
  for (let i = 0; i < head; i++) dst[to + i] = src[from + 2 * c + i]!;
  for (let i = 0; i < 2 * c; i++) dst[to + head + i] = src[from + i]!;
}

/** Inverse of rollRow with a scale, narrowing to float32: dst[(m + c) mod W] = s·src[m]. */
function unrollRow(src: Float64Array, from: number, dst: Float32Array, to: number, W: number, c: number, s: number): void {
  const head = 2 * (W - c);
  for (let i = 0; i < head; i++) dst[to + 2 * c + i] = src[from + i]! * s;
  for (let i = 0; i < 2 * c; i++) dst[to + i] = src[from + head + i]! * s;
}

/** Multiplies row j (of `rowLen` doubles) by w[j]. */
function scaleRows(x: Float64Array, w: Float64Array, rowLen: number): void {
  for (let j = 0; j < w.length; j++) {
    const m = w[j]!;
    if (m === 1) continue;
    for (let i = j * rowLen; i < (j + 1) * rowLen; i++) x[i] *= m;
  }
}

/** Complex transpose of [R][C] into [C][R]. */
function transpose(src: Float64Array, dst: Float64Array, R: number, C: number): void {
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < C; j++) {
      dst[2 * (j * R + i)] = src[2 * (i * C + j)]!;
      dst[2 * (j * R + i) + 1] = src[2 * (i * C + j) + 1]!;
    }
  }
}

/** dst [W][H] = src [H][W] with rolls: dst[w][h] = src[(h + cH) mod H][(w + cW) mod W]. */
function transposeIn(src: Float32Array, off: number, dst: Float64Array, H: number, W: number, cH: number, cW: number): void {
  for (let h = 0; h < H; h++) {
    const row = off + ((h + cH) % H) * 2 * W;
    for (let w = 0; w < W; w++) {
      const from = row + 2 * ((w + cW) % W);
      dst[2 * (w * H + h)] = src[from]!;
      dst[2 * (w * H + h) + 1] = src[from + 1]!;
    }
  }
}

/** Inverse of transposeIn with a scale: dst[(h + cH) mod H][(w + cW) mod W] = s·src[w][h]. */
function transposeOut(src: Float64Array, dst: Float32Array, off: number, H: number, W: number, cH: number, cW: number, s: number): void {
  for (let h = 0; h < H; h++) {
    const row = off + ((h + cH) % H) * 2 * W;
    for (let w = 0; w < W; w++) {
      const to = row + 2 * ((w + cW) % W);
      dst[to] = src[2 * (w * H + h)]! * s;
      dst[to + 1] = src[2 * (w * H + h) + 1]! * s;
    }
  }
}

/** The engine fft2Plan uses for H×W: WebAssembly SIMD unless MODL_KERNELS=js or a length needs Bluestein. */
export function fftEngine(H: number, W: number): KernelEngine {
  return requestedEngine() === 'wasm' && wasmFftSupports(H, W) ? 'wasm' : 'js';
}

const fft2Cache = new Map<string, Fft2>();

/** A cached 2D FFT for H×W (one per size and thread; not for concurrent use). */
export function fft2Plan(H: number, W: number): Fft2 {
  const key = `${H}x${W}`;
  let p = fft2Cache.get(key);
  if (!p) fft2Cache.set(key, (p = fftEngine(H, W) === 'wasm' ? new WasmFft2(H, W) : new CenteredFft2(H, W)));
  return p;
}

function fft2Batch(x: CArray, inverse: boolean): CArray {
  if (x.shape.length < 2) throw new Error(`2D FFT needs at least 2 dimensions, got [${x.shape}]`);
  const H = x.shape[x.shape.length - 2]!, W = x.shape[x.shape.length - 1]!;
  const plan = fft2Plan(H, W);
  const out = czeros(x.shape);
  const step = 2 * H * W;
  for (let off = 0; off < x.data.length; off += step) plan.apply(x.data, off, out.data, off, inverse);
  return out;
}

/** Centred unitary 2D FFT over the last two dimensions (any leading batch). */
export function fft2c(x: CArray): CArray {
  return fft2Batch(x, false);
}

/** Centred unitary inverse 2D FFT over the last two dimensions. */
export function ifft2c(x: CArray): CArray {
  return fft2Batch(x, true);
}
