/** The one policy from a k-space slice to a reconstruction sample (physics/sample.ts). */
import { describe, expect, it } from 'vitest';
import { birdcageMaps } from '../../src/physics/coils.js';
import { czeros } from '../../src/physics/complex.js';
import { makeMask } from '../../src/physics/masks.js';
import { kspaceSample } from '../../src/physics/sample.js';
import { maskKspace, SenseOp } from '../../src/physics/sense.js';
import { zeroFilledSense } from '../../src/physics/classical.js';
import { rng } from '../helpers/random.js';

const H = 64, W = 128, C = 6; // 1D masks keep 8 % of the columns: 10 calibration lines, enough for ESPIRiT's 6×6 kernel

/** Fully sampled multi-coil k-space of a smooth object with noise (every location non-zero). */
function fullySampled() {
  const maps = birdcageMaps(C, H, W);
  const x = czeros([H, W]);
  for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    const r = Math.hypot((i - H / 2) / (0.4 * H), (j - W / 2) / (0.4 * W));
    x.data[2 * (i * W + j)] = r < 1 ? 1 - 0.5 * r * r : 0;
  }
  const y = czeros([C, H, W]);
  new SenseOp(maps, null).forward(x.data, [y.data]);
  const r = rng(3);
  for (let i = 0; i < y.data.length; i++) y.data[i]! += 1e-3 * (r() - 0.5);
  return y;
}

describe('kspaceSample: mask, maps and target of a k-space slice', () => {
  const kspace = fullySampled();
  const { mask } = makeMask('random', H, W, { acceleration: 4, seed: 1 });

  it('estimates the maps from the k-space as acquired: what lies outside the mask has no influence', () => {
    const a = kspaceSample(kspace, { mask });
    const outside = { data: kspace.data.slice(), shape: kspace.shape };
    const r = rng(9);
    for (let i = 0; i < outside.data.length / 2; i++) if (mask[i % (H * W)] === 0) outside.data[2 * i] += r() - 0.5;
    const b = kspaceSample(outside, { mask });
    expect(b.maps.data).toEqual(a.maps.data);
    expect(a.mask).toBe(mask);
  });

  it('gives a fully sampled slice its SENSE combination with those maps as target; an undersampled one none', () => {
    const a = kspaceSample(kspace, { mask });
    expect(a.target!.data).toEqual(zeroFilledSense(kspace, a.maps).data);
    const acquired = kspaceSample(maskKspace(kspace, mask));
    expect(acquired.target).toBeUndefined();
    expect(acquired.mask).toEqual(mask); // the slice's own pattern
    expect(acquired.maps.data).toEqual(a.maps.data); // the same policy from either road
  });

  it('uses given maps as they are', () => {
    const maps = birdcageMaps(C, H, W);
    expect(kspaceSample(kspace, { mask, maps }).maps).toBe(maps);
  });
});
