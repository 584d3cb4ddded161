/**
 * The building blocks: pixel (un)shuffle, the ICNR sub-pixel initialisation,
 * spectral normalisation, the zero-gradient identity, and the critic's twice
 * differentiable activation and pooling.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { conv, leakyRelu, normPool, Params, pixelShuffle, pixelUnshuffle, spectralNormalize, stopGradient, upsampleNearest } from '../../src/generative/layers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});

describe('pixel shuffle', () => {
  it('equals tf.depthToSpace and pixelUnshuffle inverts it', () => {
    const x = tf.randomNormal([2, 3, 5, 8], 0, 1, 'float32', 3) as tf.Tensor4D;
    const shuffled = pixelShuffle(x);
    expect(shuffled.shape).toEqual([2, 6, 10, 2]);
    expect(Array.from(shuffled.dataSync())).toEqual(Array.from(tf.depthToSpace(x, 2).dataSync()));
    expect(Array.from(pixelUnshuffle(shuffled).dataSync())).toEqual(Array.from(x.dataSync()));
  });

  it('has a gradient (tf.depthToSpace has none in tfjs)', () => {
    const x = tf.randomNormal([1, 2, 2, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
    const w = tf.randomNormal([1, 4, 4, 1], 0, 1, 'float32', 5);
    // d/dx Σ w·shuffle(x) = unshuffle(w)
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pixelShuffle(t as tf.Tensor4D), w)))(x);
    expect(Array.from(g.dataSync())).toEqual(Array.from(pixelUnshuffle(w as tf.Tensor4D).dataSync()));
  });
});

describe('twice differentiable critic layers', () => {
  it('leakyRelu equals tf.leakyRelu, normPool 2 × tf.avgPool, and both have second derivatives', () => {
    const x = tf.randomNormal([2, 6, 4, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const close = (a: tf.Tensor, b: tf.Tensor) => Math.max(...Array.from(tf.abs(tf.sub(a, b)).dataSync()));
    expect(close(leakyRelu(x), tf.leakyRelu(x, 0.2))).toBeLessThan(1e-6);
    expect(close(normPool(x), tf.mul(tf.avgPool(x, 2, 2, 'valid'), 2))).toBeLessThan(1e-6);
    // d/dw of ‖∇ₓ Σ f(w·x)‖² exists (tf.leakyRelu and tf.avgPool fail here: no gradient for Greater, AvgPoolGrad)
    const w = tf.scalar(0.7);
    for (const f of [(t: tf.Tensor4D) => leakyRelu(t), (t: tf.Tensor4D) => tf.square(normPool(t))]) {
      const outer = tf.grad((ww: tf.Tensor) => tf.sum(tf.square(tf.grad((t: tf.Tensor) => tf.sum(f(tf.mul(t, ww) as tf.Tensor4D)))(x))))(w);
      expect(Number.isFinite(outer.dataSync()[0]!)).toBe(true);
    }
  });
});

describe('nearest-neighbour upsampling', () => {
  it('equals tf.image.resizeNearestNeighbor ×2, and its gradient sums each 2×2 block', () => {
    const x = tf.randomNormal([2, 3, 5, 4], 0, 1, 'float32', 7) as tf.Tensor4D;
    const up = upsampleNearest(x);
    expect(up.shape).toEqual([2, 6, 10, 4]);
    expect(Array.from(up.dataSync())).toEqual(Array.from(tf.image.resizeNearestNeighbor(x, [6, 10]).dataSync()));
    const w = tf.randomNormal([2, 6, 10, 4], 0, 1, 'float32', 8) as tf.Tensor4D;
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleNearest(t as tf.Tensor4D), w)))(x);
    const blockSums = tf.mul(tf.avgPool(w, 2, 2, 'valid'), 4);
    const [gv, bv] = [g.dataSync(), blockSums.dataSync()];
    for (let i = 0; i < gv.length; i++) expect(gv[i]).toBeCloseTo(bv[i]!, 5);
  });
});

describe('sub-pixel upsampling with the ICNR initialisation', () => {
  it('starts as a nearest-neighbour upsampling: each 2×2 output block is constant', () => {
    const p = new Params(1);
    const up = p.subPixelConv('up', 3, 5);
    const x = tf.randomNormal([1, 6, 6, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const y = pixelShuffle(conv(x, up.kernel, up.bias, 0));
    expect(y.shape).toEqual([1, 12, 12, 5]);
    const v = y.arraySync()[0]!;
    for (let i = 0; i < 12; i += 2) {
      for (let j = 0; j < 12; j += 2) {
        for (let c = 0; c < 5; c++) {
          expect(v[i + 1]![j]![c]).toBeCloseTo(v[i]![j]![c]!, 5);
          expect(v[i]![j + 1]![c]).toBeCloseTo(v[i]![j]![c]!, 5);
          expect(v[i + 1]![j + 1]![c]).toBeCloseTo(v[i]![j]![c]!, 5);
        }
      }
    }
    p.dispose();
  });
});

describe('spectral normalisation', () => {
  it('divides by the largest singular value, found by power iteration over training steps', () => {
    const p = new Params(2);
    const { kernel } = p.conv('c', 2, 3, 4, { bias: false }); // a [12, 4] matrix
    const u = p.spectralVector('c', 4);
    const values = Array.from(kernel.dataSync());
    const sigma = new SingularValueDecomposition(new Matrix(Array.from({ length: 12 }, (_, r) => values.slice(4 * r, 4 * r + 4)))).diagonal[0]!;
    let normalised: tf.Tensor = kernel;
    for (let step = 0; step < 30; step++) {
      tf.dispose(normalised === kernel ? [] : normalised);
      normalised = spectralNormalize(kernel, u, true);
    }
    const ratio = kernel.dataSync()[0]! / normalised.dataSync()[0]!;
    expect(ratio).toBeCloseTo(sigma, 4);
    const top = new SingularValueDecomposition(new Matrix(Array.from({ length: 12 }, (_, r) => Array.from(normalised.dataSync()).slice(4 * r, 4 * r + 4)))).diagonal[0]!;
    expect(top).toBeCloseTo(1, 4);
    // inference mode uses u without advancing it
    const before = Array.from(u.dataSync());
    spectralNormalize(kernel, u, false);
    expect(Array.from(u.dataSync())).toEqual(before);
    p.dispose();
  });

  it('stopGradient passes values and blocks the gradient', () => {
    const x = tf.tensor1d([1, 2, 3]);
    expect(Array.from(stopGradient(x).dataSync())).toEqual([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(t), t), t)))(x);
    expect(Array.from(g.dataSync())).toEqual([2, 3, 4]); // d/dt (c·t + t) = c + 1 with c = t held constant
  });
});
