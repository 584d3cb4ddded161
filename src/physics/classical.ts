/**
 * Classical reconstructions of one slice from multi-coil k-space [C, H, W]:
 * zero-filled (the SENSE adjoint, or coil-wise inverse FFT + root-sum-of-squares
 * when no maps are known) and CG-SENSE (Pruessmann et al. 2001) with Tikhonov
 * regularisation, the baselines MoDL is compared against.
 */
import { CArray, czeros } from './complex.js';
import { conjugateGradient } from './cg.js';
import { ifft2c } from './fft.js';
import { SenseOp, checkSenseShapes } from './sense.js';
import { senseBatch } from './sense-parallel.js';

/** Root-sum-of-squares over the leading (coil) axis of [C, H, W] images: √Σ_c |x_c|². */
export function rss(coilImages: CArray): Float32Array {
  const [C, H, W] = coilImages.shape as [number, number, number];
  const n = H * W;
  const acc = new Float64Array(n);
  const d = coilImages.data;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < n; i++) {
      const re = d[2 * (c * n + i)]!, im = d[2 * (c * n + i) + 1]!;
      acc[i] += re * re + im * im;
    }
  }
  return Float32Array.from(acc, Math.sqrt);
}

/** The magnitude of a reconstruction: |x| for an image [H, W], the RSS over the map images of [S, H, W] (soft-SENSE, as BART's protocol). */
export function reconMagnitude(image: CArray): Float32Array {
  return rss(image.shape.length === 2 ? { data: image.data, shape: [1, ...image.shape] } : image);
}

/** Coil-wise inverse FFT of zero-filled k-space combined by root-sum-of-squares (magnitude). */
export function zeroFilledRss(kspace: CArray): Float32Array {
  return rss(ifft2c(kspace));
}

/** The SENSE adjoint Aᴴy = Σ_c conj(S_c) Fᴴ M y_c: the coil-combined zero-filled image. */
export function zeroFilledSense(kspace: CArray, maps: CArray, mask: Float32Array | null = null): CArray {
  checkSenseShapes(kspace, maps, mask);
  const op = new SenseOp(maps, mask);
  const x = czeros(op.imageShape);
  op.adjoint([kspace.data], x.data);
  return x;
}

export interface CgSenseOptions {
  /** Tikhonov weight λ in (AᴴA + λI)x = Aᴴy (AᴴA has spectrum in [0, 1] for normalised maps). */
  lambda?: number;
  iterations?: number;
  /** Relative residual at which to stop early (0: run all iterations, like `bart pics -i`). */
  tol?: number;
}

/** modl's CG-SENSE baseline: λ 0.001 (as `bart pics -l2 -r 0.001`), 30 iterations. */
export const CG_SENSE_DEFAULTS = { lambda: 0.001, iterations: 30 } as const;

/** CG-SENSE: argmin ‖Ax − y‖² + λ‖x‖², solved by conjugate gradient on the normal equations. */
export function cgSense(
  kspace: CArray, maps: CArray, mask: Float32Array | null, opts: CgSenseOptions = {},
): { image: CArray; iterations: number; relResidual: number } {
  checkSenseShapes(kspace, maps, mask);
  const op = new SenseOp(maps, mask);
  const A = senseBatch([op]);
  try {
    const b = new Float32Array(2 * op.sampleSize);
    A.adjoint([kspace.data], b);
    const res = conjugateGradient(A, b, { lambda: opts.lambda ?? CG_SENSE_DEFAULTS.lambda, maxIter: opts.iterations ?? CG_SENSE_DEFAULTS.iterations, tol: opts.tol ?? 0 });
    return { image: { data: res.x, shape: op.imageShape }, iterations: res.iterations[0]!, relResidual: res.relResidual[0]! };
  } finally {
    A.dispose();
  }
}
