/**
 * Eigen-decomposition of a complex Hermitian matrix, the route of LAPACK's zheev
 * (EISPACK htridi / tql2 / htribk):
 *
 * 1. Householder reflections H_k = I − τ_k u_k u_kᴴ reduce A to a Hermitian
 *    tridiagonal T = Qᴴ A Q, Q = H_0 ⋯ H_{n−3};
 * 2. a diagonal phase matrix D makes it real: T = D T' Dᴴ, T' real symmetric;
 * 3. implicit QL with Wilkinson shifts diagonalises T' = Z Λ Zᵀ, Z a product of
 *    plane rotations;
 * 4. the eigenvectors are the columns of Q D Z; only the `count` leading ones
 *    are formed.
 *
 * Working in complex arithmetic at size n costs about a sixth of the real
 * symmetric 2n×2n embedding that a real solver would need (and gives each
 * eigenvalue once, not twice). Float64 throughout. hermitianEigen runs the same
 * algorithm in WebAssembly (wasm/eig.c) where it can; HermitianEigenSolver is
 * its TypeScript reference (MODL_KERNELS=js).
 */
import { ModlError } from '../util/errors.js';
import { WASM_BASE64 } from './wasm/eig-wasm-bytes.js';
import { ensureMemory, heapStart, kernelModule, requestedEngine, type KernelExports } from './wasm-module.js';

export interface HermitianEigen {
  /** All n eigenvalues, descending. */
  values: Float64Array;
  /** The leading `count` unit eigenvectors as columns of a row-major n × count matrix (re, im). */
  re: Float64Array;
  im: Float64Array;
}

/** QL sweeps allowed per eigenvalue before giving up (LAPACK: 30; convergence is cubic). */
const MAX_SWEEPS = 60;

/** count: a number, or a function of the eigenvalues (descending), for callers that pick the eigenspace by them. */
export type EigenCount = number | ((values: Float64Array) => number);

/**
 * Eigenvalues (all, descending) and the eigenvectors of the `count` largest of
 * the Hermitian n×n matrix given row-major as (re, im). The inputs are not changed.
 */
export function hermitianEigen(re: Float64Array, im: Float64Array, n: number, count: EigenCount = n): HermitianEigen {
  const kernels = eigKernels();
  return kernels ? hermitianEigenWasm(kernels, re, im, n, count) : new HermitianEigenSolver(n).decompose(re, im, count);
}

/** The exports of wasm/eig.c. */
export interface EigExports extends KernelExports {
  eigenWorkBytes(n: number, m: number): number;
  pixelEigenvectors(g: number, C: number, npix: number, m: number, vectors: number, values: number, work: number): number;
  denseWorkBytes(n: number, rotations: number): number;
  denseEigenvalues(work: number, n: number, rotations: number, values: number): number;
  denseEigenvectors(work: number, n: number, rotations: number, nrot: number, m: number, vr: number, vi: number): void;
  gram(xr: number, xi: number, rows: number, cols: number, gr: number, gi: number): void;
}

const eigModule = kernelModule<EigExports>(WASM_BASE64);
let eigInstance: EigExports | undefined;

/** This thread's instance of the WebAssembly eigen kernels, or null where they cannot run or MODL_KERNELS=js. */
export function eigKernels(): EigExports | null {
  if (requestedEngine() !== 'wasm' || !eigModule.available()) return null;
  eigInstance ??= eigModule.instantiate();
  return eigInstance;
}

/**
 * hermitianEigen in WebAssembly (wasm/eig.c, the same algorithm), about five
 * times faster at n = 288. Its QL rotations are recorded in room for `rotations`
 * of them (about 1.1 n² are typical); a problem that needs more is solved again
 * with room for the most QL can make.
 */
export function hermitianEigenWasm(
  k: EigExports, re: Float64Array, im: Float64Array, n: number, count: EigenCount = n, rotations = 4 * n * n,
): HermitianEigen {
  if (re.length !== n * n || im.length !== n * n) throw new Error(`hermitianEigen: expected ${n}×${n} matrices`);
  const work = heapStart(k);
  const valuesAt = work + ((k.denseWorkBytes(n, rotations) + 15) & ~15), vrAt = valuesAt + 8 * n, viAt = vrAt + 8 * n * n;
  ensureMemory(k.memory, viAt + 8 * n * n);
  const matrix = new Float64Array(k.memory.buffer, work, 2 * n * n);
  matrix.set(re);
  matrix.set(im, n * n);
  const nrot = k.denseEigenvalues(work, n, rotations, valuesAt);
  if (nrot === -2) return hermitianEigenWasm(k, re, im, n, count, MAX_SWEEPS * n * (n - 1) / 2 + 1);
  if (nrot < 0) throw new ModlError(`the eigen-decomposition of a ${n}×${n} matrix did not converge`);
  const values = new Float64Array(k.memory.buffer, valuesAt, n).slice();
  const m = typeof count === 'number' ? count : count(values);
  if (!(Number.isInteger(m) && m >= 0 && m <= n)) throw new Error(`hermitianEigen: count ${m} outside 0…${n}`);
  k.denseEigenvectors(work, n, rotations, nrot, m, vrAt, viAt);
  return { values, re: new Float64Array(k.memory.buffer, vrAt, n * m).slice(), im: new Float64Array(k.memory.buffer, viAt, n * m).slice() };
}

