import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { prepareBatch } from '../../src/nn/batch.js';
import { deepened } from '../../src/nn/grow.js';
import { Modl } from '../../src/nn/modl.js';
import { testSample } from './helpers.js';

describe('growing the denoiser by one layer', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 });
  });

  it('keeps the network\'s output, λ and stages, with one more layer that then trains', () => {
    const model = Modl.create({ denoiser: { depth: 4, width: 16, momentum: 0.5, epsilon: 1e-5 }, stages: 3, cgIterations: 10, lambda: 0.07 }, 3);
    const batch = prepareBatch([testSample(24, 20, 1)]);
    // running statistics far from 0 / 1 in every stage slot, as a trained network has
    for (let i = 0; i < 3; i++) tf.tidy(() => { model.apply(batch.aty, batch.problem, 'train'); });
    const grown = deepened(model);
    expect(grown.denoiser.config.depth).toBe(5);
    expect(grown.stages).toBe(3);
    expect(grown.lambda).toBeCloseTo(0.07, 6);
    const before = tf.tidy(() => model.apply(batch.aty, batch.problem, 'infer').dataSync());
    const after = tf.tidy(() => grown.apply(batch.aty, batch.problem, 'infer').dataSync());
    let err = 0, norm = 0;
    for (let i = 0; i < before.length; i++) { err = Math.max(err, Math.abs(after[i]! - before[i]!)); norm = Math.max(norm, Math.abs(before[i]!)); }
    expect(err).toBeLessThan(1e-5 * norm);
    // the inserted layer is not a dead end: the loss has a gradient on its kernel
    const kernel = grown.denoiser.namedWeights()['conv4/kernel'] as tf.Variable;
    const { grads } = tf.variableGrads(() => tf.losses.meanSquaredError(batch.target!, grown.apply(batch.aty, batch.problem, 'tune')) as tf.Scalar, [kernel]);
    expect(tf.norm(grads[kernel.name]!).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose(grads);
    batch.dispose();
    model.dispose();
    grown.dispose();
  });
});
