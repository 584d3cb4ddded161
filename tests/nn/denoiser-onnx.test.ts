import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { onnxRuntime } from '../../src/backend/onnx-runtime.js';
import { birdcageMaps } from '../../src/physics/coils.js';
import { randomMask1d } from '../../src/physics/masks.js';
import { SenseOp } from '../../src/physics/sense.js';
import { czeros } from '../../src/physics/complex.js';
import { prepareBatch } from '../../src/nn/batch.js';
import { Denoiser } from '../../src/nn/denoiser.js';
import { OnnxDenoiser } from '../../src/nn/denoiser-onnx.js';
import { Modl } from '../../src/nn/modl.js';
import { unrolledGradients } from '../../src/nn/modl-onnx.js';
import { ModlReconstructor } from '../../src/nn/infer.js';
import { shippedCheckpoint } from '../../src/util/paths.js';
import { Rng } from '../../src/util/random.js';
import { relErr } from '../helpers/random.js';
import { testObject, testSample } from './helpers.js';

let available = false;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
  available = (await onnxRuntime()) !== null;
});

afterEach(() => { delete process.env.MODL_DENOISER; });

/** Non-trivial running statistics, γ and β in every slot, so that folding and its chain rule are exercised. */
function perturb(net: Denoiser, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of Object.entries(net.namedWeights())) {
    if (/running_mean/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => 0.3 * rng.normal())));
    if (/running_variance/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => rng.uniform(0.2, 3))));
    if (/gamma|beta/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => rng.uniform(0.5, 1.5))));
  }
}

