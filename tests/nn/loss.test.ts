import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { imageLoss } from '../../src/nn/loss.js';
import { maxOf, ssim } from '../../src/physics/metrics.js';
import { Rng } from '../../src/util/random.js';

/** A smooth random complex image with edges, [H, W, 2] (so SSIM is far from 0 and 1). */
function image(rng: Rng, H: number, W: number, scale: number): Float32Array {
  const out = new Float32Array(H * W * 2);
  const [a, b, c] = [rng.next() * 6, rng.next() * 6, rng.next()];
  for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    const m = scale * (Math.abs(Math.sin(a * i / H) * Math.cos(b * j / W)) + (i > H / 3 && j < W / 2 ? 0.5 : 0) + 0.2 * rng.next());
    out[2 * (i * W + j)] = m * Math.cos(c + i / H);
    out[2 * (i * W + j) + 1] = m * Math.sin(c + i / H);
  }
  return out;
}

/** Root-sum-of-squares magnitude of sample b's S map images in [B·S, H, W, 2] data. */
function rssOf(data: Float32Array, b: number, sets: number, H: number, W: number): Float64Array {
  const out = new Float64Array(H * W);
  for (let s = 0; s < sets; s++) {
    const o = (b * sets + s) * H * W * 2;
    for (let p = 0; p < H * W; p++) out[p]! += data[o + 2 * p]! ** 2 + data[o + 2 * p + 1]! ** 2;
  }
  return out.map(Math.sqrt);
}

describe('image losses', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 });
  });

  it.each([1, 2])('ssim is 1 − the mean SSIM of the metrics module on the magnitudes, each sample at its own range (%i map sets)', (sets) => {
    const rng = new Rng(3 + sets), H = 19, W = 23, B = 2;
    const target = new Float32Array(B * sets * H * W * 2), x = new Float32Array(target.length);
    for (let k = 0; k < B * sets; k++) {
      const scale = k < sets ? 1 : 3; // samples with different data ranges
      target.set(image(rng, H, W, scale), k * H * W * 2);
      const t = target.subarray(k * H * W * 2, (k + 1) * H * W * 2);
      x.set(t.map((v) => v + 0.6 * scale * (rng.next() - 0.5)), k * H * W * 2);
    }
    let expected = 0;
    for (let b = 0; b < B; b++) {
      const ref = rssOf(target, b, sets, H, W);
      expected += ssim(ref, rssOf(x, b, sets, H, W), H, W, maxOf(ref)) / B;
    }
    expect(expected).toBeGreaterThan(0.3);
    expect(expected).toBeLessThan(0.95);
    const shape = [B * sets, H, W, 2] as [number, number, number, number];
    const loss = tf.tidy(() => imageLoss('ssim', tf.tensor4d(x, shape), tf.tensor4d(target, shape), sets).dataSync()[0]!);
    expect(loss).toBeCloseTo(1 - expected, 5);
  });

  it('ssim\'s gradient matches central finite differences along a random direction', () => {
    const rng = new Rng(11), H = 16, W = 14, shape = [1, H, W, 2] as [number, number, number, number];
    const target = tf.tensor4d(image(rng, H, W, 1), shape);
    const x0 = tf.tensor4d(image(rng, H, W, 1), shape);
    const d = tf.tensor4d(Float32Array.from({ length: H * W * 2 }, () => rng.next() - 0.5), shape);
    const f = (x: tf.Tensor) => imageLoss('ssim', x as tf.Tensor4D, target);
    const g = tf.grad(f)(x0);
    const analytic = tf.sum(tf.mul(g, d)).dataSync()[0]!;
    const h = 1e-2;
    const numeric = (f(tf.add(x0, tf.mul(d, h))).dataSync()[0]! - f(tf.sub(x0, tf.mul(d, h))).dataSync()[0]!) / (2 * h);
    expect(Math.abs(analytic)).toBeGreaterThan(1e-3);
    expect(Math.abs(numeric - analytic)).toBeLessThan(0.01 * Math.abs(analytic));
  });

  it('mse and l1 are the means over the complex image', () => {
    const t = tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2]), x = tf.tensor4d([2, 0, 3, 5], [1, 1, 2, 2]);
    expect(imageLoss('mse', x, t).dataSync()[0]).toBeCloseTo((1 + 4 + 0 + 1) / 4, 6);
    expect(imageLoss('l1', x, t).dataSync()[0]).toBeCloseTo((1 + 2 + 0 + 1) / 4, 6);
  });
});
