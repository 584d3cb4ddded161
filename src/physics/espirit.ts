/**
 * ESPIRiT coil sensitivities (Uecker et al., MRM 71:990, 2014), as `bart ecalib` computes them.
 *
 * 1. Calibration: every kh×kw patch of the fully sampled centre, over all coils,
 *    is one row of the block-Hankel calibration matrix A. Its singular vectors
 *    with σ/σmax > √threshold (`ecalib -t`) span the signal subspace, the span
 *    of the patches; P is the projector onto it (the kernels' Gram matrix).
 * 2. Image-domain operator: at pixel x, G(x) = (1/M) Eₓᴴ P Eₓ (M = kh·kw), where
 *    Eₓ s puts the coil vector s through the phase ramp of position x on every
 *    tap. G's entries are trigonometric polynomials: the DFT of P summed along
 *    tap differences d ∈ (−k, k). They are evaluated at full resolution by one
 *    inverse FFT per coil pair of that small spectrum, which is what BART's
 *    low-resolution covariance plus sinc interpolation computes.
 * 3. Per pixel, the coil sensitivities are the eigenvector of G(x) with
 *    eigenvalue ≈ 1; pixels whose eigenvalue is at most `crop` are zeroed
 *    (`ecalib -c`). Each map's phase is rotated so that its projection onto the
 *    calibration data's first principal coil component is real and positive
 *    (BART's rotphase), which makes the maps smooth and reproducible.
 *
 * The Hermitian eigenproblems are solved in complex arithmetic (hermitian-eigen.ts).
 */
import { CArray, czeros } from './complex.js';
import { fft2Plan } from './fft.js';
import { CalibSize, calibrationRegion } from './calib.js';
import { pixelEigenvectors, preparePixelEigenvectors } from './espirit-pixel.js';
import { eigKernels, hermitianEigen } from './hermitian-eigen.js';
import { ensureMemory, heapStart } from './wasm-module.js';
import { ModlError } from '../util/errors.js';

export interface EspiritOptions {
  /** Largest calibration region (square side or [rows, cols]); the fully sampled part is used. BART: -r 24. */
  calib?: number | CalibSize;
  /** Kernel size (square side or [rows, cols]). BART: -k 6. */
  kernel?: number | CalibSize;
  /** Keep singular vectors with (σ/σmax)² > threshold. BART: -t 0.001. */
  threshold?: number;
  /** Zero the maps where the eigenvalue is ≤ crop. BART: -c 0.8. */
  crop?: number;
  /** Sets of maps: 1, or 2 for objects larger than the field of view. BART's default is 2; ours 1. */
  maps?: 1 | 2;
}

export interface EspiritResult {
  /** [C, H, W] for one set, [2, C, H, W] for two. Σ_c |S_c|² = 1 where not cropped. */
  maps: CArray;
  /** Eigenvalue of each map per pixel, [maps, H, W] (before cropping). */
  eigenvalues: Float32Array;
  calibSize: CalibSize;
  kernelSize: CalibSize;
  /** Singular values of the calibration matrix, largest first. */
  singularValues: Float64Array;
  /** How many singular vectors span the signal subspace. */
  signalRank: number;
}

const asSize = (v: number | CalibSize): CalibSize => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** ESPIRiT maps from undersampled multi-coil k-space [C, H, W] with a fully sampled centre. */
export function espiritMaps(kspace: CArray, opts: EspiritOptions = {}): EspiritResult {
  const kernel = asSize(opts.kernel ?? 6);
  const limit = asSize(opts.calib ?? 24);
  if (limit[0] < kernel[0] || limit[1] < kernel[1]) {
    throw new ModlError(`calibration size ${limit[0]}×${limit[1]} is smaller than the ${kernel[0]}×${kernel[1]} ESPIRiT kernel`);
  }
  const { calib } = calibrationRegion(kspace, limit, kernel);
  const [, H, W] = kspace.shape as [number, number, number];
  return espiritFromCalibration(calib, H, W, opts);
}

