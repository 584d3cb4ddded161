/**
 * `modl site-retrain`: adapt modl to a new site's images.
 *
 *   1. split   the site's volume into training slices and a held-back block
 *              (with a one-slice gap on each side, so neighbours of test slices
 *              are not trained on), written as NIfTI under OUT/site/
 *   2. fit     the image generator on the training slices: a VAE whose decoder
 *              starts from the shipped one, trained on augmented site slices
 *   3. synth   multi-coil training pairs from that generator at the site's matrix
 *   4. tune    fine-tune the shipped MoDL checkpoint on those pairs
 *   5. eval    undersample the held-back slices retrospectively and compare
 *              zero-filled, CG-SENSE, the shipped MoDL and the site's MoDL
 *
 * Every stage writes into OUT and picks up where it stopped when the job is run
 * again with the same settings. Copy this file and change SITE_RETRAIN_DEFAULTS
 * (or any stage) to build a variant.
 */
import '../src/generative/generators.js';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadImageVolumes } from '../src/io/detect.js';
import { writeNifti } from '../src/io/nifti.js';
import { subVolume } from '../src/io/volume.js';
import { loadGenerator, saveGenerator, type GeneratorMeta } from '../src/generative/checkpoint.js';
import { buildTrainingSet } from '../src/generative/data.js';
import { reportForCheckpoint } from '../src/generative/report.js';
import { describeTrainingSet, trainGenerator } from '../src/generative/train.js';
import { ensureDir, resolveCheckpoint } from '../src/util/fs.js';
import type { VaeConfig } from '../src/generative/vae.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { datasetSources, limit } from '../src/nn/sources.js';
import { train } from '../src/nn/train.js';
import type { ReconMethod } from '../src/study/methods.js';
import { runMethod, writeComparisonFigures, writeReport, type MethodResult } from '../src/study/outputs.js';
import { loadStudy, type SimulateOptions } from '../src/study/study.js';
import type { SynthParameters } from '../src/synth/manifest.js';
import { synthesize } from '../src/synth/synthesize.js';
import { fileError, ModlError } from '../src/util/errors.js';
import { shippedCheckpoint } from '../src/util/paths.js';
import { ProgressBar } from '../src/util/progress.js';

export interface SiteRetrainJob {
  /** The site's images: a DICOM file or folder, or a NIfTI volume. */
  images: string;
  outDir: string;
  /** Which series of a multi-series input (default 0). */
  series: number;
  /** Fraction of the slices held back for evaluation (a contiguous block in the middle). */
  heldOutFraction: number;
  generator: {
    /** VAE checkpoint whose decoder starts the site's VAE (sampling-only checkpoints are fine). */
    init: string;
    epochs: number;
    /** Augmented site slices in the generator's training pool. */
    pool: number;
    batchSize: number;
    seed: number;
  };
  synth: Pick<SynthParameters, 'count' | 'coils' | 'accelerations' | 'masks' | 'snrDb' | 'shardSize' | 'seed' | 'phaseRms'>;
  finetune: {
    /** MoDL checkpoint to start from (default: the shipped one). */
    checkpoint: string;
    epochs: number;
    stepsPerEpoch: number;
    batchSize: number;
    learningRate: number;
    validationSlices: number;
    seed: number;
  };
  /** How the held-back slices are undersampled. */
  evaluate: SimulateOptions;
}

export const SITE_RETRAIN_DEFAULTS: Omit<SiteRetrainJob, 'images' | 'outDir'> = {
  series: 0,
  heldOutFraction: 0.2,
  generator: { init: shippedCheckpoint('vae'), epochs: 3, pool: 480, batchSize: 16, seed: 0 },
  synth: { count: 48, coils: [8, 8], accelerations: [4], masks: ['random', 'poisson'], snrDb: [25, 35], shardSize: 8, seed: 100, phaseRms: 1 },
  finetune: { checkpoint: shippedCheckpoint('modl'), epochs: 2, stepsPerEpoch: 12, batchSize: 1, learningRate: 1e-4, validationSlices: 2, seed: 0 },
  evaluate: { acceleration: 4, mask: 'random', coils: 8, snrDb: 30, seed: 7 },
};

export interface SiteRetrainResult {
  report: string;
  results: MethodResult[];
  generator: string;
  checkpoint: string;
  heldOut: [number, number];
}

