/**
 * The closed-form batch norm: forward against a float64 reference, gradients
 * against tfjs autodiff of the textbook formula on the cpu backend, and a
 * finite-difference check of the directional derivative.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNormInfer, batchNormTrain, channelMean } from '../../src/backend/batch-norm.js';
import { initBackend } from '../../src/backend/index.js';
import { relError, runOn } from './compare.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});

const EPS = 1e-5;

/** Textbook batch norm with autodiff-able ops only. */
function reference(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS))), g), b);
}

const SHAPES = [[[2, 7, 9, 5]], [[3, 4, 6, 3]], [[1, 11, 13, 4]], [[6, 4]]];

describe('batchNormTrain', () => {
  it.each(SHAPES)('forward and batch statistics match a float64 reference for %j', async (shape) => {
    const c = shape[shape.length - 1]!;
    const specs = [{ shape, seed: 1 }, { shape: [c], seed: 2 }, { shape: [c], seed: 3 }];
    const [y, mean, variance] = await runOn('wasm', specs, (x, g, b) => {
      let stats: tf.Tensor[] = [];
      const out = batchNormTrain(tf.add(tf.mul(x!, 3), 1), g as tf.Tensor1D, b as tf.Tensor1D, {
        onBatchStats: (m, v) => { stats = [tf.keep(m.clone()), tf.keep(v.clone())]; },
      });
      return [out, ...stats];
    });
    const [x, g, b] = await runOn('cpu', specs, (x, g, b) => [tf.add(tf.mul(x!, 3), 1), g!, b!]);
    const count = x!.length / c;
    const mu = new Float64Array(c);
    const var_ = new Float64Array(c);
    for (let i = 0; i < x!.length; i++) mu[i % c] += x![i]! / count;
    for (let i = 0; i < x!.length; i++) var_[i % c] += (x![i]! - mu[i % c]!) ** 2 / count;
    const expected = x!.map((v, i) => ((v - mu[i % c]!) / Math.sqrt(var_[i % c]! + EPS)) * g![i % c]! + b![i % c]!);
    expect(relError(y!, expected)).toBeLessThan(1e-5);
    expect(relError(mean!, mu)).toBeLessThan(1e-5);
    expect(relError(variance!, var_)).toBeLessThan(1e-5);
  });

  it.each(SHAPES)('gradients (x, γ, β) match cpu autodiff of the textbook formula for %j', async (shape) => {
    const c = shape[shape.length - 1]!;
    const specs = [{ shape, seed: 4 }, { shape: [c], seed: 5 }, { shape: [c], seed: 6 }, { shape, seed: 7 }];
    const loss = (bn: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor, w: tf.Tensor) =>
      (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(bn(x, g, b), w));
    const ours = await runOn('wasm', specs, (x, g, b, w) =>
      tf.grads(loss((p, q, r) => batchNormTrain(p, q as tf.Tensor1D, r as tf.Tensor1D), w!))([x!, g!, b!]));
    const textbook = await runOn('cpu', specs, (x, g, b, w) => tf.grads(loss(reference, w!))([x!, g!, b!]));
    for (let i = 0; i < 3; i++) expect(relError(ours[i]!, textbook[i]!)).toBeLessThan(1e-4);
  });

  it('agrees with a central finite difference along a random direction', async () => {
    const shape = [2, 3, 4, 3];
    const specs = [{ shape, seed: 8 }, { shape: [3], seed: 9 }, { shape: [3], seed: 10 }, { shape, seed: 11 }, { shape, seed: 12 }];
    const [analytic, plus, minus] = await runOn('wasm', specs, (x, g, b, w, v) => {
      const f = (p: tf.Tensor) => tf.sum(tf.mul(tf.square(batchNormTrain(p, g as tf.Tensor1D, b as tf.Tensor1D)), w!));
      const h = 1e-2;
      return [tf.sum(tf.mul(tf.grad(f)(x!), v!)), f(tf.add(x!, tf.mul(v!, h))), f(tf.sub(x!, tf.mul(v!, h)))];
    });
    const numeric = (plus![0]! - minus![0]!) / 2e-2;
    expect(Math.abs(numeric - analytic![0]!)).toBeLessThan(2e-3 * Math.abs(analytic![0]!));
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 8, 8, 4]);
    const g = tf.ones([4]) as tf.Tensor1D;
    const b = tf.zeros([4]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    tf.dispose(tf.grads((p: tf.Tensor) => tf.sum(batchNormTrain(p, g, b)))([x]));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g, b]);
  });
});

describe('channel statistics and inference mode', () => {
  it('channelMean averages over all axes but the last', async () => {
    const [ours] = await runOn('wasm', [{ shape: [3, 5, 7, 4], seed: 13 }], (x) => channelMean(x!));
    const [theirs] = await runOn('cpu', [{ shape: [3, 5, 7, 4], seed: 13 }], (x) => tf.mean(x!, [0, 1, 2]));
    expect(relError(ours!, theirs!)).toBeLessThan(1e-6);
  });

  it('batchNormInfer uses the running statistics', async () => {
    const specs = [{ shape: [2, 3, 3, 2], seed: 14 }];
    const [ours] = await runOn('wasm', specs, (x) =>
      batchNormInfer(x!, tf.tensor1d([2, 3]), tf.tensor1d([0.5, -1]), tf.tensor1d([0.1, -0.2]), tf.tensor1d([4, 0.25])));
    const [x] = await runOn('cpu', specs, (x) => x!);
    const expected = x!.map((v, i) => {
      const [g, b, m, s] = i % 2 === 0 ? [2, 0.5, 0.1, 4] : [3, -1, -0.2, 0.25];
      return ((v - m) / Math.sqrt(s + EPS)) * g + b;
    });
    expect(relError(ours!, expected)).toBeLessThan(1e-6);
  });
});
