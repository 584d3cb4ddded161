import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs } from '../args.js';
import { initBackendFromCli } from '../../backend/index.js';
import { backendCliOptions } from '../../backend/options.js';
import { MASK_KINDS, type MaskKind } from '../../physics/masks.js';
import { symmetryCliOptions } from '../network-options.js';
import { parseSymmetrySetting } from '../../physics/symmetry.js';
import { DEFAULT_MODL_CONFIG, Modl } from '../../nn/modl.js';
import { loadCheckpoint } from '../../nn/checkpoint.js';
import { withSymmetries } from '../../nn/grow.js';
import { concat, datasetSources, kspaceFileSource, limit, remask, type MaskPlan } from '../../nn/sources.js';
import { train, type PairSource } from '../../nn/train.js';
import { IMAGE_LOSSES, type ImageLoss } from '../../nn/loss.js';
import { checkOutputLocation, resolveCheckpoint, writeFileAtomic } from '../../util/fs.js';
import { ProgressBar } from '../../util/progress.js';
import { fileError, ModlError } from '../../util/errors.js';

const options = {
  data: { type: 'string', arg: 'DIR,...', help: 'data: modl synth datasets (split into train/validation by shard)' },
  kspace: { type: 'string', arg: 'FILE,...', help: `data: fully sampled k-space (fastMRI .h5, BART .cfl, complex NIfTI): ESPIRiT maps
and the SENSE-combined target per slice, masks drawn from --masks` },
  masks: { type: 'string', arg: 'SPEC', help: `retrospective masks KIND[+KIND]:R[,R], e.g. random+poisson:4,8; with --data it
replaces the stored masks` },
  'val-fraction': { type: 'string', arg: 'F', help: 'fraction of shards held out for validation (default 0.1)' },
  'val-slices': { type: 'string', arg: 'N', help: 'validate on at most N slices (default 8)' },
  stages: { type: 'string', arg: 'K', help: 'unrolled stages in this run (MoDL curriculum: 1, then 10 with --init; default 1)' },
  init: { type: 'string', arg: 'CKPT', help: 'start from this checkpoint (a folder with modl.json, or a training run);\nthe network options below are then ignored' },
  depth: { type: 'string', arg: 'N', help: 'network: denoiser conv layers (default 5)' },
  width: { type: 'string', arg: 'N', help: 'network: denoiser features (default 64)' },
  ...symmetryCliOptions,
  'cg-iterations': { type: 'string', arg: 'N', help: 'network: CG iterations of each data-consistency step (default 10)' },
  lambda: { type: 'string', arg: 'λ', help: 'network: initial data-consistency weight λ (learned; default 0.05)' },
  epochs: { type: 'string', arg: 'N', help: 'epochs (default 10)' },
  'batch-size': { type: 'string', arg: 'N', help: 'slices per step (default 2)' },
  'steps-per-epoch': { type: 'string', arg: 'N', help: 'steps per epoch (default: one pass over the training slices)' },
  lr: { type: 'string', arg: 'LR', help: 'Adam learning rate (default 1e-3)' },
  'final-lr': { type: 'string', arg: 'LR', help: `let the learning rate fall linearly from --lr to LR by the last step of --epochs
(default: constant; --epochs may then not change on --resume)` },
  clip: { type: 'string', arg: 'C', help: 'clip the gradient to global norm C (default 1; 0: off)' },
  loss: { type: 'string', arg: 'L', choices: IMAGE_LOSSES, help: 'training loss: mse (default), l1, or ssim (1 − SSIM of the magnitude, as fastMRI)' },
  seed: { type: 'string', arg: 'N', help: 'seed of the weights, the data order and the masks (default 0)' },
  resume: { type: 'boolean', help: `continue RUN from its last checkpoint (same trajectory); every setting but --epochs
(and that too with --final-lr) must be the one RUN was started with (RUN/run.json)` },
  out: { type: 'string', arg: 'RUN', help: 'run folder: epoch-NNNN/ checkpoints, latest.json, train.jsonl, run.json' },
  ...backendCliOptions,
} as const;

const usage = commandUsage(`modl train: train (or fine-tune) a MoDL network

usage: modl train --data DIR[,DIR...] --out RUN [options]
       modl train --kspace FILE[,FILE...] --masks poisson:4,8 --out RUN [options]`, options);

