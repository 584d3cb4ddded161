/**
 * The site-retrain job end to end at toy size: a phantom "site" volume, a tiny
 * VAE and MoDL to start from. It must keep the held-back slices out of
 * training, fine-tune a new checkpoint, evaluate all four methods on the
 * held-back slices, and continue rather than redo work when run again.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSiteRetrain, SITE_RETRAIN_DEFAULTS, splitSlices, type SiteRetrainJob } from '../../pipelines/site-retrain.js';
import { initBackend } from '../../src/backend/index.js';
import { saveGenerator } from '../../src/generative/checkpoint.js';
import { DEFAULT_VAE, Vae } from '../../src/generative/vae.js';
import { readNiftiVolumes, writeNifti } from '../../src/io/nifti.js';
import { affineFromSpacing } from '../../src/io/volume.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/nn/checkpoint.js';
import { Modl } from '../../src/nn/modl.js';
import { PhantomGenerator } from '../../src/images/phantom-generator.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-site-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const S = 10, N = 32;

let job: SiteRetrainJob;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
  const slices = await new PhantomGenerator({}).sample(S, 5, [N, N]);
  const data = new Float32Array(S * N * N);
  slices.forEach((s, i) => data.set(s, i * N * N));
  const site = join(tmp, 'site.nii.gz');
  writeNifti(site, { data, shape: [S, N, N], spacing: [1, 1, 3], affine: affineFromSpacing([1, 1, 3]), source: { format: 'nifti', path: site } });
  const vae = new Vae({ ...DEFAULT_VAE, size: 16, latent: 8, baseChannels: 4, maxChannels: 16, startRes: 4 }, 1);
  await saveGenerator(join(tmp, 'vae'), vae);
  vae.dispose();
  const modl = Modl.create({ denoiser: { depth: 3, width: 8, momentum: 0.1, epsilon: 1e-5 }, stages: 2, cgIterations: 4, lambda: 0.05 }, 3);
  await saveCheckpoint(join(tmp, 'modl'), modl);
  modl.dispose();
  const d = SITE_RETRAIN_DEFAULTS;
  job = {
    ...d, images: site, outDir: join(tmp, 'out'),
    generator: { ...d.generator, init: join(tmp, 'vae'), epochs: 1, pool: 32, batchSize: 8 },
    synth: { ...d.synth, count: 8, shardSize: 4 },
    finetune: { ...d.finetune, checkpoint: join(tmp, 'modl'), epochs: 1, stepsPerEpoch: 2, validationSlices: 1 },
  };
});

describe('splitting the site volume', () => {
  it('holds back a middle block with a one-slice gap to the training slices', () => {
    expect(splitSlices(20, 0.2)).toEqual({ heldOut: [8, 12], train: [[0, 7], [13, 20]] });
    expect(splitSlices(10, 0.2)).toEqual({ heldOut: [4, 6], train: [[0, 3], [7, 10]] });
    expect(splitSlices(4, 0.5)).toEqual({ heldOut: [1, 3], train: [[0, 1], [3, 4]] }); // too few slices for a gap
    expect(() => splitSlices(2, 0.5)).toThrow(/at least 3 slices/);
  });
});

describe('the site-retrain job', () => {
  it('fits the generator, fine-tunes MoDL and compares four methods on the held-back slices only', async () => {
    const r = await runSiteRetrain(job);
    expect(r.heldOut).toEqual([4, 6]);
    // the generator and MoDL saw only the training blocks; the held-back file holds exactly slices 4-5
    const trainedOn = JSON.parse(readFileSync(join(r.generator, 'generator.json'), 'utf8')).trainingSet.spec.images as string[];
    expect(trainedOn.map((f) => f.replace(/.*\//, ''))).toEqual(['train-slices-0-2.nii.gz', 'train-slices-7-9.nii.gz']);
    const source = readNiftiVolumes(job.images)[0]!, held = readNiftiVolumes(join(job.outDir, 'site', 'held-out.nii.gz'))[0]!;
    expect(held.shape).toEqual([2, N, N]);
    expect(Array.from(held.data)).toEqual(Array.from(source.data.subarray(4 * N * N, 6 * N * N)));
    // a new checkpoint with the base's architecture, and weights that moved
    const base = loadCheckpoint(join(tmp, 'modl')), tuned = loadCheckpoint(r.checkpoint);
    expect(tuned.meta.stages).toBe(2);
    const diff = tf.tidy(() => tf.sum(tf.abs(tf.sub(base.model.namedWeights()['conv1/kernel']!, tuned.model.namedWeights()['conv1/kernel']!))).dataSync()[0]!);
    expect(diff).toBeGreaterThan(0);
    base.model.dispose();
    tuned.model.dispose();
    // four rows with metrics against the held-back slices, and the report
    expect(r.results.map((x) => x.label ?? x.method)).toEqual(['zero-filled', 'cgsense', 'MoDL (shipped)', 'MoDL (site)']);
    for (const x of r.results) expect(Number.isFinite(x.metrics!.psnr)).toBe(true);
    const metrics = JSON.parse(readFileSync(join(job.outDir, 'metrics.json'), 'utf8')).metrics;
    expect(Object.keys(metrics)).toEqual(['zero-filled', 'cgsense', 'MoDL (shipped)', 'MoDL (site)']);
    expect(readFileSync(r.report, 'utf8')).toMatch(/\| MoDL \(site\) \|/);
    expect(existsSync(join(r.generator, 'report.md'))).toBe(true);
  });

  it('continues instead of redoing work when run again', async () => {
    const weights = join(job.outDir, 'generator', 'weights.bin');
    const before = statSync(weights).mtimeMs;
    const r = await runSiteRetrain(job);
    expect(statSync(weights).mtimeMs).toBe(before); // the generator is not refitted
    const log = readFileSync(join(job.outDir, 'modl-run', 'train.jsonl'), 'utf8').trim().split('\n');
    expect(log.filter((l) => JSON.parse(l).type === 'step')).toHaveLength(2); // no extra fine-tuning steps
    expect(r.results).toHaveLength(4);
  });
});
