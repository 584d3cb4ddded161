import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { onnxRuntime } from '../../src/backend/onnx-runtime.js';
import { Denoiser } from '../../src/nn/denoiser.js';
import { OnnxDenoiser } from '../../src/nn/denoiser-onnx.js';
import { ModlReconstructor } from '../../src/nn/infer.js';
import { shippedCheckpoint } from '../../src/util/paths.js';
import { Rng } from '../../src/util/random.js';
import { relErr } from '../helpers/random.js';
import { testSample } from './helpers.js';

let available = false;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
  available = (await onnxRuntime()) !== null;
});

afterEach(() => { delete process.env.MODL_DENOISER; });

describe('the denoiser on ONNX Runtime', () => {
  it('is the tfjs inference pass, batch norm folded in, for every statistics slot (< 1e-5 relative)', async (ctx) => {
    if (!available) ctx.skip();
    const net = Denoiser.create(3, { depth: 4, width: 16 });
    net.setStatsSlots(3);
    // non-trivial running statistics, γ and β in every slot
    const rng = new Rng(5);
    for (const [name, v] of Object.entries(net.namedWeights())) {
      if (/running_mean/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => 0.3 * rng.normal())));
      if (/running_variance/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => rng.uniform(0.2, 3))));
      if (/gamma|beta/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => rng.uniform(0.5, 1.5))));
    }
    const onnx = await OnnxDenoiser.create(net, 3, (await onnxRuntime())!);
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 21 * 17 * 2 }, () => rng.normal()), [2, 21, 17, 2]);
    for (let slot = 0; slot < 3; slot++) {
      const want = net.apply(x, false, { slot });
      const got = await onnx.apply(x, slot);
      expect(got.shape).toEqual(want.shape);
      expect(relErr(got.dataSync() as Float32Array, want.dataSync() as Float32Array)).toBeLessThan(1e-5);
      tf.dispose([want, got]);
    }
    // and the slots differ, so each stage really uses its own statistics
    const [a, b] = [await onnx.apply(x, 0), await onnx.apply(x, 1)];
    expect(relErr(a.dataSync() as Float32Array, b.dataSync() as Float32Array)).toBeGreaterThan(1e-2);
    tf.dispose([a, b, x]);
    await onnx.dispose();
    net.dispose();
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
