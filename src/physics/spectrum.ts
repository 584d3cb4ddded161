/**
 * How a scan's energy spreads over k-space: the mean power in bands of
 * normalised radius r = √((k_y/K_y)² + (k_x/K_x)²), K the Nyquist frequency of
 * each axis (r = 1 at the edge midpoints, √2 in the corners), relative to the
 * mean power over the whole k-space. A simulated training image whose profile
 * falls below a real scan's at large r lacks the detail (edges) the scan has there.
 */
import { fft2c } from './fft.js';
import type { CArray } from './complex.js';

/** Band edges of r used by the training-data report (pipelines/training-spectra.ts). */
export const SPECTRUM_BANDS = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.1, 1.5] as const;

/**
 * The profile of centred k-space [..., H, W] (all leading slices, e.g. coils, pooled).
 * With a sampling mask [H, W], only sampled points are averaged: for an
 * undersampled scan, an estimate of the fully sampled profile.
 */
export function radialPowerProfile(kspace: CArray, edges: readonly number[] = SPECTRUM_BANDS, mask?: Float32Array): number[] {
  const H = kspace.shape[kspace.shape.length - 2]!, W = kspace.shape[kspace.shape.length - 1]!;
  if (mask && mask.length !== H * W) throw new Error(`radialPowerProfile: mask of ${mask.length} points for a ${H}×${W} k-space`);
  const bands = edges.length - 1;
  const band = new Int32Array(H * W).fill(-1);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const r = Math.hypot((y - Math.floor(H / 2)) / (H / 2), (x - Math.floor(W / 2)) / (W / 2));
      for (let b = 0; b < bands; b++) if (r >= edges[b]! && r < edges[b + 1]!) { band[y * W + x] = b; break; }
    }
  }
  const power = new Float64Array(bands), sampled = new Float64Array(bands), points = new Float64Array(bands);
  const n = H * W;
  for (let i = 0; i < n; i++) if (band[i]! >= 0) points[band[i]!]++;
  for (let off = 0; off < kspace.data.length; off += 2 * n) {
    for (let i = 0; i < n; i++) {
      const b = band[i]!;
      if (b < 0 || (mask && mask[i] === 0)) continue;
      power[b] += kspace.data[off + 2 * i]! ** 2 + kspace.data[off + 2 * i + 1]! ** 2;
      sampled[b]++;
    }
  }
  const density = Array.from(power, (p, b) => (sampled[b]! > 0 ? p / sampled[b]! : 0));
  // the whole k-space's mean power, estimated band by band
  let total = 0, count = 0;
  density.forEach((d, b) => { total += d * points[b]!; count += points[b]!; });
  const mean = total / count;
  return density.map((d) => (mean > 0 ? d / mean : 0));
}

/** The profile of a real image [H, W] (a magnitude image, say). */
export function imagePowerProfile(image: Float32Array, H: number, W: number, edges: readonly number[] = SPECTRUM_BANDS): number[] {
  const x = new Float32Array(2 * H * W);
  for (let i = 0; i < H * W; i++) x[2 * i] = image[i]!;
  return radialPowerProfile(fft2c({ data: x, shape: [H, W] }), edges);
}
