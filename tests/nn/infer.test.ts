import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { ModlReconstructor } from '../../src/nn/infer.js';
import { symmetries, transformImage, transformScan } from '../../src/physics/symmetry.js';
import { shippedCheckpoint } from '../../src/util/paths.js';
import { relErr } from '../helpers/random.js';
import { testSample } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});

describe('MoDL inference', () => {
  it('with --ensemble N returns the mean of the reconstructions of N symmetries of each scan, transformed back', async () => {
    const net = ModlReconstructor.load(shippedCheckpoint('modl'));
    const scans = [testSample(24, 20, 0), testSample(24, 20, 1)].map(({ kspace, maps, mask }) => ({ kspace, maps, mask }));
    const single = await net.reconstruct(scans);
    expect((await net.reconstruct(scans, { ensemble: 1 })).map((x) => x.data)).toEqual(single.map((x) => x.data));
    for (const n of [2, 8]) {
      const got = await net.reconstruct(scans, { ensemble: n, batchSize: 1 });
      for (const [b, scan] of scans.entries()) {
        const mean = new Float32Array(got[b]!.data.length);
        for (const s of symmetries(n)) {
          const x = transformImage((await net.reconstruct([transformScan(scan, s)]))[0]!, s);
          for (let i = 0; i < mean.length; i++) mean[i] += x.data[i]! / n;
        }
        expect(relErr(got[b]!.data, mean)).toBeLessThan(1e-5);
        // and the network is not exactly equivariant, so the mean is not the single reconstruction
        expect(relErr(got[b]!.data, single[b]!.data)).toBeGreaterThan(1e-3);
      }
    }
    net.dispose();
  });

  it('loads a checkpoint with its denoiser averaged over another number of symmetries when asked, the same weights', async () => {
    const scans = [testSample(24, 20, 0)].map(({ kspace, maps, mask }) => ({ kspace, maps, mask }));
    const images = new Map<number, Float32Array>();
    for (const n of [1, 4]) {
      const net = ModlReconstructor.load(shippedCheckpoint('modl'), { symmetries: n, symmetryPlan: 'fixed' });
      expect(net.model.denoiser.config).toMatchObject({ symmetries: n, symmetryPlan: 'fixed' });
      expect(net.model.denoiser.groupAt(0)).toHaveLength(n);
      images.set(n, (await net.reconstruct(scans))[0]!.data);
      net.dispose();
    }
    const difference = relErr(images.get(4)!, images.get(1)!);
    expect(difference).toBeGreaterThan(1e-3);
    expect(difference).toBeLessThan(0.2); // the same network, averaged
  });
});
