import { expect } from 'vitest';
import { openDataset } from '../../src/synth/dataset.js';

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
