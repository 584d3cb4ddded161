import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { onnxRuntime } from '../../src/backend/onnx-runtime.js';
import { readInt8Calibration, writeInt8Calibration } from '../../src/nn/checkpoint.js';
import { Denoiser, type FoldedLayer } from '../../src/nn/denoiser.js';
import { Int8Calibrator, Int8Denoiser, quantiseWeights } from '../../src/nn/denoiser-int8.js';
import { OnnxDenoiser } from '../../src/nn/denoiser-onnx.js';
import { ModlReconstructor } from '../../src/nn/infer.js';
import { loadRealCase } from '../../src/nn/real-validation.js';
import { evaluateRealCase } from '../../src/study/real-case.js';
import { shippedCheckpoint } from '../../src/util/paths.js';
import { Rng } from '../../src/util/random.js';
import { relErr } from '../helpers/random.js';
import { testSample } from './helpers.js';

const REAL = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'kspace');

let available = false;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
  available = (await onnxRuntime()) !== null;
});

/** A small denoiser with non-trivial batch-norm statistics in each of its 2 slots (the same symmetries at each). */
function smallDenoiser(symmetries: 1 | 2 = 1): Denoiser {
  const net = Denoiser.create(7, { depth: 4, width: 16, symmetries, symmetryPlan: 'fixed' });
  net.setStatsSlots(2);
  const rng = new Rng(8);
  for (const [name, v] of Object.entries(net.namedWeights())) {
    if (/running_mean/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => 0.2 * rng.normal())));
    if (/running_variance/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => rng.uniform(0.3, 2))));
    if (/beta/.test(name)) (v as tf.Variable).assign(tf.tensor1d(Array.from({ length: v.size }, () => rng.uniform(-0.2, 0.5))));
  }
  return net;
}

/** The hidden activations h₁…h_{depth−1} of the folded network, by tfjs's own convolution (an independent engine). */
function hiddenMaxima(layers: FoldedLayer[], x: Float32Array, shape: number[]): number[] {
  return tf.tidy(() => {
    let h = tf.tensor4d(x, shape as [number, number, number, number]);
    const out: number[] = [];
    for (const l of layers.slice(0, -1)) {
      const hwio = tf.transpose(tf.tensor4d(l.weight, [l.cout, l.cin, 3, 3]), [2, 3, 1, 0]) as tf.Tensor4D;
      h = tf.relu(tf.add(tf.conv2d(h, hwio, 1, 'same'), tf.tensor1d(l.bias))) as tf.Tensor4D;
      out.push(tf.max(h).dataSync()[0]!);
    }
    return out;
  });
}

describe('int8 inference of the denoiser', () => {
  it('quantises each output channel symmetrically in ±63 levels, each weight within half a level', () => {
    const rng = new Rng(3), cin = 5, cout = 4;
    const weight = Float32Array.from({ length: cout * cin * 9 }, () => rng.normal() * 0.1);
    const { q, scale } = quantiseWeights({ weight, bias: new Float32Array(cout), cin, cout } as FoldedLayer);
    for (let o = 0; o < cout; o++) {
      const row = Array.from(q.subarray(o * cin * 9, (o + 1) * cin * 9));
      expect(Math.max(...row.map(Math.abs))).toBe(63); // the channel's largest weight uses the full range
      row.forEach((v, k) => expect(Math.abs(v * scale[o]! - weight[o * cin * 9 + k]!)).toBeLessThanOrEqual(scale[o]! / 2 + 1e-9));
    }
  });

  it('calibrates on the largest value of each hidden activation per stage slot, as tfjs computes them', async (ctx) => {
    if (!available) ctx.skip();
    const net = smallDenoiser();
    const calibrator = await Int8Calibrator.create(net);
    const rng = new Rng(4), shape = [2, 13, 11, 2];
    const x = Float32Array.from({ length: 2 * 13 * 11 * 2 }, () => rng.normal());
    for (const slot of [0, 1]) await calibrator.apply(x, shape, slot);
    const { activationMax } = calibrator.calibration();
    for (const slot of [0, 1]) expect(relErr(activationMax[slot]!, hiddenMaxima(net.foldedLayers(slot), x, shape))).toBeLessThan(1e-5);
    expect(activationMax[0]).not.toEqual(activationMax[1]); // each slot folds its own statistics
    await calibrator.dispose();
    net.dispose();
  });

  for (const symmetries of [1, 2] as const) it(`stays within 5 % of the float32 pass's residual D(x) − x, averaged over ${symmetries} symmetr${symmetries > 1 ? 'ies' : 'y'}`, async (ctx) => {
    if (!available) ctx.skip();
    const net = smallDenoiser(symmetries);
    const rng = new Rng(5), shape = [2, 17, 14, 2];
    const x = Float32Array.from({ length: 2 * 17 * 14 * 2 }, () => rng.normal());
    const calibrator = await Int8Calibrator.create(net);
    for (const slot of [0, 1]) await calibrator.apply(x, shape, slot);
    const int8 = await Int8Denoiser.create(net, calibrator.calibration());
    const float = await OnnxDenoiser.create(net, 'frozen', (await onnxRuntime())!);
    for (const slot of [0, 1]) {
      const [got, want] = [await int8.apply(x, shape, slot), await float.apply(x, shape, slot)];
      const residual = (y: Float32Array) => y.map((v, i) => v - x[i]!);
      const error = relErr(residual(got), residual(want));
      // rounding noise (a step/√12 each) at 3 activations of 255 levels and 2 layers of ±63-level weights, relative to
      // the rms of these small random tensors (a tenth of their maxima), is about 1 % per quantisation, 2.5 % together;
      // a wrong scale or bias is off by its own factor (≥ 10 %). On the shipped network the image moves by 0.3 %.
      expect(error).toBeLessThan(0.05);
      expect(error).toBeGreaterThan(0); // it does run in int8
    }
    await Promise.all([calibrator.dispose(), int8.dispose(), float.dispose()]);
    net.dispose();
  });

  it('refuses a calibration made for another network', async (ctx) => {
    if (!available) ctx.skip();
    const net = smallDenoiser();
    await expect(Int8Denoiser.create(net, { activationMax: [[1, 1, 1]] })).rejects.toThrow(/another network/);
    net.dispose();
  });
});

