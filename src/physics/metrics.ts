/**
 * Image quality metrics with exactly the scikit-image / fastMRI definitions,
 * computed in float64 on real (magnitude) images:
 * - PSNR = 10·log10(R² / MSE), R = data range (fastMRI: the reference's maximum);
 * - SSIM: skimage `structural_similarity` defaults: 7×7 uniform window, K1 0.01,
 *   K2 0.03, sample covariance (N/(N−1)), mean over the interior that skimage
 *   keeps after cropping (win−1)/2 pixels on every side;
 * - NMSE = ‖ref − x‖² / ‖ref‖² (fastMRI).
 */

export function maxOf(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  return m;
}

function checkSameLength(ref: ArrayLike<number>, x: ArrayLike<number>): void {
  if (ref.length !== x.length) throw new Error(`metric inputs differ in size: ${ref.length} vs ${x.length}`);
}

export function mse(ref: ArrayLike<number>, x: ArrayLike<number>): number {
  checkSameLength(ref, x);
  let s = 0;
  for (let i = 0; i < ref.length; i++) s += (ref[i]! - x[i]!) ** 2;
  return s / ref.length;
}

export function psnr(ref: ArrayLike<number>, x: ArrayLike<number>, dataRange = maxOf(ref)): number {
  return 10 * Math.log10((dataRange * dataRange) / mse(ref, x));
}

export function nmse(ref: ArrayLike<number>, x: ArrayLike<number>): number {
  checkSameLength(ref, x);
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (ref[i]! - x[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return num / den;
}

/** Mean SSIM of two H×W images (row-major). */
export function ssim(
  ref: ArrayLike<number>, x: ArrayLike<number>, H: number, W: number,
  dataRange = maxOf(ref), win = 7,
): number {
  checkSameLength(ref, x);
  if (ref.length !== H * W) throw new Error(`SSIM: ${ref.length} pixels is not ${H}×${W}`);
  if (H < win || W < win) throw new Error(`SSIM needs images of at least ${win}×${win}`);
  const C1 = (0.01 * dataRange) ** 2, C2 = (0.03 * dataRange) ** 2;
  const np = win * win;
  const covNorm = np / (np - 1);
  // Window sums via 2D prefix sums of x, y, x², y², xy (float64).
  const stride = W + 1;
  const P = Array.from({ length: 5 }, () => new Float64Array((H + 1) * stride));
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const a = ref[i * W + j]!, b = x[i * W + j]!;
      const v = [a, b, a * a, b * b, a * b];
      const o = (i + 1) * stride + j + 1;
      for (let k = 0; k < 5; k++) P[k]![o] = v[k]! + P[k]![o - 1]! + P[k]![o - stride]! - P[k]![o - stride - 1]!;
    }
  }
  const box = (p: Float64Array, i0: number, j0: number) =>
    (p[(i0 + win) * stride + j0 + win]! - p[i0 * stride + j0 + win]! - p[(i0 + win) * stride + j0]! + p[i0 * stride + j0]!) / np;
  let total = 0;
  let count = 0;
  // Windows fully inside the image: exactly the pixels skimage averages after its crop.
  for (let i0 = 0; i0 + win <= H; i0++) {
    for (let j0 = 0; j0 + win <= W; j0++) {
      const ux = box(P[0]!, i0, j0), uy = box(P[1]!, i0, j0);
      const vx = covNorm * (box(P[2]!, i0, j0) - ux * ux);
      const vy = covNorm * (box(P[3]!, i0, j0) - uy * uy);
      const vxy = covNorm * (box(P[4]!, i0, j0) - ux * uy);
      total += ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
      count++;
    }
  }
  return total / count;
}

export interface Metrics {
  psnr: number;
  ssim: number;
  nmse: number;
}

/** Whether SSIM's window fits an H×W image (where it does not, metrics report SSIM as NaN: not available). */
export function ssimDefined(H: number, W: number, win = 7): boolean {
  return H >= win && W >= win;
}

/** PSNR, SSIM and NMSE of a magnitude image against a reference, data range = max of the reference. */
export function imageMetrics(ref: ArrayLike<number>, x: ArrayLike<number>, H: number, W: number): Metrics {
  const range = maxOf(ref);
  return { psnr: psnr(ref, x, range), ssim: ssimDefined(H, W) ? ssim(ref, x, H, W, range) : NaN, nmse: nmse(ref, x) };
}

/** The mean of per-image metrics (slice means: what a table of per-slice scores averages). */
export function meanMetrics(ms: readonly Metrics[]): Metrics {
  const n = ms.length;
  return {
    psnr: ms.reduce((s, m) => s + m.psnr, 0) / n,
    ssim: ms.reduce((s, m) => s + m.ssim, 0) / n,
    nmse: ms.reduce((s, m) => s + m.nmse, 0) / n,
  };
}

/**
 * fastMRI's volume metrics: PSNR and NMSE over the whole volume, SSIM averaged
 * over slices, all with data range = the maximum of the reference volume.
 */
export function volumeMetrics(reference: Float32Array[], recon: Float32Array[], H: number, W: number): Metrics {
  const cat = (xs: Float32Array[]) => {
    const out = new Float32Array(xs.length * H * W);
    xs.forEach((x, i) => out.set(x, i * H * W));
    return out;
  };
  const ref = cat(reference), rec = cat(recon);
  const range = maxOf(ref);
  const s = ssimDefined(H, W) ? reference.reduce((acc, r, i) => acc + ssim(r, recon[i]!, H, W, range), 0) / reference.length : NaN;
  return { psnr: psnr(ref, rec, range), ssim: s, nmse: nmse(ref, rec) };
}
