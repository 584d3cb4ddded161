/**
 * Statistics the quality report compares between generated and real images:
 * intensity histograms, radially averaged power spectra, the spectral excess of
 * artefacts such as grids and stripes, and nearest-neighbour distances to the training set (a
 * generator that memorised its training images puts its samples much closer to
 * them than new real images are).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fft2Plan } from '../physics/fft.js';

/** Fraction of all pixels in each of `bins` equal bins over [lo, hi]; values outside are clamped into the end bins. */
export function histogram(images: ArrayLike<number>[], bins: number, [lo, hi]: [number, number] = [0, 1]): Float64Array {
  const h = new Float64Array(bins);
  let total = 0;
  for (const img of images) {
    for (let i = 0; i < img.length; i++) {
      const b = Math.floor(((img[i]! - lo) / (hi - lo)) * bins);
      h[b < 0 ? 0 : b >= bins ? bins - 1 : b]! += 1;
    }
    total += img.length;
  }
  for (let b = 0; b < bins; b++) h[b]! /= total || 1;
  return h;
}

/**
 * Earth mover's (Wasserstein-1) distance between two histograms on the same
 * bins over [lo, hi]: ∫|CDF_a − CDF_b|, in intensity units.
 */
export function histogramDistance(a: ArrayLike<number>, b: ArrayLike<number>, [lo, hi]: [number, number] = [0, 1]): number {
  const width = (hi - lo) / a.length;
  let ca = 0, cb = 0, d = 0;
  for (let i = 0; i < a.length; i++) {
    ca += a[i]!;
    cb += b[i]!;
    d += Math.abs(ca - cb) * width;
  }
  return d;
}

/** The mean 2D power spectrum |F|² of square S×S images (unitary centred FFT, DC at (S/2, S/2)). */
export function meanPowerSpectrum2d(images: ArrayLike<number>[], size: number): Float64Array {
  const plan = fft2Plan(size, size);
  const power = new Float64Array(size * size);
  const c = new Float32Array(2 * size * size);
  for (const img of images) {
    c.fill(0);
    for (let i = 0; i < size * size; i++) c[2 * i] = img[i]!;
    plan.apply(c, 0, c, 0, false);
    for (let i = 0; i < size * size; i++) power[i]! += (c[2 * i]! ** 2 + c[2 * i + 1]! ** 2) / images.length;
  }
  return power;
}

/**
 * A 2D power spectrum (meanPowerSpectrum2d) averaged over rings of integer
 * radius r = 0 … S/2 (frequency r/S cycles per pixel): the radially averaged
 * power spectrum. Parseval: Σ over all frequencies of |F|² = Σ x².
 */
export function radialAverage(power: Float64Array, size: number): Float64Array {
  const rings = size / 2 + 1;
  const sum = new Float64Array(rings), count = new Float64Array(rings);
  const mid = size >> 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.round(Math.hypot(y - mid, x - mid));
      if (r >= rings) continue;
      sum[r]! += power[y * size + x]!;
      count[r]! += 1;
    }
  }
  return sum.map((s, r) => s / count[r]!);
}

/** Mean |10·log10(a/b)| in dB over rings 1 … end (the DC ring left out). */
export function spectrumDistanceDb(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let r = 1; r < a.length; r++) s += Math.abs(10 * Math.log10(a[r]! / b[r]!));
  return s / (a.length - 1);
}

/**
 * Energy that images have and reference images lack, as artefacts such as
 * grids and stripes add it, from their mean 2D power spectra p and q
 * (meanPowerSpectrum2d): the largest ratio p/q over
 * frequencies outside the disc of radius S/16 around DC, at single frequencies
 * (a grid's peaks) and summed over 5×5 neighbourhoods (a stripe whose period
 * drifts from image to image spreads its energy over a band). New images of the
 * reference's kind give about 1, blur lowers it. The frequency is (vertical,
 * horizontal) in cycles/pixel.
 */
export function spectralExcess(p: Float64Array, q: Float64Array, size: number): { ratio: number; frequency: [number, number] } {
  const mid = size >> 1;
  const box = (power: Float64Array, y: number, x: number, r: number) => {
    let sum = 0;
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) sum += power[((y + dy + size) % size) * size + ((x + dx + size) % size)]!;
    return sum;
  };
  let best = { ratio: 0, frequency: [0, 0] as [number, number] };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (Math.hypot(y - mid, x - mid) < size / 16) continue;
      const ratio = Math.max(p[y * size + x]! / q[y * size + x]!, box(p, y, x, 2) / box(q, y, x, 2));
      if (ratio > best.ratio) best = { ratio, frequency: [(y - mid) / size, (x - mid) / size] };
    }
  }
  return best;
}

export interface Neighbours {
  /** RMS difference per pixel to the nearest reference image: ‖q − r‖₂ / √N. */
  distance: Float32Array;
  index: Int32Array;
}

/**
 * Nearest reference image of each query (L2), as ‖q‖² + ‖r‖² − 2 q·r with
 * tfjs matrix products in chunks. `exclude[i]` (optional) is a reference
 * index query i may not match (itself, for leave-one-out within one set).
 */
export function nearestNeighbours(
  queries: Float32Array, reference: Float32Array, pixels: number, exclude?: Int32Array, chunk = 256,
): Neighbours {
  const nq = queries.length / pixels, nr = reference.length / pixels;
  if (!Number.isInteger(nq) || !Number.isInteger(nr) || nr === 0) throw new Error('nearestNeighbours: sizes are not whole images');
  const distance = new Float32Array(nq).fill(Infinity), index = new Int32Array(nq).fill(-1);
  for (let q0 = 0; q0 < nq; q0 += chunk) {
    const qn = Math.min(chunk, nq - q0);
    const q = tf.tensor2d(queries.subarray(q0 * pixels, (q0 + qn) * pixels), [qn, pixels]);
    const qq = tf.tidy(() => tf.sum(tf.square(q), 1));
    for (let r0 = 0; r0 < nr; r0 += chunk) {
      const rn = Math.min(chunk, nr - r0);
      const d2 = tf.tidy(() => {
        const r = tf.tensor2d(reference.subarray(r0 * pixels, (r0 + rn) * pixels), [rn, pixels]);
        const rr = tf.sum(tf.square(r), 1);
        return tf.add(tf.sub(tf.reshape(qq, [qn, 1]), tf.mul(2, tf.matMul(q, r, false, true))), tf.reshape(rr, [1, rn])).dataSync();
      });
      for (let i = 0; i < qn; i++) {
        for (let j = 0; j < rn; j++) {
          if (exclude && exclude[q0 + i] === r0 + j) continue;
          const d = Math.sqrt(Math.max(0, d2[i * rn + j]!) / pixels);
          if (d < distance[q0 + i]!) { distance[q0 + i] = d; index[q0 + i] = r0 + j; }
        }
      }
    }
    tf.dispose([q, qq]);
  }
  return { distance, index };
}

export function median(values: ArrayLike<number>): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The p-th percentile (0-100), linear interpolation between order statistics. */
export function quantile(values: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return NaN;
  const x = (p / 100) * (s.length - 1), lo = Math.floor(x), hi = Math.ceil(x);
  return s[lo]! + (s[hi]! - s[lo]!) * (x - lo);
}
