import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { adaptToScan } from '../../src/nn/adapt.js';
import { Modl } from '../../src/nn/modl.js';
import { SSDU_LOSS_FRACTION } from '../../src/nn/ssdu.js';
import { testSample } from './helpers.js';

const tiny = { denoiser: { depth: 3, width: 8, momentum: 0.1, epsilon: 1e-5 }, stages: 2, cgIterations: 8, lambda: 0.05 };
const weightsOf = (m: Modl) => m.trainableVariables.map((v) => Array.from(v.dataSync()));

describe('scan-specific fine-tuning (zero-shot SSDU)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 });
  });
  // 1D random mask at 3× (odd seed), so steps train on readout windows; no target is given
  const { kspace, maps, mask } = testSample(32, 24, 1);
  // 7 sampled lines: with the default 20 % loss share a step's loss sees one line and six steps
  // learn nothing measurable on this tiny net; with SSDU's 40 % it sees two
  const options = { steps: 6, evalEvery: 2, patience: 3, learningRate: 3e-3, windowRows: 16, seed: 5, lossFraction: SSDU_LOSS_FRACTION };

  it('lowers the held-out k-space loss and keeps the best weights', async () => {
    const model = Modl.create(tiny, 2);
    const report = await adaptToScan(model, [{ kspace, maps, mask }], options);
    expect(report.curve[0]!.holdoutLoss).toBe(report.holdoutBefore);
    expect(report.holdoutBest).toBeLessThan(report.holdoutBefore);
    expect(report.holdoutBest).toBe(Math.min(...report.curve.map((c) => c.holdoutLoss)));
    expect(report.curve.find((c) => c.holdoutLoss === report.holdoutBest)!.step).toBe(report.bestStep);
    model.dispose();
  });

  it('is seeded, and never reads k-space outside the mask', async () => {
    const runs: number[][][] = [];
    for (const data of [kspace.data, kspace.data.map((v, i) => (mask[(i >> 1) % mask.length] === 0 ? v + 7 : v))]) {
      const model = Modl.create(tiny, 2);
      await adaptToScan(model, [{ kspace: { data, shape: kspace.shape }, maps, mask }], options);
      runs.push(weightsOf(model));
      model.dispose();
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('leaves the network unchanged when no step improves on it, and frees what it made', async () => {
    const model = Modl.create(tiny, 2);
    const before = weightsOf(model);
    const tensors = tf.memory().numTensors;
    // a step size this large only makes things worse; patience 1 stops at the first evaluation
    const report = await adaptToScan(model, [{ kspace, maps, mask }], { ...options, learningRate: 10, patience: 1 });
    expect(report.bestStep).toBe(0);
    expect(weightsOf(model)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors); // nothing leaked: optimiser state and snapshots are freed
    model.dispose();
  });
});
