import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { birdcageMaps } from '../../src/physics/coils.js';
import { cdotRe } from '../../src/physics/complex.js';
import { isColumnMask } from '../../src/physics/readout-window.js';
import { poissonDiscMask2d, randomMask1d } from '../../src/physics/masks.js';
import { SenseBatch, SenseOp } from '../../src/physics/sense.js';
import { Rng } from '../../src/util/random.js';
import { kspaceLoss, selfSupervisedBatch, splitSampling } from '../../src/nn/ssdu.js';
import { randomComplex } from '../helpers/random.js';

const [C, H, W] = [3, 24, 20];
const masks = {
  '1D random': randomMask1d(H, W, { acceleration: 2, seed: 3 }).mask,
  '2D Poisson disc': poissonDiscMask2d(H, W, { acceleration: 2, seed: 4, calib: 6 }).mask,
};

describe('SSDU split of the sampled locations', () => {
  for (const [name, mask] of Object.entries(masks)) {
    it(`${name}: disjoint sets whose union is the mask, ~40 % held, centre kept`, () => {
      const { kept, held } = splitSampling(mask, H, W, 0.4, new Rng(7));
      let sampled = 0, nHeld = 0;
      for (let i = 0; i < H * W; i++) {
        expect(kept[i]! * held[i]!).toBe(0);
        expect(kept[i]! + held[i]!).toBe(mask[i]! > 0 ? 1 : 0);
        sampled += mask[i]! > 0 ? 1 : 0;
        nHeld += held[i]!;
      }
      expect(Math.abs(nHeld / sampled - 0.4)).toBeLessThan(0.08);
      // the k-space centre (4 lines / a 4×4 block, all sampled here) stays with the network
      for (let y = H / 2 - 2; y < H / 2 + 2; y++) for (let x = W / 2 - 2; x < W / 2 + 2; x++) expect(kept[y * W + x]).toBe(1);
      // 1D masks split by whole columns, so both sets are 1D masks again
      if (name.startsWith('1D')) expect(isColumnMask(kept, H, W) && isColumnMask(held, H, W)).toBe(true);
      // seeded: the same seed gives the same split, another seed another
      expect(splitSampling(mask, H, W, 0.4, new Rng(7)).held).toEqual(held);
      expect(splitSampling(mask, H, W, 0.4, new Rng(8)).held).not.toEqual(held);
    });
  }
});

describe('SSDU k-space loss', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const maps = birdcageMaps(C, H, W, { rotation: 0.5 });

  it('has a gradient that matches finite differences', () => {
    const ops = [new SenseOp(maps, masks['2D Poisson disc']), new SenseOp(maps, masks['1D random'])];
    const targets = [0, 1].map((b) => randomComplex(C * H * W, 30 + b).map((v, i) => (ops[b]!.mask![(i >> 1) % (H * W)]! > 0 ? v : 0)));
    const x0 = randomComplex(2 * H * W, 40);
    const A = new SenseBatch(ops);
    const L = (x: Float32Array) => kspaceLoss(tf.tensor4d(x, [2, H, W, 2]), A, targets).dataSync()[0]!;
    const g = tf.grad((x: tf.Tensor) => kspaceLoss(x as tf.Tensor4D, A, targets))(tf.tensor4d(x0, [2, H, W, 2])).dataSync() as Float32Array;
    for (const seed of [41, 42, 43]) {
      const d = randomComplex(2 * H * W, seed);
      // the loss comes back as float32 (resolution ~2e-7 at L ≈ 2): a smaller step drowns in round-off
      const eps = 1e-2;
      const fd = (L(x0.map((v, i) => v + eps * d[i]!)) - L(x0.map((v, i) => v - eps * d[i]!))) / (2 * eps);
      expect(Math.abs(fd - cdotRe(g, d)) / Math.abs(fd)).toBeLessThan(2e-3);
    }
    // at the truth the loss is zero
    const truth = randomComplex(H * W, 50);
    const y = new Float32Array(2 * C * H * W);
    ops[0]!.forward(truth, [y]);
    expect(kspaceLoss(tf.tensor4d(truth, [1, H, W, 2]), new SenseBatch([ops[0]!]), [y]).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('never lets a loss sample or an unsampled location into the network input or DC', () => {
    const mask = masks['1D random'];
    const split = splitSampling(mask, H, W, 0.4, new Rng(1));
    const kspace = { data: randomComplex(C * H * W, 60), shape: [C, H, W] };
    const sample = { kspace, maps, mask };
    const b1 = selfSupervisedBatch([sample], [split]);
    // change the k-space wherever the network is not meant to look: held (Λ) and unsampled locations
    const other = kspace.data.slice();
    for (let i = 0; i < other.length / 2; i++) if (split.kept[i % (H * W)] === 0) { other[2 * i] += 5; other[2 * i + 1] -= 3; }
    const b2 = selfSupervisedBatch([{ ...sample, kspace: { data: other, shape: kspace.shape } }], [split]);
    expect(b2.batch.problem.aty).toEqual(b1.batch.problem.aty);
    expect(b2.batch.scales).toEqual(b1.batch.scales);
    // …and the loss does see the held samples (and only sampled ones): the same output scores differently
    const x = tf.tensor4d(randomComplex(H * W, 61), [1, H, W, 2]);
    expect(b2.loss(x).dataSync()[0]).not.toBeCloseTo(b1.loss(x).dataSync()[0]!, 3);
    const unsampledOnly = kspace.data.slice();
    for (let i = 0; i < unsampledOnly.length / 2; i++) if (mask[i % (H * W)] === 0) unsampledOnly[2 * i] += 5;
    const b3 = selfSupervisedBatch([{ ...sample, kspace: { data: unsampledOnly, shape: kspace.shape } }], [split]);
    expect(b3.loss(x).dataSync()[0]).toBeCloseTo(b1.loss(x).dataSync()[0]!, 6);
    for (const b of [b1, b2, b3]) b.dispose();
  });
});