describe('int8 calibration beside a checkpoint', () => {
  const withCopy = (run: (dir: string) => Promise<void> | void) => async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modl-int8-'));
    try {
      for (const f of ['model.json', 'weights.bin', 'modl.json']) copyFileSync(join(shippedCheckpoint('modl'), f), join(dir, f));
      await run(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('is read back as written, and ignored once the weights change', withCopy((dir) => {
    expect(readInt8Calibration(dir)).toBeNull();
    const calibration = { activationMax: [[1.5, 2.25], [3, 4.125]] };
    writeInt8Calibration(dir, calibration);
    expect(readInt8Calibration(dir)).toEqual(calibration);
    const weights = readFileSync(join(dir, 'weights.bin'));
    weights[0] ^= 1;
    writeFileSync(join(dir, 'weights.bin'), weights);
    expect(readInt8Calibration(dir)).toBeNull();
  }));

  it('names the file when int8.json is not a calibration', withCopy((dir) => {
    writeFileSync(join(dir, 'int8.json'), '{"format": "modl-int8-calibration", "activationMax": [[0]]}');
    expect(() => readInt8Calibration(dir)).toThrow(/int8\.json.*positive activationMax/);
  }));

  it('without one, calibrates on the first batch: the same images as with that calibration stored', withCopy(async (dir) => {
    if (!available) return;
    const scans = [testSample(40, 32, 0), testSample(40, 32, 2)].map(({ kspace, maps, mask }) => ({ kspace, maps, mask }));
    const fresh = ModlReconstructor.load(dir, { precision: 'int8' });
    const got = await fresh.reconstruct(scans);
    const probe = ModlReconstructor.load(dir);
    writeInt8Calibration(dir, await probe.calibrateInt8(scans));
    probe.dispose();
    fresh.dispose();
    const stored = ModlReconstructor.load(dir, { precision: 'int8' });
    const want = await stored.reconstruct(scans);
    stored.dispose();
    got.forEach((x, b) => expect(relErr(x.data, want[b]!.data)).toBe(0));
  }));
});

describe('int8 where ONNX Runtime is switched off', () => {
  it('refuses with a ModlError (and no unhandled rejection when the network is disposed)', async () => {
    process.env.MODL_DENOISER = 'tfjs';
    try {
      const net = ModlReconstructor.load(shippedCheckpoint('modl'), { precision: 'int8' });
      const { kspace, maps, mask } = testSample(40, 32, 0);
      await expect(net.reconstruct([{ kspace, maps, mask }])).rejects.toThrow(/int8 inference runs on ONNX Runtime/);
      net.dispose();
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      delete process.env.MODL_DENOISER;
    }
  });
});

describe('the shipped network in int8', () => {
  it('carries a calibration of its own weights', () => {
    expect(readInt8Calibration(shippedCheckpoint('modl'))).not.toBeNull();
  });

  it('scores within 0.02 dB PSNR and 0.002 SSIM of float32 on the real case at 4× (3 seeds)', async (ctx) => {
    if (!available || !existsSync(join(REAL, 'brain_alias_8ch_full.cfl'))) ctx.skip();
    const c = loadRealCase(REAL);
    const score = async (precision: 'float32' | 'int8') => {
      const net = ModlReconstructor.load(shippedCheckpoint('modl'), { precision });
      const rows = await evaluateRealCase(c, { net, accelerations: [4], bart: false });
      net.dispose();
      return rows.find((r) => r.method === 'MoDL')!.metrics;
    };
    const [int8, float] = [await score('int8'), await score('float32')];
    expect(int8.psnr).toBeGreaterThan(float.psnr - 0.02);
    expect(int8.ssim).toBeGreaterThan(float.ssim - 0.002);
  }, 120_000);
});