/** ESPIRiT maps at H×W from a calibration block [C, h, w] (fully sampled, centred k-space). */
export function espiritFromCalibration(calib: CArray, H: number, W: number, opts: EspiritOptions = {}): EspiritResult {
  const kernel = asSize(opts.kernel ?? 6);
  const threshold = opts.threshold ?? 0.001;
  const crop = opts.crop ?? 0.8;
  const nMaps = opts.maps ?? 1;
  const [C, h, w] = calib.shape as [number, number, number];
  checkOptions(C, h, w, H, W, kernel, threshold, crop, nMaps);
  preparePixelEigenvectors(H, W);

  const { projector, singularValues, rank } = signalSubspace(calib, kernel, threshold);
  const operator = imageDomainOperator(projector, C, kernel, H, W);
  const { vectors, values } = pixelEigenvectors(operator, C, H, W, nMaps);
  alignPhase(vectors, principalCoilComponent(calib), nMaps, C, H * W);
  cropMaps(vectors, values, crop, nMaps, C, H * W);
  return {
    maps: { data: vectors, shape: nMaps === 1 ? [C, H, W] : [nMaps, C, H, W] },
    eigenvalues: values,
    calibSize: [h, w],
    kernelSize: kernel,
    singularValues,
    signalRank: rank,
  };
}

function checkOptions(
  C: number, h: number, w: number, H: number, W: number, kernel: CalibSize, threshold: number, crop: number, maps: number,
): void {
  const [kh, kw] = kernel;
  if (!(Number.isInteger(kh) && Number.isInteger(kw) && kh >= 1 && kw >= 1)) throw new ModlError(`ESPIRiT kernel ${kh}×${kw} must be positive integers`);
  if (kh > h || kw > w) throw new ModlError(`ESPIRiT kernel ${kh}×${kw} is larger than the ${h}×${w} calibration region`);
  if (2 * kh - 1 > H || 2 * kw - 1 > W) throw new ModlError(`ESPIRiT kernel ${kh}×${kw} is too large for the ${H}×${W} image`);
  if (!(threshold >= 0 && threshold < 1)) throw new ModlError(`ESPIRiT threshold ${threshold} must be in [0, 1)`);
  if (!(crop >= 0 && crop < 1)) throw new ModlError(`ESPIRiT crop ${crop} must be in [0, 1)`);
  if (maps !== 1 && maps !== 2) throw new ModlError(`ESPIRiT maps must be 1 or 2, got ${maps}`);
  if (maps > C) throw new ModlError(`${maps} ESPIRiT maps need at least ${maps} coils, the data has ${C}`);
}

/**
 * The signal subspace of the calibration matrix: its projector P (complex
 * N×N, N = C·kh·kw, index (c·kh + ty)·kw + tx), all singular values, and its rank.
 *
 * With the patches p as the columns of B (N × rows), the signal subspace is the
 * dominant eigenspace of B Bᴴ = Σ p pᴴ (= conj(AᴴA)). When there are fewer patches
 * than kernel entries (many coils), the smaller B Bᴴ-equivalent problem BᴴB is
 * solved instead: BᴴB u = λu gives B Bᴴ w = λw with w = Bu/√λ, the same subspace.
 */
