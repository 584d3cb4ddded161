/**
 * `modl site-retrain`: the job of pipelines/site-retrain.ts from the command line.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs, requireOption } from '../args.js';
import { initBackendFromCli } from '../../backend/index.js';
import { backendCliOptions } from '../../backend/options.js';
import { MASK_KINDS, type MaskKind } from '../../physics/masks.js';
import { fileError, ModlError } from '../../util/errors.js';
import { formatDuration } from '../../util/progress.js';
import { checkOutputLocation } from '../../util/fs.js';

const options = {
  images: { type: 'string', arg: 'SITE', help: "the site's DICOM file or folder, or NIfTI volume" },
  kspace: { type: 'string', arg: 'FILE,...|DIR', help: `instead of --images: the site's raw undersampled k-space (.cfl, fastMRI/ISMRMRD .h5,
complex NIfTI; a folder: its .h5 files). MoDL is fine-tuned on it with SSDU, no reference needed` },
  'ssdu-steps': { type: 'string', arg: 'N', help: '--kspace: most SSDU steps, stopped early on held-out k-space (default 40)' },
  'simulate-accel': { type: 'string', arg: 'R', help: '--kspace: undersample fully sampled scans at R× first (their full data only scores)' },
  'mask-type': { type: 'string', arg: 'KIND', choices: MASK_KINDS, help: '--kspace with --simulate-accel: random, equispaced or poisson (default random)' },
  out: { type: 'string', arg: 'DIR', help: 'everything: site/, generator/, synth/, modl-run/, report.md, metrics.json' },
  series: { type: 'string', arg: 'N', help: 'which series of a multi-series input (default 0)' },
  'held-out': { type: 'string', arg: 'F', help: 'fraction of slices held back for evaluation, a block in the middle (default 0.2)' },
  vae: { type: 'string', arg: 'DIR', help: 'generator: the VAE whose decoder it starts from (default: checkpoints/vae)' },
  'generator-epochs': { type: 'string', arg: 'N', help: 'generator: epochs on the site slices (default 3)' },
  pool: { type: 'string', arg: 'N', help: 'generator: augmented site slices in its training pool (default 480)' },
  count: { type: 'string', arg: 'N', help: "training pairs to synthesise at the site's matrix (default 48)" },
  coils: { type: 'string', arg: 'N', help: 'coils of the training pairs and the evaluation (default 8)' },
  accel: { type: 'string', arg: 'R[,R]', help: 'accelerations of the training pairs (default 4); masks random and poisson' },
  checkpoint: { type: 'string', arg: 'DIR', help: 'fine-tuning: the MoDL to start from (default: checkpoints/modl)' },
  epochs: { type: 'string', arg: 'N', help: 'fine-tuning epochs (default 2)' },
  steps: { type: 'string', arg: 'N', help: 'fine-tuning steps per epoch (default 12)' },
  'batch-size': { type: 'string', arg: 'N', help: 'fine-tuning batch size (default 1)' },
  lr: { type: 'string', arg: 'LR', help: 'fine-tuning learning rate (Adam, default 1e-4)' },
  'eval-accel': { type: 'string', arg: 'R', help: 'retrospective acceleration of the held-back slices (default 4)' },
  'eval-mask': { type: 'string', arg: 'KIND', choices: MASK_KINDS, help: 'retrospective mask of the held-back slices: random, equispaced or poisson (default random)' },
  ...backendCliOptions,
} as const;

const usage = commandUsage(`modl site-retrain: adapt modl to a site. From its images: fit the generator on them, synthesise
training pairs, fine-tune the shipped MoDL, and evaluate on held-back slices. From its raw
undersampled k-space (--kspace): fine-tune the shipped MoDL on it self-supervised (SSDU), stopped
on held-out k-space, and evaluate (PSNR/SSIM too where scans are fully sampled, with --simulate-accel)

usage: modl site-retrain --images SITE --out DIR [options]
       modl site-retrain --kspace FILE,...|DIR --out DIR [--ssdu-steps 40] [--simulate-accel R] [--checkpoint DIR]

Run it again with the same --out to continue an interrupted job.`, options);

const posInt = (x: number) => Number.isInteger(x) && x > 0;

type Values = ReturnType<typeof parseCommandArgs<typeof options>>['values'];

/** The files of --kspace: a comma-separated list, or a folder's .h5 files. */
function kspaceInputs(spec: string): string[] {
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    const files = readdirSync(spec).filter((n) => n.endsWith('.h5')).sort().map((n) => join(spec, n));
    if (files.length === 0) throw fileError(spec, 'holds no .h5 k-space files');
    return files;
  }
  const files = spec.split(',').filter((f) => f);
  for (const f of files) if (!existsSync(f) && !existsSync(`${f}.cfl`)) throw fileError(f, 'not found');
  return files;
}

