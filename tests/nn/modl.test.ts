import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Adam } from '../../src/nn/adam.js';
import { prepareBatch } from '../../src/nn/batch.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/nn/checkpoint.js';
import { Modl } from '../../src/nn/modl.js';
import { train } from '../../src/nn/train.js';
import { resolveCheckpoint } from '../../src/util/fs.js';
import { psnr } from '../../src/physics/metrics.js';
import { memorySource, testSample } from './helpers.js';

const mean2 = (m: Modl, k: string) => Array.from(m.namedWeights()[k]!.dataSync());
const magnitude = (d: Float32Array) => Float32Array.from({ length: d.length >> 1 }, (_, i) => Math.hypot(d[2 * i]!, d[2 * i + 1]!));
const tiny = { denoiser: { depth: 5, width: 32, momentum: 0.1, epsilon: 1e-5 }, stages: 1, cgIterations: 30, lambda: 0.05 };

describe('MoDL network', () => {
  beforeAll(async () => {
    // one thread: these tiny networks are dominated by per-op overhead, which threads only add to
    await initBackend({ backend: 'wasm', threads: 1 });
  });
  afterEach(() => { delete process.env.MODL_DENOISER; });

  it('a tiny model overfits one slice to PSNR > 40 dB', async () => {
    const sample = testSample(48, 40);
    const model = Modl.create(tiny, 1);
    const opt = new Adam(1e-2);
    const vars = model.trainableVariables;
    const batch = prepareBatch([sample]);
    const ref = magnitude(batch.target!.dataSync() as Float32Array);
    const before = psnr(ref, magnitude(tf.tidy(() => model.apply(batch.aty, batch.problem, 'infer').dataSync() as Float32Array)));
    for (let it = 0; it < 700; it++) {
      // a pause now and then lets vitest's messages through (minutes of synchronous work starve its RPC)
      if (it % 50 === 0) await new Promise((r) => setTimeout(r, 0));
      const { value, grads } = tf.variableGrads(
        () => tf.losses.meanSquaredError(batch.target!, model.apply(batch.aty, batch.problem, 'train')) as tf.Scalar, vars);
      opt.step(vars, vars.map((v) => grads[v.name]!));
      tf.dispose([value, grads]);
    }
    const after = psnr(ref, magnitude(tf.tidy(() => model.apply(batch.aty, batch.problem, 'infer').dataSync() as Float32Array)));
    batch.dispose();
    opt.dispose();
    model.dispose();
    expect(before).toBeLessThan(30);
    expect(after).toBeGreaterThan(40);
  }, 300_000);

  it('round-trips a checkpoint: same outputs, λ and configuration', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'modl-ckpt-')), 'ckpt');
    const model = Modl.create({ ...tiny, stages: 3, lambda: 0.07 }, 5);
    const warm = prepareBatch([testSample(24, 20, 1)]);
    tf.tidy(() => { model.apply(warm.aty, warm.problem, 'train'); }); // fills each stage's running statistics
    warm.dispose();
    await saveCheckpoint(dir, model, { meta: { validation: { note: 'test' } } });
    const { model: back, meta } = loadCheckpoint(dir);
    expect(meta.stages).toBe(3);
    expect(meta.lambda).toBeCloseTo(0.07, 6);
    expect(back.config).toEqual(model.config);
    const batch = prepareBatch([testSample(24, 20, 2)]);
    const a = tf.tidy(() => model.apply(batch.aty, batch.problem, 'infer').dataSync());
    const b = tf.tidy(() => back.apply(batch.aty, batch.problem, 'infer').dataSync());
    expect(Array.from(b)).toEqual(Array.from(a));
    batch.dispose();
    model.dispose();
    back.dispose();
  });

  it('keeps one set of batch-norm running statistics per stage, shared weights otherwise', () => {
    const model = Modl.create({ ...tiny, stages: 3 }, 2);
    const batch = prepareBatch([testSample(24, 20, 3)]);
    tf.tidy(() => { model.apply(batch.aty, batch.problem, 'train'); });
    const w = model.namedWeights();
    const mean = (k: string) => Array.from(w[k]!.dataSync());
    // stage inputs differ (Aᴴy, then DC outputs), so do their statistics
    expect(mean('bn1/running_mean/slot1')).not.toEqual(mean('bn1/running_mean'));
    expect(mean('bn1/running_mean/slot2')).not.toEqual(mean('bn1/running_mean/slot1'));
    expect(Object.keys(w).filter((k) => k.startsWith('conv1/'))).toEqual(['conv1/kernel']);
    // growing K (the curriculum) starts the new stages from the first stage's statistics
    model.stages = 5;
    expect(mean2(model, 'bn2/running_variance/slot4')).toEqual(mean2(model, 'bn2/running_variance'));
    batch.dispose();
    model.dispose();
  });

  it('grows K for the curriculum: new stages copy stage 1\'s statistics, the residual is damped by K/K\'', () => {
    const model = Modl.create({ ...tiny, stages: 2 }, 4);
    const gamma = mean2(model, 'bn5/gamma'), beta = mean2(model, 'bn5/beta'), conv = mean2(model, 'conv5/kernel');
    model.growStages(8);
    expect(model.stages).toBe(8);
    mean2(model, 'bn5/gamma').forEach((v, i) => expect(v).toBeCloseTo(gamma[i]! / 4, 6));
    mean2(model, 'bn5/beta').forEach((v, i) => expect(v).toBeCloseTo(beta[i]! / 4, 6));
    expect(mean2(model, 'conv5/kernel')).toEqual(conv); // only the last layer's affine part changes
    expect(mean2(model, 'bn1/running_variance/slot7')).toEqual(mean2(model, 'bn1/running_variance'));
    expect(() => model.growStages(8)).toThrow(/not more than/);
    model.dispose();
  });

  for (const engine of ['tfjs', 'auto'] as const) for (const frozenStats of [false, true]) it(`resumes training on the exact trajectory of an uninterrupted run (${frozenStats ? 'batch norm frozen' : 'batch statistics'}, denoiser on ${engine === 'tfjs' ? 'tfjs' : 'ONNX Runtime where it loads'})`, async () => {
    process.env.MODL_DENOISER = engine;
    const data = memorySource([0, 1, 2, 3].map((s) => testSample(24, 20, s)));
    const val = memorySource([testSample(24, 20, 9)]);
    const base = { train: data, validation: val, stages: 2, batchSize: 2, learningRate: 1e-3, clipNorm: 1, loss: 'mse' as const, seed: 3, frozenStats };
    const cfg = { ...tiny, denoiser: { ...tiny.denoiser, width: 8 }, cgIterations: 5 };
    const straight = join(mkdtempSync(join(tmpdir(), 'modl-train-')), 'run');
    await train({ ...base, outDir: straight, model: Modl.create(cfg, 1), epochs: 2, resume: false });
    const broken = join(mkdtempSync(join(tmpdir(), 'modl-train-')), 'run');
    await train({ ...base, outDir: broken, model: Modl.create(cfg, 1), epochs: 1, resume: false }); // "killed" after epoch 1
    const { history } = await train({ ...base, outDir: broken, model: Modl.create(cfg, 1), epochs: 2, resume: true });
    expect(history.map((h) => h.epoch)).toEqual([1, 2]);
    const w1 = loadCheckpoint(resolveCheckpoint(straight)).model.namedWeights();
    const w2 = loadCheckpoint(resolveCheckpoint(broken)).model.namedWeights();
    for (const k of Object.keys(w1)) expect(Array.from(w2[k]!.dataSync())).toEqual(Array.from(w1[k]!.dataSync()));
    expect(history[1]!.validation.modl.psnr).toBeGreaterThan(0);
    expect(history[1]!.validation.cgsense.psnr).toBeGreaterThan(history[1]!.validation.zeroFilled.psnr);
  });

  it('lets the learning rate fall linearly to finalLearningRate over the run, and a resumed run follows the same schedule', async () => {
    process.env.MODL_DENOISER = 'tfjs';
    const data = memorySource([0, 1, 2, 3].map((s) => testSample(24, 20, s)));
    const base = {
      train: data, validation: memorySource([testSample(24, 20, 9)]), stages: 1, batchSize: 1, stepsPerEpoch: 2,
      learningRate: 1e-3, finalLearningRate: 1e-4, clipNorm: 1, loss: 'mse' as const, seed: 3, frozenStats: true,
    };
    const cfg = { ...tiny, denoiser: { ...tiny.denoiser, width: 8 }, cgIterations: 5 };
    const rates: number[] = [];
    const straight = join(mkdtempSync(join(tmpdir(), 'modl-train-')), 'run');
    await train({ ...base, outDir: straight, model: Modl.create(cfg, 1), epochs: 2, resume: false, onStep: (st) => rates.push(st.learningRate) });
    [1e-3, 7e-4, 4e-4, 1e-4].forEach((r, i) => expect(rates[i]).toBeCloseTo(r, 12));
    const broken = join(mkdtempSync(join(tmpdir(), 'modl-train-')), 'run');
    await train({ ...base, outDir: broken, model: Modl.create(cfg, 1), epochs: 2, resume: false, shouldStop: () => true }); // stopped after epoch 1
    const resumed: number[] = [];
    await train({ ...base, outDir: broken, model: Modl.create(cfg, 1), epochs: 2, resume: true, onStep: (st) => resumed.push(st.learningRate) });
    expect(resumed).toEqual(rates.slice(2));
    const w1 = loadCheckpoint(resolveCheckpoint(straight)).model.namedWeights();
    const w2 = loadCheckpoint(resolveCheckpoint(broken)).model.namedWeights();
    for (const k of Object.keys(w1)) expect(Array.from(w2[k]!.dataSync())).toEqual(Array.from(w1[k]!.dataSync()));
  });

  it('trains on a batch that mixes image sizes: its loss is the mean of the samples\' losses', async () => {
    const samples = [testSample(24, 20, 0), testSample(20, 28, 1)];
    const cfg = { ...tiny, denoiser: { ...tiny.denoiser, width: 8 }, cgIterations: 5 };
    const model = Modl.create(cfg, 2);
    const each = samples.map((s) => {
      const b = prepareBatch([s]);
      const l = tf.tidy(() => tf.losses.meanSquaredError(b.target!, model.apply(b.aty, b.problem, 'tune')).dataSync()[0]!);
      b.dispose();
      return l;
    });
    const losses: number[] = [];
    await train({
      train: memorySource(samples), validation: memorySource([samples[0]!]), stages: 1, batchSize: 2, stepsPerEpoch: 1, epochs: 1,
      learningRate: 1e-3, clipNorm: 1, loss: 'mse', seed: 1, frozenStats: true, resume: false,
      outDir: join(mkdtempSync(join(tmpdir(), 'modl-train-')), 'run'), model, onStep: (st) => losses.push(st.loss),
    });
    expect(losses[0]).toBeCloseTo((each[0]! + each[1]!) / 2, 6);
  });
});
