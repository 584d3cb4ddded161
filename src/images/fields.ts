/**
 * Smooth random fields and image sampling helpers shared by the phantom, the
 * augmentation and the simulation (phase maps, elastic deformations).
 */
import { fft2Plan } from '../physics/fft.js';
import type { Rng } from '../util/random.js';

/**
 * A real, smooth Gaussian random field [H, W] with unit RMS: white noise kept
 * only at spatial frequencies up to `cycles` per field of view (Gaussian
 * roll-off), brought to image space by one inverse FFT. Larger `cycles` means
 * finer detail; 2-4 gives a few gentle undulations across the image.
 */
export function smoothRandomField(H: number, W: number, rng: Rng, cycles: number): Float32Array {
  const spectrum = new Float32Array(2 * H * W);
  const reach = Math.max(1, Math.ceil(2 * cycles));
  const cy = H >> 1, cx = W >> 1;
  for (let ky = -reach; ky <= reach; ky++) {
    for (let kx = -reach; kx <= reach; kx++) {
      const y = cy + ky, x = cx + kx;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      const weight = Math.exp(-(ky * ky + kx * kx) / (2 * cycles * cycles));
      spectrum[2 * (y * W + x)] = weight * rng.normal();
      spectrum[2 * (y * W + x) + 1] = weight * rng.normal();
    }
  }
  spectrum[2 * (cy * W + cx)] = spectrum[2 * (cy * W + cx) + 1] = 0; // zero mean
  fft2Plan(H, W).apply(spectrum, 0, spectrum, 0, true);
  const field = new Float32Array(H * W);
  let ss = 0;
  for (let i = 0; i < H * W; i++) {
    field[i] = spectrum[2 * i]!;
    ss += field[i]! * field[i]!;
  }
  const scale = ss > 0 ? 1 / Math.sqrt(ss / (H * W)) : 0;
  for (let i = 0; i < H * W; i++) field[i] *= scale;
  return field;
}

/** Bilinear sample of image [H, W] at (y, x) in pixel units; zero outside the image. */
export function bilinear(image: ArrayLike<number>, H: number, W: number, y: number, x: number): number {
  const y0 = Math.floor(y), x0 = Math.floor(x);
  const fy = y - y0, fx = x - x0;
  let v = 0;
  if (y0 >= 0 && y0 < H) {
    if (x0 >= 0 && x0 < W) v += (1 - fy) * (1 - fx) * image[y0 * W + x0]!;
    if (x0 + 1 >= 0 && x0 + 1 < W) v += (1 - fy) * fx * image[y0 * W + x0 + 1]!;
  }
  if (y0 + 1 >= 0 && y0 + 1 < H) {
    if (x0 >= 0 && x0 < W) v += fy * (1 - fx) * image[(y0 + 1) * W + x0]!;
    if (x0 + 1 >= 0 && x0 + 1 < W) v += fy * fx * image[(y0 + 1) * W + x0 + 1]!;
  }
  return v;
}

/** The p-th percentile (0-100) of the values, by sorting a copy. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float32Array.from(values).sort();
  const at = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[at]!;
}

/**
 * Scales an image in place so its p-th percentile is 1 (the max when that
 * percentile is 0, e.g. a small object on a large background); a blank image
 * is left as it is. Returns the scale applied.
 */
export function normalizePercentile(image: Float32Array, p = 99.5): number {
  let ref = percentile(image, p);
  if (!(ref > 0)) {
    ref = 0;
    for (let i = 0; i < image.length; i++) if (image[i]! > ref) ref = image[i]!;
  }
  if (!(ref > 0)) return 1;
  const s = 1 / ref;
  for (let i = 0; i < image.length; i++) image[i] *= s;
  return s;
}