/**
 * hermitianEigen for many matrices of one size (ESPIRiT's per-pixel C×C
 * problems): all working memory is allocated once. Each result is a view of
 * that memory, valid until the next call.
 */
export class HermitianEigenSolver {
  readonly n: number;
  private readonly ar: Float64Array;
  private readonly ai: Float64Array;
  private readonly rotations = new Rotations();
  private readonly d: Float64Array;
  private readonly e: Float64Array;
  private readonly tau: Float64Array;
  private readonly phase: Float64Array;
  private readonly offRe: Float64Array;
  private readonly offIm: Float64Array;
  private readonly ur: Float64Array;
  private readonly ui: Float64Array;
  private readonly qr: Float64Array;
  private readonly qi: Float64Array;
  private readonly order: Int32Array;
  private readonly values: Float64Array;
  private readonly vr: Float64Array;
  private readonly vi: Float64Array;

  constructor(n: number) {
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`hermitianEigen: size ${n} is not a positive integer`);
    this.n = n;
    this.ar = new Float64Array(n * n); this.ai = new Float64Array(n * n);
    this.vr = new Float64Array(n * n); this.vi = new Float64Array(n * n);
    [this.d, this.e, this.tau, this.offRe, this.offIm, this.ur, this.ui, this.qr, this.qi, this.values] =
      Array.from({ length: 10 }, () => new Float64Array(n));
    this.phase = new Float64Array(2 * n);
    this.order = new Int32Array(n);
  }

  decompose(re: Float64Array, im: Float64Array, count: EigenCount = this.n): HermitianEigen {
    const { n, ar, ai, d, order, values, phase, rotations } = this;
    if (re.length !== n * n || im.length !== n * n) throw new Error(`hermitianEigen: expected ${n}×${n} matrices`);
    ar.set(re); ai.set(im);
    this.tridiagonalise();
    diagonaliseTridiagonal(d, this.e, n, rotations);
    // descending order (insertion sort: n is small, or the O(n³) above dominates)
    for (let i = 0; i < n; i++) {
      let j = i;
      for (; j > 0 && d[order[j - 1]!]! < d[i]!; j--) order[j] = order[j - 1]!;
      order[j] = i;
    }
    for (let j = 0; j < n; j++) values[j] = d[order[j]!]!;
    const m = typeof count === 'number' ? count : count(values);
    if (!(Number.isInteger(m) && m >= 0 && m <= n)) throw new Error(`hermitianEigen: count ${m} outside 0…${n}`);
    // eigenvectors: the columns of Q · D · Z for the m leading slots, all m at once
    // (row i of vr/vi holds component i of every vector, so each rotation and
    // reflector passes over contiguous memory once)
    const vr = this.vr.subarray(0, n * m), vi = this.vi.subarray(0, n * m);
    vr.fill(0); vi.fill(0);
    for (let j = 0; j < m; j++) vr[order[j]! * m + j] = 1;
    rotations.applyTransposed(vr, m);
    for (let i = 0; i < n; i++) {
      const pr = phase[2 * i]!, pi = phase[2 * i + 1]!;
      for (let j = 0, a = i * m; j < m; j++, a++) { vi[a] = pi * vr[a]!; vr[a] = pr * vr[a]!; }
    }
    for (let k = n - 3; k >= 0; k--) this.applyReflector(k, vr, vi, m);
    return { values, re: vr, im: vi };
  }

  /** v ← H_k v = v − τ_k u_k (u_kᴴ v) for the m columns of v (n × m), u_k in row k of (ar, ai). */
  private applyReflector(k: number, vr: Float64Array, vi: Float64Array, m: number): void {
    const { n, ar, ai, tau } = this;
    const t = tau[k]!;
    if (t === 0) return;
    const sr = this.qr, si = this.qi; // u_kᴴ v_j, j < m ≤ n
    sr.fill(0, 0, m); si.fill(0, 0, m);
    for (let i = k + 1; i < n; i++) {
      const ur = ar[k * n + i]!, ui = ai[k * n + i]!;
      for (let j = 0, a = i * m; j < m; j++, a++) { sr[j] += ur * vr[a]! + ui * vi[a]!; si[j] += ur * vi[a]! - ui * vr[a]!; }
    }
    for (let j = 0; j < m; j++) { sr[j] *= t; si[j] *= t; }
    for (let i = k + 1; i < n; i++) {
      const ur = ar[k * n + i]!, ui = ai[k * n + i]!;
      for (let j = 0, a = i * m; j < m; j++, a++) {
        vr[a] = vr[a]! - (ur * sr[j]! - ui * si[j]!);
        vi[a] = vi[a]! - (ur * si[j]! + ui * sr[j]!);
      }
    }
  }

  /**
   * Householder reduction of (ar, ai), in place. Leaves the reflector u_k in row k,
   * columns k+1 … n−1 (a part the reduction no longer needs), τ_k in tau, T' in
   * (d, e: off-diagonal ≥ 0, e[i] coupling i and i+1) and D's phases in phase.
   */
  private tridiagonalise(): void {
    const { n, ar, ai, d, e, tau, phase, offRe, offIm, ur, ui, qr, qi } = this;
    for (let k = 0; k < n - 2; k++) {
      // x = A[k+1:, k]; u = x + e^{iθ}‖x‖ e_1 (θ = arg x_0), so that H x = −e^{iθ}‖x‖ e_1
      const x0r = ar[(k + 1) * n + k]!, x0i = ai[(k + 1) * n + k]!;
      let rest2 = 0;
      for (let i = k + 2; i < n; i++) rest2 += ar[i * n + k]! ** 2 + ai[i * n + k]! ** 2;
      const x0 = Math.hypot(x0r, x0i);
      if (rest2 === 0) { offRe[k] = x0r; offIm[k] = x0i; tau[k] = 0; continue; } // already tridiagonal here
      const norm = Math.sqrt(x0 * x0 + rest2);
      const cr = x0 > 0 ? x0r / x0 : 1, ci = x0 > 0 ? x0i / x0 : 0;
      for (let i = k + 1; i < n; i++) { ur[i] = ar[i * n + k]!; ui[i] = ai[i * n + k]!; }
      ur[k + 1] = x0r + cr * norm; ui[k + 1] = x0i + ci * norm;
      offRe[k] = -cr * norm; offIm[k] = -ci * norm;
      const t = 1 / (norm * (norm + x0)); // 2 / ‖u‖², ‖u‖² = 2‖x‖² + 2|x_0|‖x‖
      tau[k] = t;
      // p = τ A u over the trailing block, from its lower triangle (A_ji = conj(A_ij))
      for (let i = k + 1; i < n; i++) { qr[i] = 0; qi[i] = 0; }
      for (let i = k + 1; i < n; i++) {
        let sr = 0, si = 0;
        const uir = ur[i]!, uii = ui[i]!;
        for (let j = k + 1, a = i * n + j; j < i; j++, a++) {
          const xr = ar[a]!, xi = ai[a]!;
          sr += xr * ur[j]! - xi * ui[j]!; si += xr * ui[j]! + xi * ur[j]!;
          qr[j] = qr[j]! + xr * uir + xi * uii; qi[j] = qi[j]! + xr * uii - xi * uir;
        }
        const diag = ar[i * n + i]!;
        qr[i] = qr[i]! + sr + diag * uir; qi[i] = qi[i]! + si + diag * uii;
      }
      // uᴴp (real, A being Hermitian); q = p − (τ/2)(uᴴp) u;  A ← A − u qᴴ − q uᴴ (lower triangle)
      let up = 0;
      for (let i = k + 1; i < n; i++) {
        qr[i] = t * qr[i]!; qi[i] = t * qi[i]!;
        up += ur[i]! * qr[i]! + ui[i]! * qi[i]!;
      }
      const half = (t / 2) * up;
      for (let i = k + 1; i < n; i++) { qr[i] = qr[i]! - half * ur[i]!; qi[i] = qi[i]! - half * ui[i]!; }
      for (let i = k + 1; i < n; i++) {
        const uir = ur[i]!, uii = ui[i]!, qir = qr[i]!, qii = qi[i]!;
        for (let j = k + 1, a = i * n + j; j <= i; j++, a++) {
          const ujr = ur[j]!, uji = ui[j]!, qjr = qr[j]!, qji = qi[j]!;
          ar[a] = ar[a]! - (uir * qjr + uii * qji + qir * ujr + qii * uji);
          ai[a] = ai[a]! - (uii * qjr - uir * qji + qii * ujr - qir * uji);
        }
      }
      for (let j = k + 1; j < n; j++) { ar[k * n + j] = ur[j]!; ai[k * n + j] = ui[j]!; }
    }
    if (n >= 2) { offRe[n - 2] = ar[(n - 1) * n + n - 2]!; offIm[n - 2] = ai[(n - 1) * n + n - 2]!; }
    for (let i = 0; i < n; i++) d[i] = ar[i * n + i]!;
    // D: d_0 = 1, d_{k+1} = d_k · t_k / |t_k|, so that conj(d_{k+1}) t_k d_k = |t_k|
    phase[0] = 1; phase[1] = 0;
    for (let k = 0; k + 1 < n; k++) {
      const m = Math.hypot(offRe[k]!, offIm[k]!);
      const sr = m > 0 ? offRe[k]! / m : 1, si = m > 0 ? offIm[k]! / m : 0;
      const dr = phase[2 * k]!, di = phase[2 * k + 1]!;
      phase[2 * k + 2] = dr * sr - di * si;
      phase[2 * k + 3] = dr * si + di * sr;
      e[k] = m;
    }
  }
}