export function signalSubspace(
  calib: CArray, kernel: CalibSize, threshold: number,
): { projector: { re: Float64Array; im: Float64Array }; singularValues: Float64Array; rank: number } {
  const [C, h, w] = calib.shape as [number, number, number];
  const [kh, kw] = kernel;
  const N = C * kh * kw;
  const rows = (h - kh + 1) * (w - kw + 1);
  // B, row-major N × rows (float64): entry (c, ty, tx) of every patch
  const br = new Float64Array(N * rows), bi = new Float64Array(N * rows);
  let r = 0;
  for (let y = 0; y + kh <= h; y++) {
    for (let x = 0; x + kw <= w; x++, r++) {
      for (let c = 0; c < C; c++) {
        for (let ty = 0; ty < kh; ty++) {
          for (let tx = 0; tx < kw; tx++) {
            const src = 2 * ((c * h + y + ty) * w + x + tx);
            const j = ((c * kh + ty) * kw + tx) * rows + r;
            br[j] = calib.data[src]!;
            bi[j] = calib.data[src + 1]!;
          }
        }
      }
    }
  }
  const small = rows < N; // then solve with BᴴB
  const n = small ? rows : N;
  const [gr, gi] = small ? gram(transpose(br, N, rows), transpose(bi, N, rows, -1), rows, N) : gram(br, bi, N, rows);
  // σ = √λ, zero beyond rank(B); the signal subspace: σ/σmax > √threshold
  const singularValues = new Float64Array(N);
  let rank = 0;
  const eig = hermitianEigen(gr, gi, n, (values) => {
    for (let j = 0; j < n; j++) singularValues[j] = Math.sqrt(Math.max(values[j]!, 0));
    if (!(singularValues[0]! > 0)) throw new ModlError('the calibration region holds no signal (all zero)');
    const cut = Math.sqrt(threshold);
    while (rank < n && singularValues[rank]! / singularValues[0]! > cut) rank++;
    return rank;
  });

  // the rank leading eigenvectors as complex N-vectors w_j (columns of wr/wi, N × rank)
  let wr = eig.re, wi = eig.im;
  if (small) {
    wr = new Float64Array(N * rank); wi = new Float64Array(N * rank);
    for (let j = 0; j < rank; j++) {
      const scale = 1 / singularValues[j]!;
      for (let a = 0; a < N; a++) {
        let sr = 0, si = 0;
        for (let q = 0; q < rows; q++) {
          const xr = br[a * rows + q]!, xi = bi[a * rows + q]!, ur = eig.re[q * rank + j]!, ui = eig.im[q * rank + j]!;
          sr += xr * ur - xi * ui;
          si += xr * ui + xi * ur;
        }
        wr[a * rank + j] = sr * scale; wi[a * rank + j] = si * scale;
      }
    }
  }
  // P = Σ_j w_j w_jᴴ, whichever orthonormal basis of the eigenspace was returned
  const [pr, pi] = gram(wr, wi, N, rank);
  return { projector: { re: pr, im: pi }, singularValues, rank };
}

/** X Xᴴ for X row-major rows × cols (re, im): a Hermitian rows × rows matrix (in wasm/eig.c where it runs). */
export function gram(xr: Float64Array, xi: Float64Array, rows: number, cols: number): [Float64Array, Float64Array] {
  const k = eigKernels();
  if (!k) return gramJs(xr, xi, rows, cols);
  const n = rows * cols, m = rows * rows, at = heapStart(k);
  ensureMemory(k.memory, at + 16 * (n + m));
  const memory = new Float64Array(k.memory.buffer, at, 2 * (n + m));
  memory.set(xr);
  memory.set(xi, n);
  k.gram(at, at + 8 * n, rows, cols, at + 16 * n, at + 16 * n + 8 * m);
  return [memory.slice(2 * n, 2 * n + m), memory.slice(2 * n + m)];
}

/** gram's TypeScript reference. */
function gramJs(xr: Float64Array, xi: Float64Array, rows: number, cols: number): [Float64Array, Float64Array] {
  const gr = new Float64Array(rows * rows), gi = new Float64Array(rows * rows);
  for (let a = 0; a < rows; a++) {
    for (let b = a; b < rows; b++) {
      let sr = 0, si = 0;
      const ja = a * cols, jb = b * cols;
      for (let q = 0; q < cols; q++) {
        const ar = xr[ja + q]!, ai = xi[ja + q]!, br = xr[jb + q]!, bi = xi[jb + q]!;
        sr += ar * br + ai * bi; // x_a conj(x_b)
        si += ai * br - ar * bi;
      }
      gr[a * rows + b] = sr; gi[a * rows + b] = si;
      gr[b * rows + a] = sr; gi[b * rows + a] = -si;
    }
  }
  return [gr, gi];
}

/** The transpose of a row-major rows × cols matrix, times `sign` (−1 on the imaginary part gives Xᴴ). */
function transpose(x: Float64Array, rows: number, cols: number, sign = 1): Float64Array {
  const t = new Float64Array(x.length);
  for (let a = 0; a < rows; a++) for (let q = 0; q < cols; q++) t[q * rows + a] = sign * x[a * cols + q]!;
  return t;
}

/** Index of the coil pair (c1 ≥ c2) in the packed lower triangle. */
export const pairIndex = (c1: number, c2: number): number => (c1 * (c1 + 1)) / 2 + c2;

/**
 * G(x) for every pixel: the lower triangle (c1 ≥ c2) of each coil pair as a
 * complex image, [C(C+1)/2, H, W]. G_{c1c2}(x) = Σ_d R_{c1c2}[d] e^{+2πi d·x/N},
 * R_{c1c2}[d] = (1/M) Σ_{t−t'=d} P[(c1,t),(c2,t')], x and d centred.
 */
