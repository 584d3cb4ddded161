import { expect } from 'vitest';
import { openDataset } from '../../src/synth/dataset.js';
import { synthesize } from '../../src/synth/synthesize.js';

/** A small training set in `dir`: phantom slices, 2 coils, 2× random masks, 30 dB, seed 0. */
export async function phantomTrainingSet(dir: string, o: { count: number; size: number; shardSize: number }): Promise<void> {
  await synthesize({
    dir, workers: 0, parameters: {
      generator: { name: 'phantom', options: {} }, count: o.count, size: [o.size, o.size], coils: [2, 2], accelerations: [2], masks: ['random'],
      snrDb: [30, 30], shardSize: o.shardSize, seed: 0, phaseRms: 1,
    },
  });
}

/** Two synthetic datasets hold the same pairs: k-space, maps, target and mask of every slice. */
export async function expectSameDatasets(dir: string, reference: string): Promise<void> {
  const a = openDataset(reference), b = openDataset(dir);
  expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++) {
    const [pa, pb] = [await a.load(i), await b.load(i)];
    expect(pb.kspace.data).toEqual(pa.kspace.data);
    expect(pb.maps.data).toEqual(pa.maps.data);
    expect(pb.target.data).toEqual(pa.target.data);
    expect(pb.mask).toEqual(pa.mask);
  }
}