/** The plane rotations of one QL run, in order: rotation r mixes slots index[r] and index[r] + 1. */
class Rotations {
  length = 0;
  index = new Int32Array(64);
  c = new Float64Array(64);
  s = new Float64Array(64);

  push(i: number, c: number, s: number): void {
    if (this.length === this.index.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(2 * a.length); b.set(a); return b; };
      this.index = grow(this.index); this.c = grow(this.c); this.s = grow(this.s);
    }
    this.index[this.length] = i; this.c[this.length] = c; this.s[this.length] = s;
    this.length++;
  }

  /**
   * Eigenvectors of the tridiagonal: each column of w (n × m, row-major) holds a
   * unit vector e_slot and becomes that slot's row of Zᵀ = G_R ⋯ G_1, by applying
   * the rotations from the last to the first, each mixing two rows of w.
   */
  applyTransposed(w: Float64Array, m: number): void {
    const { index, c, s } = this;
    for (let r = this.length - 1; r >= 0; r--) {
      const a = index[r]! * m, b = a + m, cr = c[r]!, sr = s[r]!;
      for (let j = 0; j < m; j++) {
        const wa = w[a + j]!, wb = w[b + j]!;
        w[a + j] = cr * wa + sr * wb;
        w[b + j] = cr * wb - sr * wa;
      }
    }
  }
}