export function imageDomainOperator(P: { re: Float64Array; im: Float64Array }, C: number, kernel: CalibSize, H: number, W: number): CArray {
  const [kh, kw] = kernel;
  const N = C * kh * kw, M = kh * kw;
  const out = czeros([(C * (C + 1)) / 2, H, W]);
  const plan = fft2Plan(H, W);
  const scale = Math.sqrt(H * W) / M; // ifft2c is unitary; the sum above is not
  const cy = H >> 1, cx = W >> 1;
  for (let c1 = 0; c1 < C; c1++) {
    for (let c2 = 0; c2 <= c1; c2++) {
      const off = 2 * pairIndex(c1, c2) * H * W;
      const g = out.data;
      for (let ty = 0; ty < kh; ty++) for (let tx = 0; tx < kw; tx++) {
        const a = (c1 * kh + ty) * kw + tx;
        for (let uy = 0; uy < kh; uy++) for (let ux = 0; ux < kw; ux++) {
          const b = (c2 * kh + uy) * kw + ux;
          const i = off + 2 * ((cy + ty - uy) * W + cx + tx - ux);
          g[i] += P.re[a * N + b]! * scale;
          g[i + 1] += P.im[a * N + b]! * scale;
        }
      }
      plan.apply(g, off, g, off, true);
    }
  }
  return out;
}

/** The calibration data's first principal component over coils (BART's `scc` rotation), unit norm. */
export function principalCoilComponent(calib: CArray): Float64Array {
  const [C, h, w] = calib.shape as [number, number, number];
  const n = h * w, d = calib.data;
  const yr = Float64Array.from({ length: C * n }, (_, i) => d[2 * i]!);
  const yi = Float64Array.from({ length: C * n }, (_, i) => d[2 * i + 1]!);
  const [re, im] = gram(yr, yi, C, n); // Σ y yᴴ over the calibration samples
  const eig = hermitianEigen(re, im, C, 1);
  // The eigenvector's phase is arbitrary; LAPACK's Hermitian solver, and so BART, returns
  // it with the last entry real (positive on the reference data). Doing the same
  // reproduces BART's maps' phase.
  const lr = eig.re[C - 1]!, li = eig.im[C - 1]!;
  const lm = Math.hypot(lr, li) || 1;
  const pr = lr / lm, pi = -li / lm;
  const v = new Float64Array(2 * C);
  for (let c = 0; c < C; c++) {
    const a = eig.re[c]!, b = eig.im[c]!;
    v[2 * c] = a * pr - b * pi;
    v[2 * c + 1] = a * pi + b * pr;
  }
  return v;
}

/** Rotates each pixel's map so that Σ_c conj(ref_c)·S_c is real and positive. */
function alignPhase(maps: Float32Array, ref: Float64Array, nMaps: number, C: number, n: number): void {
  for (let m = 0; m < nMaps; m++) {
    const base = m * C * n;
    for (let i = 0; i < n; i++) {
      let pr = 0, pi = 0;
      for (let c = 0; c < C; c++) {
        const k = 2 * (base + c * n + i);
        const sr = maps[k]!, si = maps[k + 1]!, rr = ref[2 * c]!, ri = ref[2 * c + 1]!;
        pr += rr * sr + ri * si;
        pi += rr * si - ri * sr;
      }
      const mag = Math.hypot(pr, pi);
      if (mag === 0) continue;
      const cr = pr / mag, ci = -pi / mag; // conj of the projection's phase
      for (let c = 0; c < C; c++) {
        const k = 2 * (base + c * n + i);
        const sr = maps[k]!, si = maps[k + 1]!;
        maps[k] = sr * cr - si * ci;
        maps[k + 1] = sr * ci + si * cr;
      }
    }
  }
}

/** Zeroes each map where its eigenvalue is ≤ crop (BART's hard crop). */
function cropMaps(maps: Float32Array, values: Float32Array, crop: number, nMaps: number, C: number, n: number): void {
  for (let m = 0; m < nMaps; m++) {
    for (let i = 0; i < n; i++) {
      if (values[m * n + i]! > crop) continue;
      for (let c = 0; c < C; c++) {
        const k = 2 * ((m * C + c) * n + i);
        maps[k] = 0;
        maps[k + 1] = 0;
      }
    }
  }
}
