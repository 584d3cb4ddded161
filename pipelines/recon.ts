/**
 * The reconstruction job: any supported input → every chosen method → NIfTI,
 * DICOM series and PNGs per method, metrics where a reference exists, and a
 * Markdown report. Copy this file to build a variant (other methods, other
 * outputs); each step is one call into src/.
 */
import { join } from 'node:path';
import { loadStudy, type SimulateOptions } from '../src/study/study.js';
import { CG_SENSE_DEFAULTS } from '../src/physics/classical.js';
import type { ReconMethod } from '../src/study/methods.js';
import type { SymmetrySetting } from '../src/physics/symmetry.js';
import type { Precision } from '../src/nn/precision.js';
import { adaptProgressText, type AdaptProgress } from '../src/nn/adapt.js';
import {
  labelOf, REPORT_FILE, runMethod, writeComparisonFigures, writeMethodOutputs, writeReport, type MethodResult,
} from '../src/study/outputs.js';
import { ProgressBar } from '../src/util/progress.js';
import { checkOutputLocation, ensureDir, removeStaleTemps, writeFolderAtomic } from '../src/util/fs.js';

export interface ReconJob {
  input: string;
  outDir: string;
  methods: ReconMethod[];
  /** Retrospective undersampling of images or fully sampled k-space. */
  simulate?: SimulateOptions;
  maps?: string;
  series?: number;
  slices?: [number, number];
  checkpoint?: string;
  /** CG-SENSE settings. */
  lambda: number;
  iterations: number;
  /** Slices per MoDL batch. */
  batchSize: number;
  /** Scan-specific fine-tuning of MoDL before reconstructing (steps at most; 0: off). */
  adaptSteps: number;
  /** MoDL's self-ensemble over 1 (default), 2, 4 or 8 symmetries of each slice. */
  ensemble?: number;
  /** How MoDL's denoiser averages over symmetries (default: the checkpoint's). */
  symmetry?: SymmetrySetting;
  /** MoDL's inference arithmetic (default float32). */
  precision?: Precision;
  /** Write NIfTI/DICOM/PNG per method (metrics, figures and the report are always written). */
  writeImages: boolean;
  title?: string;
}

export const DEFAULT_RECON_JOB: Omit<ReconJob, 'input' | 'outDir'> = {
  methods: ['zero-filled', 'cgsense', 'modl'],
  ...CG_SENSE_DEFAULTS,
  batchSize: 4,
  adaptSteps: 0,
  writeImages: true,
};

/**
 * Runs the job. The output folder is written beside its final name and renamed
 * when complete, replacing what was there: a failed or killed run (a full disk
 * included) leaves no partial folder under the final name.
 */
export async function runReconJob(job: ReconJob): Promise<{ results: MethodResult[]; report: string }> {
  checkOutputLocation(job.outDir, 'folder');
  const study = await loadStudy(job.input, {
    maps: job.maps, simulate: job.simulate, series: job.series, slices: job.slices,
    onProgress: (m) => process.stderr.write(`\r${m}   `),
  });
  process.stderr.write('\n');
  removeStaleTemps(job.outDir);
  const results: MethodResult[] = [];
  await writeFolderAtomic(job.outDir, async (outDir) => {
    ensureDir(outDir);
    for (const method of job.methods) {
      const bar = new ProgressBar(study.samples.length, { label: method });
      const r = await runMethod(study, method, {
        lambda: job.lambda, iterations: job.iterations, checkpoint: job.checkpoint, batchSize: job.batchSize, ensemble: job.ensemble, symmetry: job.symmetry, precision: job.precision,
        ...(job.adaptSteps > 0 ? {
          adapt: { steps: job.adaptSteps, seed: job.simulate?.seed ?? 0, onProgress: (p: AdaptProgress) => process.stderr.write(`\r${adaptProgressText(p)}   `) },
          onAdapted: () => process.stderr.write('\n'),
        } : {}),
        onProgress: (done) => bar.update(done),
      });
      bar.finish();
      if (r.adapted) r.label = 'MoDL + adapt';
      if (method === 'modl' && job.precision === 'int8') r.label = `${labelOf(r)} (int8)`;
      if (job.writeImages) await writeMethodOutputs(outDir, study, r);
      results.push(r);
    }
    const shown = Math.floor(study.samples.length / 2);
    const figures = [writeComparisonFigures(outDir, study, results, shown)];
    writeReport(outDir, { title: job.title ?? `modl reconstruction of ${study.input}`, study, results, figures });
  });
  return { results, report: join(job.outDir, REPORT_FILE) };
}