async function siteFromKspace(v: Values, outDir: string): Promise<void> {
  const { SITE_SSDU_DEFAULTS: d, runSiteSsdu } = await import('../../../pipelines/site-ssdu.js');
  const { metricsText } = await import('../../study/outputs.js');
  const kspace = kspaceInputs(v.kspace!);
  if (v.checkpoint && !existsSync(v.checkpoint)) throw fileError(v.checkpoint, 'not found');
  const simulate = v['simulate-accel'] === undefined ? undefined : {
    acceleration: numberOption('simulate-accel', v['simulate-accel'], 4, (x) => x >= 1),
    mask: (v['mask-type'] ?? 'random') as MaskKind, coils: 0, snrDb: Infinity, seed: 0,
  };
  await initBackendFromCli(v);
  const t0 = performance.now();
  const r = await runSiteSsdu({
    kspace, outDir, simulate, checkpoint: v.checkpoint ?? d.checkpoint, seed: d.seed,
    steps: numberOption('ssdu-steps', v['ssdu-steps'], d.steps, posInt),
    learningRate: numberOption('lr', v.lr, d.learningRate, (x) => x > 0),
  });
  r.results.forEach((res, i) => console.log(`${kspace[i]}\n${metricsText(res)}`));
  console.log(`site MoDL: ${r.checkpoint}\nreports: ${r.reports.join(', ')} (${formatDuration((performance.now() - t0) / 1000)})`);
}

const command: Command = {
  name: 'site-retrain',
  summary: 'fit the generator on a site\'s images, fine-tune MoDL on its synthetic data, evaluate',
  options,
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('site-retrain', argv, options);
    const outDir = requireOption('site-retrain', 'out', v.out);
    checkOutputLocation(outDir, 'folder');
    if (v.kspace !== undefined) {
      if (v.images !== undefined) throw new ModlError('site-retrain: give --images or --kspace, not both');
      return siteFromKspace(v, outDir);
    }
    const images = requireOption('site-retrain', 'images', v.images);
    if (!existsSync(images)) throw fileError(images, 'not found');
    for (const p of [v.vae, v.checkpoint]) if (p && !existsSync(p)) throw fileError(p, 'not found');
    const evalMask = (v['eval-mask'] ?? 'random') as MaskKind;
    const accelerations = (v.accel ?? '4').split(',').map(Number);
    if (accelerations.some((a) => !(a >= 1))) throw new ModlError(`--accel: expected accelerations ≥ 1, got '${v.accel}'`);

    const { SITE_RETRAIN_DEFAULTS: d, runSiteRetrain } = await import('../../../pipelines/site-retrain.js');
    const { metricsText } = await import('../../study/outputs.js');
    await initBackendFromCli(v);
    const coils = numberOption('coils', v.coils, d.synth.coils[0], posInt);
    const t0 = performance.now();
    const r = await runSiteRetrain({
      ...d, images, outDir,
      series: numberOption('series', v.series, d.series, (x) => Number.isInteger(x) && x >= 0),
      heldOutFraction: numberOption('held-out', v['held-out'], d.heldOutFraction, (x) => x > 0 && x < 1),
      generator: {
        ...d.generator, init: v.vae ?? d.generator.init,
        epochs: numberOption('generator-epochs', v['generator-epochs'], d.generator.epochs, posInt),
        pool: numberOption('pool', v.pool, d.generator.pool, posInt),
      },
      synth: { ...d.synth, count: numberOption('count', v.count, d.synth.count, posInt), coils: [coils, coils], accelerations },
      finetune: {
        ...d.finetune, checkpoint: v.checkpoint ?? d.finetune.checkpoint,
        epochs: numberOption('epochs', v.epochs, d.finetune.epochs, posInt),
        stepsPerEpoch: numberOption('steps', v.steps, d.finetune.stepsPerEpoch, posInt),
        batchSize: numberOption('batch-size', v['batch-size'], d.finetune.batchSize, posInt),
        learningRate: numberOption('lr', v.lr, d.finetune.learningRate, (x) => x > 0),
      },
      evaluate: { ...d.evaluate, acceleration: numberOption('eval-accel', v['eval-accel'], d.evaluate.acceleration, (x) => x >= 1), mask: evalMask, coils },
    });
    console.log(`held-back slices ${r.heldOut[0]}–${r.heldOut[1] - 1}\n${metricsText(r.results)}`);
    console.log(`site MoDL: ${r.checkpoint}\nsite generator: ${r.generator}\nreport: ${r.report} (${formatDuration((performance.now() - t0) / 1000)})`);
  },
};

export default command;
