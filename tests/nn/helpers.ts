import { birdcageMaps } from '../../src/physics/coils.js';
import { czeros, type CArray } from '../../src/physics/complex.js';
import { poissonDiscMask2d, randomMask1d } from '../../src/physics/masks.js';
import { SenseOp } from '../../src/physics/sense.js';
import type { ReconSample } from '../../src/nn/batch.js';
import type { PairSource } from '../../src/nn/train.js';

/** A small smooth complex object with some texture and phase, varied by `seed`. */
export function testObject(H: number, W: number, seed = 0): CArray {
  const x = czeros([H, W]);
  for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    const u = (i - H / 2) / (0.4 * H), v = (j - W / 2) / (0.4 * W);
    if (u * u + v * v >= 1) continue;
    const m = 0.5 + 0.4 * Math.cos((5 + seed) * u) * Math.sin(3 * v) + (i % 8 < 2 ? 0.3 : 0);
    x.data[2 * (i * W + j)] = m * Math.cos(0.5 * u + seed);
    x.data[2 * (i * W + j) + 1] = m * Math.sin(0.5 * u + seed);
  }
  return x;
}

/** A noiseless training pair: 4 birdcage coils, 4× Poisson (even seeds) or random 1D (odd seeds). */
export function testSample(H: number, W: number, seed = 0, C = 4): ReconSample {
  const target = testObject(H, W, seed);
  const maps = birdcageMaps(C, H, W, { rotation: 0.4 * seed });
  const mask = seed % 2 === 0
    ? poissonDiscMask2d(H, W, { acceleration: 4, seed: seed + 1, calib: 8 }).mask
    : randomMask1d(H, W, { acceleration: 3, seed: seed + 1 }).mask;
  const kspace = czeros([C, H, W]);
  new SenseOp(maps, null).forward(target.data, [kspace.data]);
  return { kspace, maps, mask, target };
}

export function memorySource(samples: ReconSample[]): PairSource {
  return { length: samples.length, load: async (i) => samples[i]!, describe: () => ({ kind: 'memory', slices: samples.length }) };
}
