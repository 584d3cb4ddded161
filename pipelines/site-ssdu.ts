/**
 * `modl site-retrain --kspace`: adapt MoDL to a site from its own undersampled
 * k-space, with no fully sampled reference (SSDU, nn/ssdu.ts):
 *
 *   1. load    every scan (BART .cfl, fastMRI/ISMRMRD HDF5, complex NIfTI) as
 *              reconstruction samples, with the maps a file stores or ESPIRiT
 *              maps from each slice's own data; fully sampled scans are
 *              undersampled retrospectively first
 *   2. tune    fine-tune the shipped MoDL on all slices at once with the SSDU
 *              objective; HOLDOUT_FRACTION of each slice's samples is held out
 *              and stops it (nn/adapt.ts), saved to OUT/modl-ssdu
 *   3. eval    per scan: zero-filled, CG-SENSE, the shipped and the site MoDL;
 *              PSNR/SSIM where a fully sampled reference exists, and always the
 *              held-out k-space loss before and after
 *
 * Stage 2 is skipped when OUT/modl-ssdu already holds a checkpoint (written
 * atomically), so a job run again after an interruption only redoes stage 3.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ModlReconstructor } from '../src/nn/infer.js';
import { saveCheckpoint } from '../src/nn/checkpoint.js';
import type { AdaptReport } from '../src/nn/adapt.js';
import { ADAPT_LEARNING_RATE, HOLDOUT_FRACTION, adaptProgressText } from '../src/nn/adapt.js';
import type { ReconMethod } from '../src/study/methods.js';
import { runMethod, writeComparisonFigures, writeReport, type MethodResult } from '../src/study/outputs.js';
import { loadStudy, type SimulateOptions, type Study } from '../src/study/study.js';
import { ensureDir, readRegularFile } from '../src/util/fs.js';
import { shippedCheckpoint } from '../src/util/paths.js';

export interface SiteSsduJob {
  /** The site's k-space files. */
  kspace: string[];
  outDir: string;
  /** Retrospective undersampling of fully sampled inputs (their full data is used only to score). */
  simulate?: SimulateOptions;
  /** MoDL checkpoint to start from. */
  checkpoint: string;
  steps: number;
  learningRate: number;
  seed: number;
}

export const SITE_SSDU_DEFAULTS = { checkpoint: shippedCheckpoint('modl'), steps: 40, learningRate: ADAPT_LEARNING_RATE, seed: 0 };

export interface SiteSsduResult {
  checkpoint: string;
  adapted: AdaptReport | null;
  reports: string[];
  results: MethodResult[][];
}

const log = (m: string) => console.error(`site-retrain: ${m}`);

export async function runSiteSsdu(job: SiteSsduJob): Promise<SiteSsduResult> {
  const out = resolve(job.outDir);
  ensureDir(out);
  const studies: Study[] = [];
  for (const file of job.kspace) {
    log(`loading ${file}`);
    studies.push(await loadStudy(file, { simulate: job.simulate }));
  }
  const samples = studies.flatMap((s) => s.samples);
  log(`${job.kspace.length} scan(s), ${samples.length} slice(s)`);

  const siteDir = join(out, 'modl-ssdu');
  let adapted: AdaptReport | null = null;
  if (existsSync(join(siteDir, 'modl.json'))) log(`${siteDir} exists, reused`);
  else {
    const net = ModlReconstructor.load(job.checkpoint);
    log(`fine-tuning ${net.path} (K=${net.meta.stages}) on the scans' own k-space for at most ${job.steps} steps (SSDU)`);
    adapted = await net.adapt(samples, {
      steps: job.steps, learningRate: job.learningRate, seed: job.seed,
      onProgress: (p) => process.stderr.write(`\r${adaptProgressText(p)}   `),
    });
    process.stderr.write('\n');
    await saveCheckpoint(siteDir, net.model, {
      meta: {
        trainedOn: {
          site: job.kspace.map((f) => resolve(f)), objective: 'SSDU (self-supervised on the undersampled k-space)',
          init: net.path, simulate: job.simulate ?? null, ssdu: adapted,
        },
        training: { optimizer: 'adam', learningRate: job.learningRate, steps: adapted.steps, seed: job.seed },
      },
    });
    net.dispose();
  }

  const runs: { method: ReconMethod; label?: string; checkpoint?: string }[] = [
    { method: 'zero-filled' }, { method: 'cgsense' },
    { method: 'modl', label: 'MoDL (shipped)', checkpoint: job.checkpoint }, { method: 'modl', label: 'MoDL (site, SSDU)', checkpoint: siteDir },
  ];
  const reports: string[] = [];
  const all: MethodResult[][] = [];
  for (const [i, study] of studies.entries()) {
    const dir = join(out, studies.length === 1 ? 'eval' : `eval-${i}-${basename(study.input).replace(/[^\w.-]/g, '_')}`);
    ensureDir(dir);
    const results: MethodResult[] = [];
    for (const r of runs) results.push(await runMethod(study, r.method, { checkpoint: r.checkpoint, batchSize: 2 }, r.label));
    const figures = [writeComparisonFigures(dir, study, results, Math.floor(study.samples.length / 2))];
    const meta = JSON.parse(readRegularFile(join(siteDir, 'modl.json')).toString('utf8')) as { trainedOn?: { ssdu?: AdaptReport } };
    const a = meta.trainedOn?.ssdu;
    reports.push(writeReport(dir, {
      title: `modl site-retrain (self-supervised): ${study.input}`, study, results, figures,
      notes: [
        '## How the site model was made', '',
        `- \`${job.checkpoint}\` fine-tuned with SSDU on the undersampled k-space of ${job.kspace.length} scan(s) (${samples.length} slices), no reference image used → \`${siteDir}\``,
        ...(a ? [`- ${a.steps} steps (Adam ${job.learningRate}) in ${a.seconds.toFixed(0)} s; held-out k-space loss (${HOLDOUT_FRACTION * 100} % of the samples, never trained on) ${a.holdoutBefore.toFixed(4)} → ${a.holdoutBest.toFixed(4)}, kept step ${a.bestStep}`] : []),
      ],
    }));
    all.push(results);
  }
  return { checkpoint: siteDir, adapted, reports, results: all };
}
