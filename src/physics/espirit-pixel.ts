/**
 * The per-pixel step of ESPIRiT: the dominant eigenvectors of the small
 * Hermitian C×C operator G(x) at every pixel.
 *
 * Each G(x) is decomposed exactly (Householder + QL, hermitian-eigen.ts):
 * about 8k floating-point operations per pixel for C = 8, fewer than the 30
 * steps of orthogonal iteration that `bart ecalib` runs (18k for one map, 40k
 * for two), and exact also where the top eigenvalues are close, in the
 * background that the crop removes. The loop runs in WebAssembly (wasm/eig.c,
 * the same algorithm) where it can, in TypeScript otherwise (MODL_KERNELS=js).
 */
import { CArray } from './complex.js';
import { eigKernels, HermitianEigenSolver, type EigExports } from './hermitian-eigen.js';
import { ModlError } from '../util/errors.js';
import { ensureMemory } from './wasm-module.js';

/**
 * Top `nMaps` eigenvectors (unit norm, arbitrary phase) and eigenvalues of G(x),
 * given as its packed lower triangle [C(C+1)/2, H, W] (pair (c1 ≥ c2) at c1(c1+1)/2 + c2).
 * Returns vectors [nMaps, C, H, W] (interleaved complex) and values [nMaps, H, W].
 */
export function pixelEigenvectors(
  operator: CArray, C: number, H: number, W: number, nMaps: number,
): { vectors: Float32Array; values: Float32Array } {
  const n = H * W;
  const g = operator.data;
  const kernels = eigKernels();
  if (kernels) return pixelEigenvectorsWasm(kernels, g, C, n, nMaps);
  const vectors = new Float32Array(2 * nMaps * C * n);
  const values = new Float32Array(nMaps * n);
  const gr = new Float64Array(C * C), gi = new Float64Array(C * C);
  const solver = new HermitianEigenSolver(C);

  for (let p = 0; p < n; p++) {
    // unpack G(x) into a full Hermitian matrix
    for (let c1 = 0, k = 0; c1 < C; c1++) {
      for (let c2 = 0; c2 <= c1; c2++, k++) {
        const re = g[2 * (k * n + p)]!, im = g[2 * (k * n + p) + 1]!;
        gr[c1 * C + c2] = re; gi[c1 * C + c2] = im;
        gr[c2 * C + c1] = re; gi[c2 * C + c1] = -im;
      }
      gi[c1 * C + c1] = 0;
    }
    const eig = solver.decompose(gr, gi, nMaps);
    for (let m = 0; m < nMaps; m++) {
      values[m * n + p] = eig.values[m]!;
      for (let c = 0; c < C; c++) {
        const k = 2 * ((m * C + c) * n + p);
        vectors[k] = eig.re[c * nMaps + m]!;
        vectors[k + 1] = eig.im[c * nMaps + m]!;
      }
    }
  }
  return { vectors, values };
}

/** The same loop in WebAssembly: operator, vectors, values and working memory in the module's memory. */
function pixelEigenvectorsWasm(eig: EigExports, g: Float32Array, C: number, n: number, nMaps: number): { vectors: Float32Array; values: Float32Array } {
  const work = (eig.__heap_base.value + 7) & ~7;
  const gAt = work + ((eig.eigenWorkBytes(C, nMaps) + 15) & ~15);
  const vectorsAt = gAt + 4 * g.length, valuesAt = vectorsAt + 4 * 2 * nMaps * C * n;
  ensureMemory(eig.memory, valuesAt + 4 * nMaps * n);
  new Float32Array(eig.memory.buffer, gAt, g.length).set(g);
  const status = eig.pixelEigenvectors(gAt, C, n, nMaps, vectorsAt, valuesAt, work);
  if (status !== 0) throw new ModlError(`ESPIRiT: the eigen-decomposition did not converge at pixel ${-status - 1}`);
  return {
    vectors: new Float32Array(eig.memory.buffer, vectorsAt, 2 * nMaps * C * n).slice(),
    values: new Float32Array(eig.memory.buffer, valuesAt, nMaps * n).slice(),
  };
}
