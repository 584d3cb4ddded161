import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameDatasets } from '../helpers/datasets.js';
import { HAS_H5PY } from '../helpers/shared.js';
import { ifft2c } from '../../src/physics/fft.js';
import { rss } from '../../src/physics/classical.js';
import { readFastmri } from '../../src/io/hdf5.js';
import { openDataset, splitDataset } from '../../src/synth/dataset.js';
import { registerGenerator, type ImageGenerator } from '../../src/images/generator.js';
import { MANIFEST, planShards, readManifest, sliceChoices, writeManifest, type SynthParameters } from '../../src/synth/manifest.js';
import { PhantomGenerator } from '../../src/images/phantom-generator.js';
import { simulatePair } from '../../src/synth/simulate.js';
import { synthesize } from '../../src/synth/synthesize.js';

const root = mkdtempSync(join(tmpdir(), 'modl-synth-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const params: SynthParameters = {
  generator: { name: 'phantom', options: { field: 1.5, contrasts: ['t1', 't2'] } },
  count: 10, size: [48, 40], coils: [2, 4], accelerations: [2, 4], masks: ['random', 'poisson'],
  snrDb: [20, 30], shardSize: 2, seed: 5, phaseRms: 1,
};
const reference = join(root, 'reference');

beforeAll(async () => {
  await synthesize({ dir: reference, parameters: params, workers: 0 });
}, 60_000);

describe('synthetic dataset: write, then read back', () => {
  it('writes the planned shards, each with one coil count, and a complete manifest', () => {
    const m = readManifest(reference)!;
    expect(m.complete).toBe(true);
    expect(m.shards.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(m.generator.provenance).toMatchObject({ generator: 'phantom', field: 1.5 });
    for (const s of m.shards) {
      expect(s.coils).toBeGreaterThanOrEqual(2);
      expect(s.coils).toBeLessThanOrEqual(4);
      expect(s.sliceRecords).toHaveLength(2);
      expect(existsSync(join(reference, s.file))).toBe(true);
    }
  });

  it('openDataset gives back exactly the pairs simulatePair makes from the recorded seeds', async () => {
    const ds = openDataset(reference);
    expect(ds.length).toBe(10);
    const jobs = planShards(params);
    const gen = new PhantomGenerator({ field: 1.5, contrasts: ['t1', 't2'] });
    for (const i of [0, 5, 9]) {
      const { shard, slice } = ds.locate(i);
      const job = jobs[shard.index]!;
      const images = await gen.sample(job.count, job.imageSeed, params.size);
      const seed = job.sliceSeeds[slice]!;
      const choice = sliceChoices(params, seed);
      const expected = simulatePair({ data: images[slice]!, shape: params.size }, seed, {
        coils: job.coils, snrDb: choice.snrDb, phaseRms: 1, mask: { kind: choice.mask, acceleration: choice.acceleration },
      });
      const got = await ds.load(i);
      expect(got.kspace.shape).toEqual([job.coils, 48, 40]);
      expect(got.kspace.data).toEqual(expected.kspace.data);
      expect(got.maps.data).toEqual(expected.maps.data);
      expect(got.target.data).toEqual(expected.target.data);
      expect(got.mask).toEqual(expected.mask);
      expect(got.meta).toMatchObject({ seed, coils: job.coils, acceleration: choice.acceleration, mask: choice.mask });
      expect(got.meta.snrDb).toBeCloseTo(choice.snrDb, 12);
      expect(ds.meta(i).noiseSigma).toBe(expected.meta.noiseSigma);
    }
    expect(() => ds.locate(10)).toThrow(RangeError);
  });

  it('stores the fastMRI reference and attrs: RSS of the fully sampled coil images, its max and norm', async () => {
    const m = readManifest(reference)!;
    const f = await readFastmri(join(reference, m.shards[1]!.file));
    const [S, C, H, W] = f.kspace.shape as [number, number, number, number];
    let max = 0, ss = 0;
    for (let s = 0; s < S; s++) {
      const k = { data: f.kspace.data.subarray(s * 2 * C * H * W, (s + 1) * 2 * C * H * W), shape: [C, H, W] };
      const expected = rss(ifft2c(k));
      const stored = f.reference!.data.subarray(s * H * W, (s + 1) * H * W);
      for (let i = 0; i < H * W; i++) expect(stored[i]).toBeCloseTo(expected[i]!, 5);
      for (const v of stored) { max = Math.max(max, v); ss += v * v; }
    }
    expect(f.attrs.max).toBeCloseTo(max, 6);
    expect(f.attrs.norm).toBeCloseTo(Math.sqrt(ss), 4);
    expect(f.encoding).toMatchObject({ encodedMatrix: [48, 40, 1], reconMatrix: [48, 40, 1] });
    expect(f.mask!.shape).toEqual([2, 48, 40]);
  });

  it('splits deterministically into disjoint train/validation sets, by shard or by index', () => {
    const ds = openDataset(reference);
    const byShard = splitDataset(ds, { validationFraction: 0.4, seed: 3 });
    expect(splitDataset(ds, { validationFraction: 0.4, seed: 3 })).toEqual(byShard);
    expect([...byShard.train, ...byShard.validation].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(byShard.validation).toHaveLength(4);
    const shardsOf = (idx: number[]) => new Set(idx.map((i) => ds.locate(i).shard.index));
    for (const s of shardsOf(byShard.validation)) expect(shardsOf(byShard.train).has(s)).toBe(false);
    const byIndex = splitDataset(ds, { validationFraction: 0.3, by: 'index', seed: 1 });
    expect(byIndex.validation).toHaveLength(3);
    expect(new Set([...byIndex.train, ...byIndex.validation]).size).toBe(10);
  });

  it.skipIf(!HAS_H5PY)('opens with h5py the way fastMRI SliceDataset does (scripts/check-fastmri.py)', () => {
    const out = execFileSync('/usr/bin/python3', [resolve('scripts/check-fastmri.py'), reference], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toHaveLength(5);
    expect(out).not.toMatch(/FAIL/);
  });
});

describe('synthetic dataset: resume and parameters', () => {
  it('finishes an interrupted run on worker threads without redoing or duplicating shards', async () => {
    const dir = join(root, 'resumed');
    const first = await synthesize({ dir, parameters: params, workers: 2, stopAfterShards: 2 });
    expect(first.manifest.complete).toBe(false);
    expect(first.manifest.shards.length).toBeGreaterThanOrEqual(2);
    expect(() => openDataset(dir)).toThrow(/incomplete/);
    expect(openDataset(dir, { allowIncomplete: true }).length).toBe(2 * first.manifest.shards.length);

    // a harsher interruption: the last shard landed but the manifest never recorded it, and a temp file is left
    const m = readManifest(dir)!;
    const dropped = m.shards.pop()!;
    writeManifest(dir, m);
    writeFileSync(join(dir, 'data', '.shard-00004.h5.12345.tmp'), 'half a shard');

    const second = await synthesize({ dir, parameters: params, workers: 2 });
    expect(second.shardsKept).toBe(m.shards.length);
    expect(second.shardsMade).toBe(5 - m.shards.length);
    expect(second.manifest.complete).toBe(true);
    const indices = second.manifest.shards.map((s) => s.index);
    expect(indices).toEqual([0, 1, 2, 3, 4]);
    expect(indices).toContain(dropped.index);
    expect(readdirSync(join(dir, 'data')).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `shard-0000${i}.h5`));

    // identical content to the uninterrupted single-thread run
    await expectSameDatasets(dir, reference);

    // a third run has nothing left to do
    const third = await synthesize({ dir, parameters: params, workers: 2 });
    expect(third.shardsMade).toBe(0);
    expect(third.shardsKept).toBe(5);
  }, 120_000);

  it('refuses to mix parameters in one folder, and --overwrite starts over', async () => {
    const dir = join(root, 'mixed');
    const small = { ...params, count: 3 };
    await synthesize({ dir, parameters: small, workers: 0 });
    await expect(synthesize({ dir, parameters: { ...small, seed: 6 }, workers: 0 })).rejects.toThrow(/other parameters \(seed: 5 there, 6 now\)/);
    const again = await synthesize({ dir, parameters: { ...small, seed: 6 }, workers: 0, overwrite: true });
    expect(again.shardsMade).toBe(2);
    expect(readManifest(dir)!.parameters.seed).toBe(6);
    expect(existsSync(join(dir, MANIFEST))).toBe(true);
  });

  it('reports a generator that fails in a worker thread with its own message', async () => {
    const dir = join(root, 'broken');
    const p: SynthParameters = { ...params, generator: { name: 'images', options: { dir: join(root, 'no-such-folder') } } };
    await expect(synthesize({ dir, parameters: p, workers: 1 })).rejects.toThrow(/no-such-folder: no such folder/);
  }, 60_000);

  it('takes images from a main-thread generator (the runsIn: main path for learned generators)', async () => {
    const made: Float32Array[] = [];
    const rings: ImageGenerator = {
      name: 'test-rings',
      provenance: { generator: 'test-rings', checkpoint: 'none' },
      async sample(count, seed, [H, W]) {
        const out = Array.from({ length: count }, (_, k) => Float32Array.from({ length: H * W }, (_, i) => {
          const r = Math.hypot(Math.floor(i / W) - H / 2, (i % W) - W / 2);
          return 0.5 + 0.5 * Math.cos(r / (2 + ((seed + k) % 5)));
        }));
        made.push(...out.map((im) => im.slice()));
        return out;
      },
    };
    registerGenerator('test-rings', async () => rings, { runsIn: 'main' });
    const dir = join(root, 'rings');
    const p: SynthParameters = { ...params, generator: { name: 'test-rings', options: {} }, count: 4, snrDb: [Infinity, Infinity] };
    const result = await synthesize({ dir, parameters: p, workers: 1 });
    expect(result.manifest.generator.provenance).toEqual({ generator: 'test-rings', checkpoint: 'none' });
    const ds = openDataset(dir);
    for (let i = 0; i < 4; i++) {
      const pair = await ds.load(i);
      const t = pair.target.data;
      let worst = 0;
      for (let j = 0; j < 48 * 40; j++) worst = Math.max(worst, Math.abs(Math.hypot(t[2 * j]!, t[2 * j + 1]!) - made[i]![j]!));
      expect(worst).toBeLessThan(1e-5);
    }
  }, 60_000);
});
