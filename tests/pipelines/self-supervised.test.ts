/**
 * The self-supervised jobs end to end at toy size, on a fully sampled k-space
 * scan undersampled retrospectively and a tiny MoDL to start from:
 * `site-retrain --kspace` trains a site model on the undersampled k-space only
 * (SSDU), scores it against the full data's reference and is reused when the
 * job runs again; `recon --adapt` fine-tunes on the study before reconstructing.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RECON_JOB, runReconJob } from '../../pipelines/recon.js';
import { runSiteSsdu, SITE_SSDU_DEFAULTS, type SiteSsduJob } from '../../pipelines/site-ssdu.js';
import { initBackend } from '../../src/backend/index.js';
import { writeCfl } from '../../src/io/cfl.js';
import { saveCheckpoint } from '../../src/nn/checkpoint.js';
import { Modl } from '../../src/nn/modl.js';
import { testSample } from '../nn/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-ssdu-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const [H, W, C] = [48, 40, 4];

let job: SiteSsduJob;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
  const { kspace } = testSample(H, W, 1, C);
  writeCfl(join(tmp, 'scan'), kspace, [W, H, 1, C]);
  const modl = Modl.create({ denoiser: { depth: 3, width: 8, momentum: 0.1, epsilon: 1e-5 }, stages: 2, cgIterations: 4, lambda: 0.05 }, 3);
  await saveCheckpoint(join(tmp, 'modl'), modl);
  modl.dispose();
  job = {
    ...SITE_SSDU_DEFAULTS, kspace: [join(tmp, 'scan.cfl')], outDir: join(tmp, 'out'), checkpoint: join(tmp, 'modl'),
    simulate: { acceleration: 2, mask: 'random', coils: 0, snrDb: Infinity, seed: 0 }, steps: 3, learningRate: 1e-3,
  };
});

describe('self-supervised jobs (SSDU)', () => {
  it('fine-tunes on the k-space alone, scores both networks against the reference, and resumes', async () => {
    const first = await runSiteSsdu(job);
    expect(first.adapted).not.toBeNull();
    expect(first.adapted!.steps).toBeGreaterThan(0);
    const meta = JSON.parse(readFileSync(join(first.checkpoint, 'modl.json'), 'utf8'));
    expect(meta.trainedOn.objective).toMatch(/SSDU/);
    expect(meta.trainedOn.ssdu.holdoutBest).toBeLessThanOrEqual(meta.trainedOn.ssdu.holdoutBefore);
    const metrics = JSON.parse(readFileSync(join(tmp, 'out', 'eval', 'metrics.json'), 'utf8')).metrics;
    for (const k of ['zero-filled', 'cgsense', 'MoDL (shipped)', 'MoDL (site, SSDU)']) expect(metrics[k].psnr).toBeGreaterThan(10);
    expect(readFileSync(first.reports[0]!, 'utf8')).toMatch(/held-out k-space loss/);

    const written = statSync(join(first.checkpoint, 'weights.bin')).mtimeMs;
    const again = await runSiteSsdu(job);
    expect(again.adapted).toBeNull();
    expect(statSync(join(again.checkpoint, 'weights.bin')).mtimeMs).toBe(written);
  }, 120_000);

  it('recon --adapt: reconstructs after fine-tuning on the study, and says so in the report and metrics', async () => {
    const out = join(tmp, 'recon');
    const { results } = await runReconJob({
      ...DEFAULT_RECON_JOB, input: join(tmp, 'scan.cfl'), outDir: out, methods: ['modl'], checkpoint: join(tmp, 'modl'),
      simulate: job.simulate, adaptSteps: 2, writeImages: false,
    });
    expect(results[0]!.adapted!.steps).toBeGreaterThan(0);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).metrics;
    expect(metrics['MoDL + adapt'].adapted.steps).toBe(results[0]!.adapted!.steps);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/MoDL \+ adapt: fine-tuned on this study's own k-space/);
  }, 120_000);
});