/** "random+poisson:4,8" → kinds [random, poisson], accelerations [4, 8]. */
export function parseMaskSpec(spec: string, seed: number): MaskPlan {
  const m = /^([a-z+]+):([\d.,]+)$/.exec(spec);
  const kinds = m?.[1]!.split('+') ?? [];
  const accelerations = m?.[2]!.split(',').map(Number) ?? [];
  if (!m || kinds.some((k) => !(MASK_KINDS as readonly string[]).includes(k)) || accelerations.some((a) => !(a >= 1))) {
    throw new ModlError(`--masks: expected KIND[+KIND]:R[,R] with kinds ${MASK_KINDS.join(', ')} (got '${spec}')`);
  }
  return { kinds: kinds as MaskKind[], accelerations, seed };
}

/** What a run was started with (RUN/run.json): everything but --epochs, which a resumed run may extend. */
type RunSettings = Record<string, unknown>;
const RUN_FILE = 'run.json';

/**
 * A run folder is continued only on purpose and only as it was started: without --resume a
 * folder that holds a run is refused (it would be overwritten epoch by epoch); with --resume
 * a folder without one is refused (nothing to continue), and so are changed settings.
 */
function checkRunFolder(out: string, settings: RunSettings, resume: boolean): void {
  const runFile = join(out, RUN_FILE);
  const hasRun = existsSync(join(out, 'latest.json')) || existsSync(runFile);
  if (!resume) {
    if (hasRun) throw new ModlError(`${out} already holds a training run: add --resume to continue it, or choose another --out`);
    return;
  }
  // run.json alone: killed before its first checkpoint, so resuming starts it again from the beginning
  if (!hasRun) throw new ModlError(`${out} holds no training run to resume (no latest.json or run.json); leave out --resume to start one`);
  if (!existsSync(runFile)) return; // a run from before run.json: nothing to compare
  const before = JSON.parse(readFileSync(runFile, 'utf8')) as RunSettings;
  // a setting a run.json predates reads as unset
  const changed = Object.keys({ ...before, ...settings }).filter((k) => (before[k] ?? null) !== (settings[k] ?? null));
  if (changed.length > 0) {
    const show = (x: unknown) => (x === null || x === undefined ? 'unset' : String(x));
    // an annealed run records its epochs among the settings (its schedule spans them)
    const mayChange = 'epochs' in settings ? 'nothing may change on --resume of a run with --final-lr' : 'only --epochs may change on --resume';
    throw new ModlError(`${out} was started with other settings (${changed.map((k) => `--${k}: ${show(before[k])} there, ${show(settings[k])} now`).join('; ')}); ${mayChange}`);
  }
}