/** √(a² + b²) without overflow or underflow (LAPACK's dlapy2; Math.hypot is several times slower). */
function pythag(a: number, b: number): number {
  a = Math.abs(a); b = Math.abs(b);
  const big = a > b ? a : b, small = a > b ? b : a;
  if (big === 0) return 0;
  const t = small / big;
  return big * Math.sqrt(1 + t * t);
}

/**
 * Implicit QL with Wilkinson shifts on the real symmetric tridiagonal (d, e),
 * in place: d becomes the eigenvalues (unsorted). The rotations are recorded
 * rather than accumulated into Z, so that forming only the m eigenvectors a
 * caller wants costs O(m) per rotation instead of the O(n) of accumulating all.
 */
function diagonaliseTridiagonal(d: Float64Array, e: Float64Array, n: number, rotations: Rotations): void {
  rotations.length = 0;
  e[n - 1] = 0;
  // an off-diagonal entry below ε‖T‖ splits T (EISPACK's test; relative to the two
  // diagonal entries alone, a cluster of eigenvalues at round-off level never splits)
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]!) + Math.abs(e[i]!) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
  const small = Number.EPSILON * norm;
  for (let l = 0; l < n; l++) {
    for (let sweep = 0; ; sweep++) {
      let m = l;
      for (; m < n - 1; m++) if (Math.abs(e[m]!) <= small) break;
      if (m === l) break;
      if (sweep === MAX_SWEEPS) throw new ModlError(`the eigen-decomposition did not converge (eigenvalue ${l} of ${n})`);
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = pythag(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i]!, b = c * e[i]!;
        r = pythag(f, g);
        e[i + 1] = r;
        if (r === 0) { d[i + 1] = d[i + 1]! - p; e[m] = 0; break; }
        s = f / r; c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        rotations.push(i, c, s);
      }
      if (r === 0 && i >= l) continue;
      d[l] = d[l]! - p; e[l] = g; e[m] = 0;
    }
  }
}