describe('the denoiser on ONNX Runtime', () => {
  const plans = [[1, 'fixed'], [8, 'fixed'], [1, 'cycled']] as const;
  for (const mode of ['frozen', 'batch'] as const) for (const [symmetries, symmetryPlan] of plans) it(`give tfjs's gradients of ⟨D_slot(x), dy⟩ in x, the kernels, γ and β (< 1e-5 relative), for every slot, batch norm ${mode}, averaged over ${symmetries} symmetries, ${symmetryPlan}`, async (ctx) => {
    if (!available) ctx.skip();
    const make = () => {
      const net = Denoiser.create(3, { depth: 4, width: 16, symmetries, symmetryPlan });
      net.setStatsSlots(3);
      perturb(net, 5);
      return net;
    };
    const [net, twin] = [make(), make()]; // the twin's running statistics are updated by ONNX Runtime's passes
    const onnx = await OnnxDenoiser.create(twin, mode, (await onnxRuntime())!);
    const rng = new Rng(6);
    const shape = [2, 21, 17, 2];
    const x = Float32Array.from({ length: 2 * 21 * 17 * 2 }, () => rng.normal());
    const dy = Float32Array.from({ length: x.length }, () => rng.normal());
    const vars = net.trainableVariables();
    const training = mode === 'batch';
    for (let slot = 0; slot < 3; slot++) {
      const [xt, dyt] = [tf.tensor4d(x, shape as [number, number, number, number]), tf.tensor4d(dy, shape as [number, number, number, number])];
      const f = (...args: tf.Tensor[]) => tf.sum(tf.mul(net.apply(args[0] as tf.Tensor4D, training, { slot, updateRunningStats: false }), dyt));
      const { grads } = tf.variableGrads(() => f(xt) as tf.Scalar, vars);
      const [dxWant] = tf.grads(f)([xt]);
      const yWant = net.apply(xt, training, { slot }); // updates the slot's running statistics in batch mode
      expect(relErr(await onnx.apply(x, shape, slot), yWant.dataSync() as Float32Array)).toBeLessThan(1e-5);
      const into = onnx.zeroGradients();
      const dx = await onnx.backward(x, dy, shape, slot, into);
      expect(relErr(dx, dxWant!.dataSync() as Float32Array)).toBeLessThan(1e-5);
      vars.forEach((v, i) => expect(relErr(into.arrays[i]!, grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(1e-5));
      tf.dispose([xt, dyt, dxWant, grads, yWant]);
    }
    // each stage uses its own statistics in frozen mode
    if (mode === 'frozen') expect(relErr(await onnx.apply(x, shape, 0), await onnx.apply(x, shape, 1))).toBeGreaterThan(1e-2);
    // the same running statistics after the passes (unchanged in frozen mode)
    const stats = (d: Denoiser) => Object.entries(d.namedWeights()).filter(([k]) => /running/.test(k));
    const twinStats = Object.fromEntries(stats(twin));
    for (const [k, v] of stats(net)) expect(relErr(twinStats[k]!.dataSync() as Float32Array, v.dataSync() as Float32Array)).toBeLessThan(1e-5);
    await onnx.dispose();
    net.dispose();
    twin.dispose();
  });

  for (const mode of ['tune', 'train'] as const) for (const [symmetries, symmetryPlan] of [[1, 'fixed'], [4, 'cycled']] as const) it(`make unrolledGradients the gradient of the whole unrolled MoDL in ${mode} mode (one and two map sets), the denoiser averaged over ${symmetries} symmetries, ${symmetryPlan}`, async (ctx) => {
    if (!available) ctx.skip();
    const [H, W, C] = [24, 20, 4];
    // a two-map-set sample: the second set a weaker copy of other coils, zero on the first rows (ESPIRiT-like)
    const two = (() => {
      const target = czeros([2, H, W]);
      target.data.set(testObject(H, W, 3).data);
      target.data.set(testObject(H, W, 4).data.map((v) => 0.3 * v), 2 * H * W);
      const a = birdcageMaps(C, H, W, { rotation: 0.2 }), b = birdcageMaps(C, H, W, { rotation: 1.3 });
      const data = new Float32Array(2 * 2 * C * H * W);
      data.set(a.data);
      data.set(b.data.map((v, j) => (Math.floor(((j >> 1) % (H * W)) / W) < 3 ? 0 : 0.5 * v)), 2 * C * H * W);
      const maps = { data, shape: [2, C, H, W] };
      const mask = randomMask1d(H, W, { acceleration: 3, seed: 9 }).mask;
      const kspace = czeros([C, H, W]);
      new SenseOp(maps, mask).forward(target.data, [kspace.data]);
      return { kspace, maps, mask, target };
    })();
    for (const samples of [[testSample(H, W, 0), testSample(H, W, 1)], [two]]) {
      // ε = 1e-2: in batch mode a channel of this 8-wide network with a near-zero batch variance
      // amplifies float32 round-off by up to 1/√ε in both engines (at 1e-5 they differ by 1e-3; at 1e-2 by 1e-6)
      const model = Modl.create({ denoiser: { depth: 3, width: 8, momentum: 0.1, epsilon: 1e-2, symmetries, symmetryPlan }, stages: 3, cgIterations: 6, lambda: 0.07 }, 4);
      perturb(model.denoiser, 8);
      const batch = prepareBatch(samples);
      const loss = (x: tf.Tensor4D) => tf.losses.meanSquaredError(batch.target!, x) as tf.Scalar;
      const vars = model.trainableVariables;
      const want = tf.variableGrads(() => loss(model.apply(batch.aty, batch.problem, mode)), vars);
      const onnx = await OnnxDenoiser.create(model.denoiser, mode === 'tune' ? 'frozen' : 'batch', (await onnxRuntime())!);
      const got = await unrolledGradients(model, onnx, batch.aty, batch.problem, loss);
      expect(Math.abs(got.loss - want.value.dataSync()[0]!)).toBeLessThan(1e-5 * got.loss);
      vars.forEach((v, i) => expect(relErr(got.grads[i]!.dataSync() as Float32Array, want.grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(1e-4));
      tf.dispose([want.value, want.grads, got.grads]);
      await onnx.dispose();
      batch.dispose();
      model.dispose();
    }
  });

  it('gives the shipped MoDL the same reconstructions as tfjs (MODL_DENOISER=tfjs), < 1e-5 relative', async (ctx) => {
    if (!available) ctx.skip();
    const scans = [testSample(40, 32, 0), testSample(40, 32, 1)].map(({ kspace, maps, mask }) => ({ kspace, maps, mask }));
    process.env.MODL_DENOISER = 'tfjs';
    const plain = ModlReconstructor.load(shippedCheckpoint('modl'));
    expect(await plain.denoiserEngine()).toBe('tfjs');
    const want = await plain.reconstruct(scans);
    plain.dispose();
    process.env.MODL_DENOISER = 'onnx';
    const fast = ModlReconstructor.load(shippedCheckpoint('modl'));
    expect(await fast.denoiserEngine()).toBe('onnx');
    const got = await fast.reconstruct(scans);
    fast.dispose();
    got.forEach((x, b) => expect(relErr(x.data, want[b]!.data)).toBeLessThan(1e-5));
  });
});
