/**
 * End to end on wasm: the 5-layer, 64-filter 3×3 conv net with batch norm
 * (the MoDL denoiser) gets the same gradients as on the cpu backend, trains
 * (the loss falls), and a training loop keeps the tensor count flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Denoiser } from '../../src/nn/denoiser.js';
import { Rng } from '../../src/util/random.js';
import { relError } from './compare.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});

/** A fixed denoising problem: smooth complex images plus noise. */
function batch(b: number, h: number, w: number, seed: number): { noisy: tf.Tensor4D; clean: tf.Tensor4D } {
  const rng = new Rng(seed);
  const clean = new Float32Array(b * h * w * 2);
  const noisy = new Float32Array(clean.length);
  for (let n = 0; n < b; n++) {
    const [fx, fy, phase] = [1 + rng.int(3), 1 + rng.int(3), rng.uniform(0, 6)];
    for (let i = 0; i < h * w; i++) {
      const [y, x] = [Math.floor(i / w) / h, (i % w) / w];
      const k = 2 * (n * h * w + i);
      clean[k] = Math.sin(2 * Math.PI * fx * x + phase);
      clean[k + 1] = Math.cos(2 * Math.PI * fy * y);
      noisy[k] = clean[k]! + 0.3 * rng.normal();
      noisy[k + 1] = clean[k + 1]! + 0.3 * rng.normal();
    }
  }
  return { noisy: tf.tensor4d(noisy, [b, h, w, 2]), clean: tf.tensor4d(clean, [b, h, w, 2]) };
}

function trainStep(net: Denoiser, opt: tf.Optimizer, noisy: tf.Tensor4D, clean: tf.Tensor4D): number {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.squaredDifference(net.apply(noisy, true), clean)) as tf.Scalar,
      net.trainableVariables());
    opt.applyGradients(grads);
    return value.dataSync()[0]!;
  });
}

describe('5×64 conv + BN denoiser on wasm', () => {
  it('has the same loss gradient as on the cpu backend', async () => {
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const net = Denoiser.create(3);
      const { noisy, clean } = batch(2, 9, 7, 4);
      const g = tf.variableGrads(() => tf.mean(tf.squaredDifference(net.apply(noisy, true, { updateRunningStats: false }), clean)) as tf.Scalar,
        net.trainableVariables());
      const values = net.trainableVariables().map((v) => g.grads[v.name]!.dataSync());
      tf.dispose([g.value, ...Object.values(g.grads), noisy, clean]);
      net.dispose();
      return values;
    };
    const wasm = await grads('wasm');
    const cpu = await grads('cpu');
    await tf.setBackend('wasm');
    expect(wasm.length).toBe(15);
    for (let i = 0; i < wasm.length; i++) expect(relError(wasm[i]!, cpu[i]!)).toBeLessThan(1e-4);
  });

  it('trains: the loss falls, and the tensor count stays flat', () => {
    const net = Denoiser.create(1);
    const opt = tf.train.adam(2e-3);
    const { noisy, clean } = batch(2, 24, 20, 5);
    const first = trainStep(net, opt, noisy, clean);
    const tensorsAfterFirst = tf.memory().numTensors; // Adam's moment variables now exist
    let last = first;
    for (let i = 0; i < 30; i++) last = trainStep(net, opt, noisy, clean);
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    expect(last).toBeLessThan(0.5 * first);
    // the running statistics have moved towards the batch statistics
    const runningMean = net.namedWeights()['bn1/running_mean']!.dataSync();
    expect(Math.max(...Array.from(runningMean, Math.abs))).toBeGreaterThan(0);
    opt.dispose();
    net.dispose();
    tf.dispose([noisy, clean]);
  });
});
