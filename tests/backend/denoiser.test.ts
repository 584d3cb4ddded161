/** The MoDL denoiser: structure, initialisation, BN modes and (de)serialisation. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { Denoiser } from '../../src/nn/denoiser.js';
import { ModlError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-denoiser-'));

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = () => tf.randomNormal([2, 12, 10, 2], 0, 1, 'float32', 7) as tf.Tensor4D;

describe('Denoiser', () => {
  it('recalibrates running statistics to the plain average of the batches it is shown', async () => {
    const net = Denoiser.create(6, { depth: 3, width: 8, momentum: 0.1 });
    net.setStatsSlots(2);
    const a = input(), b = tf.randomNormal([2, 12, 10, 2], 0.5, 2, 'float32', 8) as tf.Tensor4D;
    tf.tidy(() => { net.apply(b, true, { slot: 1 }); }); // some history the recalibration must forget
    const batchMean = (x: tf.Tensor4D) => Array.from(tf.tidy(() => tf.moments(tf.conv2d(x, net.namedWeights()['conv1/kernel'] as tf.Tensor4D, 1, 'same'), [0, 1, 2]).mean).dataSync());
    await net.recalibrateStats(async () => {
      tf.tidy(() => { net.apply(a, true, { slot: 1 }); });
      tf.tidy(() => { net.apply(b, true, { slot: 1 }); });
    });
    const got = Array.from(net.namedWeights()['bn1/running_mean/slot1']!.dataSync());
    const want = batchMean(a).map((v, i) => (v + batchMean(b)[i]!) / 2);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    // slot 0 was not shown any batch and keeps its values; afterwards the momentum rule is back
    expect(Array.from(net.namedWeights()['bn1/running_mean']!.dataSync())).toEqual(new Array(8).fill(0));
    tf.tidy(() => { net.apply(a, true, { slot: 1 }); });
    const after = Array.from(net.namedWeights()['bn1/running_mean/slot1']!.dataSync());
    after.forEach((v, i) => expect(v).toBeCloseTo(0.9 * got[i]! + 0.1 * batchMean(a)[i]!, 5));
    tf.dispose([a, b]);
    net.dispose();
  });

  it('recomputing activations in the backward pass gives the same output and gradients, and stores statistics once', () => {
    const nets = [Denoiser.create(4, { depth: 4, width: 8 }), Denoiser.create(4, { depth: 4, width: 8 })];
    const x = input(), w = tf.randomNormal([2, 12, 10, 2], 0, 1, 'float32', 9);
    const before = tf.memory().numTensors;
    // two chained applications, as in an unrolled network, with x itself a differentiated input
    const run = (net: Denoiser, recompute: boolean) => {
      const apply = (v: tf.Tensor4D) => (recompute ? net.applyRecomputed(v) : net.apply(v, true));
      const xv = tf.variable(x);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(apply(apply(xv)), w)), [xv, ...net.trainableVariables()]);
      const out = { loss: value.dataSync()[0]!, grads: Object.values(grads).map((g) => Array.from(g.dataSync())) };
      tf.dispose([value, xv, ...Object.values(grads)]);
      return out;
    };
    const plain = run(nets[0]!, false), recomputed = run(nets[1]!, true);
    expect(tf.memory().numTensors).toBe(before); // nothing leaked by the nested gradient
    expect(recomputed.loss).toBeCloseTo(plain.loss, 4);
    expect(recomputed.grads).toHaveLength(plain.grads.length);
    recomputed.grads.forEach((g, i) => {
      const p = plain.grads[i]!;
      const err = Math.sqrt(g.reduce((s, v, j) => s + (v - p[j]!) ** 2, 0) / p.reduce((s, v) => s + v * v, 0));
      expect(err, `gradient ${i}`).toBeLessThan(1e-5);
    });
    // the recomputation does not fold the batch statistics in a second time
    const stats = (net: Denoiser) => Array.from(net.namedWeights()['bn2/running_mean']!.dataSync());
    expect(stats(nets[1]!)).toEqual(stats(nets[0]!));
    nets.forEach((n) => n.dispose());
    x.dispose();
    w.dispose();
  });

  it('has the MoDL layer plan and He-initialised kernels from the seed', () => {
    const net = Denoiser.create(11, { depth: 5, width: 64 });
    const w = net.namedWeights();
    expect(w['conv1/kernel']!.shape).toEqual([3, 3, 2, 64]);
    expect(w['conv3/kernel']!.shape).toEqual([3, 3, 64, 64]);
    expect(w['conv5/kernel']!.shape).toEqual([3, 3, 64, 2]);
    expect(net.trainableVariables()).toHaveLength(15);
    const k = w['conv3/kernel']!.dataSync();
    const std = Math.sqrt(k.reduce((s, v) => s + v * v, 0) / k.length);
    expect(Math.abs(std / Math.sqrt(2 / (9 * 64)) - 1)).toBeLessThan(0.02);
    const again = Denoiser.create(11).namedWeights()['conv3/kernel']!.dataSync();
    const other = Denoiser.create(12).namedWeights()['conv3/kernel']!.dataSync();
    expect(Array.from(again)).toEqual(Array.from(k));
    expect(Array.from(other)).not.toEqual(Array.from(k));
  });

  it('is residual: with the last BN zeroed, D(x) = x', () => {
    const net = Denoiser.create(1, { depth: 3, width: 8 });
    net.namedWeights()['bn3/gamma']!.assign(tf.zeros([2]) as tf.Tensor1D);
    const x = input();
    for (const training of [true, false]) {
      const y = net.apply(x, training);
      expect(y.shape).toEqual(x.shape);
      expect(tf.max(tf.abs(tf.sub(y, x))).dataSync()[0]).toBeLessThan(1e-6);
      y.dispose();
    }
  });

  it('updates running statistics in training mode and uses them in inference mode', () => {
    const net = Denoiser.create(2, { depth: 2, width: 4, momentum: 0.25 });
    const x = input();
    const kernel = net.namedWeights()['conv1/kernel']!;
    const z = tf.conv2d(x, kernel as tf.Tensor4D, 1, 'same');
    const batchMean = tf.mean(z, [0, 1, 2]).dataSync();
    const batchVar = tf.moments(z, [0, 1, 2]).variance.dataSync();
    const count = z.size / z.shape[3]!;
    net.apply(x, true).dispose();
    const rm = net.namedWeights()['bn1/running_mean']!.dataSync();
    const rv = net.namedWeights()['bn1/running_variance']!.dataSync();
    for (let c = 0; c < 4; c++) {
      expect(rm[c]).toBeCloseTo(0.25 * batchMean[c]!, 5);
      expect(rv[c]).toBeCloseTo(0.75 + 0.25 * batchVar[c]! * count / (count - 1), 5);
    }
    // without the update, running statistics stay put
    net.apply(x, true, { updateRunningStats: false }).dispose();
    expect(Array.from(net.namedWeights()['bn1/running_mean']!.dataSync())).toEqual(Array.from(rm));
    // inference: every layer normalised with its running statistics
    const w = net.namedWeights();
    const bn = (t: tf.Tensor, l: number) => tf.add(tf.mul(tf.mul(tf.sub(t, w[`bn${l}/running_mean`]!),
      tf.rsqrt(tf.add(w[`bn${l}/running_variance`]!, 1e-5))), w[`bn${l}/gamma`]!), w[`bn${l}/beta`]!);
    const expected = tf.tidy(() => {
      const h1 = tf.relu(bn(tf.conv2d(x, w['conv1/kernel'] as tf.Tensor4D, 1, 'same'), 1)) as tf.Tensor4D;
      return tf.add(x, bn(tf.conv2d(h1, w['conv2/kernel'] as tf.Tensor4D, 1, 'same'), 2));
    });
    const actual = net.apply(x, false);
    expect(tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('saves to model.json + weights.bin and loads back identically', async () => {
    const net = Denoiser.create(5, { depth: 3, width: 6 });
    const x = input();
    net.apply(x, true).dispose(); // move the running statistics off their defaults
    await net.save(join(dir, 'a'));
    const model = JSON.parse(readFileSync(join(dir, 'a', 'model.json'), 'utf8'));
    expect(model.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(model.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toContain('bn2/running_variance');
    const loaded = Denoiser.load(join(dir, 'a'));
    expect(loaded.config).toEqual(net.config);
    for (const [name, w] of Object.entries(net.namedWeights())) {
      expect(Array.from(loaded.namedWeights()[name]!.dataSync())).toEqual(Array.from(w.dataSync()));
    }
    expect(Array.from(loaded.apply(x, false).dataSync())).toEqual(Array.from(net.apply(x, false).dataSync()));
  });

  it('rejects broken files with an error naming the file', async () => {
    const net = Denoiser.create(5, { depth: 2, width: 3 });
    await net.save(join(dir, 'b'));
    writeFileSync(join(dir, 'b', 'weights.bin'), new Uint8Array(10));
    expect(() => Denoiser.load(join(dir, 'b'))).toThrow(ModlError);
    expect(() => Denoiser.load(join(dir, 'b'))).toThrow(/weights\.bin.*10 bytes/);
    expect(() => Denoiser.load(join(dir, 'missing'))).toThrow(/missing.*model\.json/);
    writeFileSync(join(dir, 'b', 'model.json'), '{"format": "something else"}');
    expect(() => Denoiser.load(join(dir, 'b'))).toThrow(/model\.json: not a modl-denoiser/);
  });
});