const log = (m: string) => console.error(`site-retrain: ${m}`);

/** Slices [a, b) held back and the training blocks around them (one slice of gap each side when there is room). */
export function splitSlices(S: number, fraction: number): { heldOut: [number, number]; train: [number, number][] } {
  if (S < 3) throw new ModlError(`site-retrain needs a volume of at least 3 slices (got ${S})`);
  const n = Math.min(S - 2, Math.max(1, Math.round(fraction * S)));
  const a = Math.floor((S - n) / 2), b = a + n;
  const gap = S - n >= 6 ? 1 : 0;
  const train = ([[0, a - gap], [b + gap, S]] as [number, number][]).filter(([x, y]) => y > x);
  return { heldOut: [a, b], train };
}

export async function runSiteRetrain(job: SiteRetrainJob): Promise<SiteRetrainResult> {
  const out = resolve(job.outDir);
  ensureDir(join(out, 'site'));

  // 1. split
  const volumes = await loadImageVolumes(job.images);
  const vol = volumes[job.series];
  if (!vol) throw fileError(job.images, `has ${volumes.length} series/volume(s); --series ${job.series} does not exist`);
  const [S, H, W] = vol.shape;
  const split = splitSlices(S, job.heldOutFraction);
  const trainFiles = split.train.map(([a, b]) => {
    const file = join(out, 'site', `train-slices-${a}-${b - 1}.nii.gz`);
    writeNifti(file, subVolume(vol, a, b), { description: `modl site-retrain: training slices ${a}-${b - 1}` });
    return file;
  });
  const heldOutFile = join(out, 'site', 'held-out.nii.gz');
  writeNifti(heldOutFile, subVolume(vol, ...split.heldOut), { description: `modl site-retrain: held-back slices ${split.heldOut[0]}-${split.heldOut[1] - 1}` });
  log(`${S} slices of ${H}×${W}: slices ${split.heldOut[0]}–${split.heldOut[1] - 1} held back, ${split.train.map(([a, b]) => `${a}–${b - 1}`).join(' and ')} for training`);

  // 2. fit the generator
  const generatorDir = join(out, 'generator');
  if (!existsSync(join(generatorDir, 'generator.json'))) await fitGenerator(job, trainFiles, generatorDir);
  else log(`generator: ${generatorDir} exists, reused`);

  // 3. synthesise training pairs at the site's matrix
  const synthDir = join(out, 'synth');
  log(`synthesising ${job.synth.count} training pairs (${H}×${W}) from the site generator into ${synthDir}`);
  await synthesize({
    dir: synthDir, workers: 0, progress: true,
    parameters: { ...job.synth, generator: { name: 'vae', options: { checkpoint: generatorDir } }, size: [H, W] },
  });

  // 4. fine-tune MoDL
  const runDir = join(out, 'modl-run');
  const base = resolveCheckpoint(job.finetune.checkpoint);
  const { model, meta } = loadCheckpoint(base);
  const f = job.finetune;
  const { train: pairs, validation } = datasetSources(synthDir, 0.15, f.seed);
  log(`fine-tuning ${base} (K=${meta.stages}) for ${f.epochs}×${f.stepsPerEpoch} steps of ${f.batchSize}`);
  let bar: ProgressBar | null = null;
  const tuned = await train({
    outDir: runDir, train: pairs, validation: limit(validation, f.validationSlices), model, stages: meta.stages,
    epochs: f.epochs, stepsPerEpoch: f.stepsPerEpoch, batchSize: f.batchSize, learningRate: f.learningRate,
    clipNorm: 1, loss: 'mse', seed: f.seed, resume: true,
    trainedOn: { site: resolve(job.images), slices: split.train, init: base, generator: generatorDir, synth: synthDir },
    onStep(s) {
      if (s.step === 1) bar = new ProgressBar(s.stepsPerEpoch, { label: `fine-tune ${s.epoch}/${f.epochs}` });
      bar!.update(s.step);
      bar!.setStatus(`loss ${s.loss.toExponential(2)} λ ${s.lambda.toFixed(4)}`);
      if (s.step === s.stepsPerEpoch) bar!.finish();
    },
  });
  tuned.model.dispose();
  const siteCheckpoint = resolveCheckpoint(runDir);

  // 5. evaluate on the held-back slices
  log(`evaluating on held-back slices ${split.heldOut[0]}–${split.heldOut[1] - 1} (${job.evaluate.mask} ${job.evaluate.acceleration}×, ${job.evaluate.coils} coils)`);
  const study = await loadStudy(heldOutFile, { simulate: job.evaluate });
  const runs: { method: ReconMethod; label?: string; checkpoint?: string }[] = [
    { method: 'zero-filled' }, { method: 'cgsense' },
    { method: 'modl', label: 'MoDL (shipped)', checkpoint: base }, { method: 'modl', label: 'MoDL (site)', checkpoint: siteCheckpoint },
  ];
  const results: MethodResult[] = [];
  for (const r of runs) results.push(await runMethod(study, r.method, { checkpoint: r.checkpoint, batchSize: 2 }, r.label));
  const figures = [writeComparisonFigures(out, study, results, Math.floor(study.samples.length / 2))];
  const genMeta = JSON.parse(readFileSync(join(generatorDir, 'generator.json'), 'utf8')) as GeneratorMeta;
  const report = writeReport(out, {
    title: `modl site-retrain: ${job.images}`, study, results, figures,
    notes: [
      '## How the site model was made', '',
      `- held back: slices ${split.heldOut[0]}–${split.heldOut[1] - 1} of ${S} (never seen by the generator or MoDL); trained on ${split.train.map(([a, b]) => `${a}–${b - 1}`).join(', ')}`,
      `- generator: VAE from the decoder of \`${job.generator.init}\`, ${job.generator.epochs} epochs on ${job.generator.pool} augmented site slices (${(genMeta.training as { seconds?: number })?.seconds ?? '?'} s); quality report in [generator/report.md](generator/report.md)`,
      `- training pairs: ${job.synth.count} at ${H}×${W}, ${rangeText(job.synth.coils)} coils, masks ${job.synth.masks.join('/')} at ${job.synth.accelerations.join('/')}×, SNR ${rangeText(job.synth.snrDb)} dB`,
      `- MoDL: \`${base}\` fine-tuned for ${f.epochs}×${f.stepsPerEpoch} steps (batch ${f.batchSize}, Adam ${f.learningRate}) → \`${siteCheckpoint}\``,
    ],
  });
  return { report, results, generator: generatorDir, checkpoint: siteCheckpoint, heldOut: split.heldOut };
}

