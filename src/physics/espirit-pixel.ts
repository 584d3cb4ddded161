/**
 * The per-pixel step of ESPIRiT: the dominant eigenvectors of the small
 * Hermitian C×C operator G(x) at every pixel.
 *
 * Each G(x) is decomposed exactly (Householder + QL, hermitian-eigen.ts):
 * about 8k floating-point operations per pixel for C = 8, fewer than the 30
 * steps of orthogonal iteration that `bart ecalib` runs (18k for one map, 40k
 * for two), and exact also where the top eigenvalues are close, in the
 * background that the crop removes. The loop runs in WebAssembly (wasm/eig.c,
 * the same algorithm) where it can, in TypeScript otherwise (MODL_KERNELS=js),
 * its pixels split over the physics threads (sense-parallel.ts) where there are
 * several and enough pixels.
 */
import { CArray } from './complex.js';
import { eigKernels, HermitianEigenSolver, type EigExports } from './hermitian-eigen.js';
import { ModlError } from '../util/errors.js';
import { physicsParts, runEigenJob, startPhysicsThreads } from './sense-parallel.js';
import { ensureMemory, heapStart } from './wasm-module.js';

/** Below this many pixels, waking the worker threads costs more than it saves. */
const MIN_PARALLEL_PIXELS = 1 << 14;

function splitsOverThreads(pixels: number): boolean {
  return physicsParts() > 1 && pixels >= MIN_PARALLEL_PIXELS && eigKernels() !== null;
}

/** Starts the threads that pixelEigenvectors at H×W will use, so that they start while the caller works on. */
export function preparePixelEigenvectors(H: number, W: number): void {
  if (splitsOverThreads(H * W)) startPhysicsThreads();
}

/**
 * Top `nMaps` eigenvectors (unit norm, arbitrary phase) and eigenvalues of G(x),
 * given as its packed lower triangle [C(C+1)/2, H, W] (pair (c1 ≥ c2) at c1(c1+1)/2 + c2).
 * Returns vectors [nMaps, C, H, W] (interleaved complex) and values [nMaps, H, W].
 */
export function pixelEigenvectors(
  operator: CArray, C: number, H: number, W: number, nMaps: number,
): { vectors: Float32Array; values: Float32Array } {
  const n = H * W, parts = physicsParts(), split = splitsOverThreads(n);
  // the threads share the operator and the outputs
  const array = (length: number) => new Float32Array(split ? new SharedArrayBuffer(4 * length) : new ArrayBuffer(4 * length));
  const vectors = array(2 * nMaps * C * n), values = array(nMaps * n);
  let failed: number | null;
  if (split) {
    const g = array(operator.data.length);
    g.set(operator.data);
    let mainFailed: number | null = null;
    const workerFailed = runEigenJob(
      { C, npix: n, maps: nMaps, g: g.buffer as SharedArrayBuffer, vectors: vectors.buffer as SharedArrayBuffer, values: values.buffer as SharedArrayBuffer },
      () => { mainFailed = pixelEigenvectorsPart(g, C, n, nMaps, 0, parts, vectors, values); },
    );
    failed = mainFailed ?? workerFailed;
  } else {
    failed = pixelEigenvectorsPart(operator.data, C, n, nMaps, 0, 1, vectors, values);
  }
  if (failed !== null) throw new ModlError(`ESPIRiT: the eigen-decomposition did not converge at pixel ${failed}`);
  return split ? { vectors: vectors.slice(), values: values.slice() } : { vectors, values };
}

/**
 * Part `part` of `parts` (a contiguous range of pixels) of pixelEigenvectors,
 * written into the full-size `vectors` and `values`; returns null, or the first
 * pixel whose decomposition did not converge.
 */
export function pixelEigenvectorsPart(
  g: Float32Array, C: number, n: number, nMaps: number, part: number, parts: number, vectors: Float32Array, values: Float32Array,
): number | null {
  const start = Math.floor((part * n) / parts), end = Math.floor(((part + 1) * n) / parts);
  const kernels = eigKernels();
  return kernels ? partWasm(kernels, g, C, n, nMaps, start, end, vectors, values) : partTs(g, C, n, nMaps, start, end, vectors, values);
}

function partTs(g: Float32Array, C: number, n: number, nMaps: number, start: number, end: number, vectors: Float32Array, values: Float32Array): number | null {
  const gr = new Float64Array(C * C), gi = new Float64Array(C * C);
  const solver = new HermitianEigenSolver(C);
  for (let p = start; p < end; p++) {
    // unpack G(x) into a full Hermitian matrix
    for (let c1 = 0, k = 0; c1 < C; c1++) {
      for (let c2 = 0; c2 <= c1; c2++, k++) {
        const re = g[2 * (k * n + p)]!, im = g[2 * (k * n + p) + 1]!;
        gr[c1 * C + c2] = re; gi[c1 * C + c2] = im;
        gr[c2 * C + c1] = re; gi[c2 * C + c1] = -im;
      }
      gi[c1 * C + c1] = 0;
    }
    let eig;
    try {
      eig = solver.decompose(gr, gi, nMaps);
    } catch (e) {
      if (e instanceof ModlError) return p; // QL did not converge
      throw e;
    }
    for (let m = 0; m < nMaps; m++) {
      values[m * n + p] = eig.values[m]!;
      for (let c = 0; c < C; c++) {
        const k = 2 * ((m * C + c) * n + p);
        vectors[k] = eig.re[c * nMaps + m]!;
        vectors[k + 1] = eig.im[c * nMaps + m]!;
      }
    }
  }
  return null;
}

/** The same pixels in WebAssembly: their rows of the operator copied into the module's memory, the results copied out. */
function partWasm(
  eig: EigExports, g: Float32Array, C: number, n: number, nMaps: number, start: number, end: number, vectors: Float32Array, values: Float32Array,
): number | null {
  const K = (C * (C + 1)) / 2, len = end - start;
  if (len <= 0) return null;
  const work = heapStart(eig);
  const gAt = work + ((eig.eigenWorkBytes(C, nMaps) + 15) & ~15);
  const vectorsAt = gAt + 4 * 2 * K * len, valuesAt = vectorsAt + 4 * 2 * nMaps * C * len;
  ensureMemory(eig.memory, valuesAt + 4 * nMaps * len);
  const rows = new Float32Array(eig.memory.buffer, gAt, 2 * K * len);
  for (let k = 0; k < K; k++) rows.set(g.subarray(2 * (k * n + start), 2 * (k * n + end)), 2 * k * len);
  const status = eig.pixelEigenvectors(gAt, C, len, nMaps, vectorsAt, valuesAt, work);
  if (status !== 0) return start - status - 1;
  const v = new Float32Array(eig.memory.buffer, vectorsAt, 2 * nMaps * C * len), l = new Float32Array(eig.memory.buffer, valuesAt, nMaps * len);
  for (let q = 0; q < nMaps * C; q++) vectors.set(v.subarray(2 * q * len, 2 * (q + 1) * len), 2 * (q * n + start));
  for (let m = 0; m < nMaps; m++) values.set(l.subarray(m * len, (m + 1) * len), m * n + start);
  return null;
}