const command: Command = {
  name: 'train',
  summary: 'train or fine-tune MoDL on synthetic datasets or fully sampled k-space',
  options,
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('train', argv, options);
    if (!v.out) throw new ModlError('train: --out RUN is required (see modl train --help)');
    if (!v.data && !v.kspace) throw new ModlError('train: give --data DIR or --kspace FILE (see modl train --help)');
    const seed = numberOption('seed', v.seed, 0, Number.isInteger);
    const loss = (v.loss ?? 'mse') as ImageLoss;
    const int = (name: string, value: string | undefined, fallback: number) => numberOption(name, value, fallback, (x) => Number.isInteger(x) && x > 0);
    const plan = v.masks ? parseMaskSpec(v.masks, seed) : undefined;

    const settings = {
      data: v.data ?? null, kspace: v.kspace ?? null, masks: v.masks ?? null,
      'val-fraction': numberOption('val-fraction', v['val-fraction'], 0.1), 'val-slices': int('val-slices', v['val-slices'], 8),
      stages: int('stages', v.stages, 1), init: v.init ?? null, depth: int('depth', v.depth, 5), width: int('width', v.width, 64),
      'cg-iterations': int('cg-iterations', v['cg-iterations'], 10), lambda: numberOption('lambda', v.lambda, 0.05, (x) => x > 0),
      'batch-size': int('batch-size', v['batch-size'], 2), 'steps-per-epoch': v['steps-per-epoch'] ? int('steps-per-epoch', v['steps-per-epoch'], 1) : null,
      lr: numberOption('lr', v.lr, 1e-3, (x) => x > 0), clip: numberOption('clip', v.clip, 1, (x) => x >= 0), loss, seed,
      'final-lr': v['final-lr'] === undefined ? null : numberOption('final-lr', v['final-lr'], 0, (x) => x >= 0),
      symmetries: v.symmetries === undefined ? null : Number(v.symmetries),
      'symmetry-plan': v['symmetry-plan'] ?? null,
    };
    const epochs = int('epochs', v.epochs, 10);
    // the schedule spans the epochs, so a run annealed over N epochs continues only as one of N
    const runSettings: RunSettings = settings['final-lr'] === null ? settings : { ...settings, epochs };
    checkOutputLocation(v.out, 'folder');
    checkRunFolder(v.out, runSettings, v.resume === true);

    const trains: PairSource[] = [], vals: PairSource[] = [];
    for (const dir of v.data ? v.data.split(',') : []) {
      if (!existsSync(dir)) throw fileError(dir, 'dataset folder not found');
      const { train: t, validation: va } = datasetSources(dir, settings['val-fraction'], seed);
      trains.push(plan ? remask(t, plan) : t);
      vals.push(va);
    }
    if (v.kspace) {
      if (!plan) throw new ModlError('train: --kspace needs --masks (the retrospective undersampling)');
      const files = v.kspace.split(',');
      for (const f of files) if (!existsSync(f) && !existsSync(`${f}.cfl`)) throw fileError(f, 'not found');
      const all = await kspaceFileSource(files, plan);
      const nVal = Math.max(1, Math.round(all.length * settings['val-fraction']));
      if (all.length < 2) throw new ModlError('train: --kspace files hold fewer than 2 slices (need training and validation)');
      trains.push({ length: all.length - nVal, load: (i) => all.load(i + nVal), describe: all.describe });
      vals.push(limit(all, nVal));
    }
    const validation = limit(concat(vals), settings['val-slices']);
    if (validation.length === 0) throw new ModlError('train: no validation slices (use more data or a larger --val-fraction)');

    const backend = await initBackendFromCli(v);
    const stages = settings.stages;
    let model = v.init
      ? loadCheckpoint(resolveCheckpoint(v.init)).model
      : Modl.create({
        denoiser: { ...DEFAULT_MODL_CONFIG.denoiser, depth: settings.depth, width: settings.width },
        stages, cgIterations: settings['cg-iterations'], lambda: settings.lambda,
      }, seed + 1);
    model = withSymmetries(model, parseSymmetrySetting(v));
    writeFileAtomic(join(v.out, RUN_FILE), JSON.stringify(runSettings, null, 2));
    let bar: ProgressBar | null = null;
    const result = await train({
      outDir: v.out, train: concat(trains), validation, model, stages, epochs, seed,
      batchSize: settings['batch-size'],
      stepsPerEpoch: settings['steps-per-epoch'] ?? undefined,
      learningRate: settings.lr,
      finalLearningRate: settings['final-lr'] ?? undefined,
      clipNorm: settings.clip,
      loss,
      resume: v.resume === true,
      trainedOn: { train: concat(trains).describe(), validation: validation.describe(), init: v.init ?? null, backend: backend.description },
      onStep(s) {
        if (s.step === 1) bar = new ProgressBar(s.stepsPerEpoch, { label: `epoch ${s.epoch}/${epochs}` });
        bar!.update(s.step);
        bar!.setStatus(`loss ${s.loss.toExponential(2)} λ ${s.lambda.toFixed(4)}${settings['final-lr'] === null ? '' : ` lr ${s.learningRate.toExponential(2)}`}`);
        if (s.step === s.stepsPerEpoch) bar!.finish();
      },
      onEpoch(e) {
        const f = (m: { psnr: number; ssim: number }) => `${m.psnr.toFixed(2)} dB / ${m.ssim.toFixed(4)}`;
        console.log(`epoch ${e.epoch}: loss ${e.trainLoss.toExponential(3)}; validation PSNR/SSIM: MoDL ${f(e.validation.modl)}, `
          + `CG-SENSE ${f(e.validation.cgsense)}, zero-filled ${f(e.validation.zeroFilled)} → ${v.out}/${e.checkpoint}`);
      },
    });
    result.model.dispose();
  },
};

export default command;
