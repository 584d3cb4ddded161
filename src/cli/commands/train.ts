import { existsSync } from 'node:fs';
import type { Command } from '../command.js';
import { choiceOption, numberOption, parseCommandArgs } from '../args.js';
import { BACKEND_USAGE, backendCliOptions, initBackendFromCli } from '../../backend/index.js';
import { MASK_KINDS, type MaskKind } from '../../physics/masks.js';
import { DEFAULT_MODL_CONFIG, Modl } from '../../nn/modl.js';
import { loadCheckpoint } from '../../nn/checkpoint.js';
import { concat, datasetSources, kspaceFileSource, limit, remask, type MaskPlan } from '../../nn/sources.js';
import { train, type PairSource } from '../../nn/train.js';
import { resolveCheckpoint } from '../../util/fs.js';
import { ProgressBar } from '../../util/progress.js';
import { fileError, ModlError } from '../../util/errors.js';

const usage = `modl train: train (or fine-tune) a MoDL network

usage: modl train --data DIR[,DIR...] --out RUN [options]
       modl train --kspace FILE[,FILE...] --masks poisson:4,8 --out RUN [options]

data
  --data DIR,...       modl synth datasets (split into train/validation by shard)
  --kspace FILE,...    fully sampled k-space (fastMRI .h5, BART .cfl, complex NIfTI): ESPIRiT maps
                       and the SENSE-combined target per slice, masks drawn from --masks
  --masks SPEC         retrospective masks KIND[+KIND]:R[,R], e.g. random+poisson:4,8; with --data it
                       replaces the stored masks
  --val-fraction F     fraction of shards held out for validation (default 0.1)
  --val-slices N       validate on at most N slices (default 8)
network (ignored with --init, which continues from a checkpoint's weights)
  --stages K           unrolled stages in this run (MoDL curriculum: 1, then 10 with --init)
  --init CKPT          start from this checkpoint (a folder with modl.json, or a training run)
  --depth 5 --width 64 --cg-iterations 10 --lambda 0.05
optimisation
  --epochs 10 --batch-size 2 --steps-per-epoch N (default: one pass) --lr 1e-3 --clip 1
  --loss mse|l1 (default mse) --seed 0
  --resume             continue RUN from its last checkpoint (same trajectory)
  --out RUN            run folder: epoch-NNNN/ checkpoints, latest.json, train.jsonl
${BACKEND_USAGE}`;

const options = {
  data: { type: 'string' }, kspace: { type: 'string' }, masks: { type: 'string' },
  'val-fraction': { type: 'string' }, 'val-slices': { type: 'string' },
  stages: { type: 'string' }, init: { type: 'string' },
  depth: { type: 'string' }, width: { type: 'string' }, 'cg-iterations': { type: 'string' }, lambda: { type: 'string' },
  epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'steps-per-epoch': { type: 'string' },
  lr: { type: 'string' }, clip: { type: 'string' }, loss: { type: 'string' }, seed: { type: 'string' },
  resume: { type: 'boolean' }, out: { type: 'string' },
  ...backendCliOptions,
} as const;

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

const command: Command = {
  name: 'train',
  summary: 'train or fine-tune MoDL on synthetic datasets or fully sampled k-space',
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('train', argv, options);
    if (!v.out) throw new ModlError('train: --out RUN is required (see modl train --help)');
    if (!v.data && !v.kspace) throw new ModlError('train: give --data DIR or --kspace FILE (see modl train --help)');
    const seed = numberOption('seed', v.seed, 0, Number.isInteger);
    const loss = choiceOption('loss', v.loss, ['mse', 'l1'] as const, 'mse');
    const int = (name: string, value: string | undefined, fallback: number) => numberOption(name, value, fallback, (x) => Number.isInteger(x) && x > 0);
    const plan = v.masks ? parseMaskSpec(v.masks, seed) : undefined;

    const trains: PairSource[] = [], vals: PairSource[] = [];
    for (const dir of v.data ? v.data.split(',') : []) {
      if (!existsSync(dir)) throw fileError(dir, 'dataset folder not found');
      const { train: t, validation: va } = datasetSources(dir, numberOption('val-fraction', v['val-fraction'], 0.1), seed);
      trains.push(plan ? remask(t, plan) : t);
      vals.push(va);
    }
    if (v.kspace) {
      if (!plan) throw new ModlError('train: --kspace needs --masks (the retrospective undersampling)');
      const files = v.kspace.split(',');
      for (const f of files) if (!existsSync(f) && !existsSync(`${f}.cfl`)) throw fileError(f, 'not found');
      const all = await kspaceFileSource(files, plan);
      const nVal = Math.max(1, Math.round(all.length * numberOption('val-fraction', v['val-fraction'], 0.1)));
      if (all.length < 2) throw new ModlError('train: --kspace files hold fewer than 2 slices (need training and validation)');
      trains.push({ length: all.length - nVal, load: (i) => all.load(i + nVal), describe: all.describe });
      vals.push(limit(all, nVal));
    }
    const validation = limit(concat(vals), int('val-slices', v['val-slices'], 8));
    if (validation.length === 0) throw new ModlError('train: no validation slices (use more data or a larger --val-fraction)');

    const backend = await initBackendFromCli(v);
    const stages = int('stages', v.stages, 1);
    const model = v.init
      ? loadCheckpoint(resolveCheckpoint(v.init)).model
      : Modl.create({
        denoiser: { ...DEFAULT_MODL_CONFIG.denoiser, depth: int('depth', v.depth, 5), width: int('width', v.width, 64) },
        stages, cgIterations: int('cg-iterations', v['cg-iterations'], 10),
        lambda: numberOption('lambda', v.lambda, 0.05, (x) => x > 0),
      }, seed + 1);
    const epochs = int('epochs', v.epochs, 10);
    let bar: ProgressBar | null = null;
    const result = await train({
      outDir: v.out, train: concat(trains), validation, model, stages, epochs, seed,
      batchSize: int('batch-size', v['batch-size'], 2),
      stepsPerEpoch: v['steps-per-epoch'] ? int('steps-per-epoch', v['steps-per-epoch'], 1) : undefined,
      learningRate: numberOption('lr', v.lr, 1e-3, (x) => x > 0),
      clipNorm: numberOption('clip', v.clip, 1, (x) => x >= 0),
      loss,
      resume: v.resume === true,
      trainedOn: { train: concat(trains).describe(), validation: validation.describe(), init: v.init ?? null, backend: backend.description },
      onStep(s) {
        if (s.step === 1) bar = new ProgressBar(s.stepsPerEpoch, { label: `epoch ${s.epoch}/${epochs}` });
        bar!.update(s.step);
        bar!.setStatus(`loss ${s.loss.toExponential(2)} λ ${s.lambda.toFixed(4)}`);
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