/** "8" for [8, 8], "25–35" for [25, 35]. */
const rangeText = ([a, b]: [number, number]) => (a === b ? `${a}` : `${a}–${b}`);

/** Stage 2: a VAE on the site's training slices, its decoder started from `job.generator.init`. */
async function fitGenerator(job: SiteRetrainJob, trainFiles: string[], dest: string): Promise<void> {
  const g = job.generator;
  const { model: start, meta } = await loadGenerator(g.init, 'vae');
  const config = meta.config as VaeConfig;
  const set = await buildTrainingSet({
    size: config.size, phantom: 0, labelled: 0, real: g.pool, images: trainFiles, minContent: 0.15, dropInferior: 0, seed: g.seed,
  });
  log(`generator: VAE ${config.size}² from ${g.init}, ${set.count} augmented site slices, ${g.epochs} epochs`);
  let bar: ProgressBar | null = null;
  const runDir = join(resolve(job.outDir), 'generator-run');
  const { model, history } = await trainGenerator({
    outDir: runDir, config, trainingSet: set, epochs: g.epochs, batchSize: g.batchSize, seed: g.seed, resume: true,
    init(m) { m.params.set(start.params.named(), (name) => name.startsWith('decoder/')); },
    onStep(s) {
      if (s.step === 1) bar = new ProgressBar(s.stepsPerEpoch, { label: `generator ${s.epoch}/${g.epochs}` });
      bar!.update(s.step);
      if (s.step === s.stepsPerEpoch) bar!.finish();
    },
  });
  start.dispose();
  await saveGenerator(dest, model, {
    samplingOnly: true, trainingSet: describeTrainingSet(set),
    training: {
      epochs: g.epochs, batchSize: g.batchSize, seed: g.seed, initDecoder: g.init, run: runDir,
      seconds: Math.round(history.reduce((s, e) => s + e.seconds, 0)), history: history.map((e) => ({ epoch: e.epoch, losses: e.losses })),
    },
  });
  model.dispose();
  await reportForCheckpoint(dest, { samples: 64 });
}
