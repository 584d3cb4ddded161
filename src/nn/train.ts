/**
 * Supervised MoDL training: Adam with global-norm gradient clipping, an image
 * loss (nn/loss.ts: MSE, L1 or SSIM), validation against zero-filled and CG-SENSE after
 * every epoch, a JSONL log, and a resumable checkpoint per epoch.
 *
 * Determinism: the data order of epoch e is a permutation seeded by (seed, e),
 * and a checkpoint holds the weights, Adam's moments and the epoch counter, so
 * `resume` after a kill replays exactly the trajectory of an uninterrupted run.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CG_SENSE_DEFAULTS, cgSense, reconMagnitude } from '../physics/classical.js';
import { imageMetrics, meanMetrics, type Metrics } from '../physics/metrics.js';
import { ensureDir, removeStaleTempsIn, resolveCheckpoint, writeFileAtomic } from '../util/fs.js';
import { Rng } from '../util/random.js';
import { Adam, clipByGlobalNorm, tapedGradients } from './adam.js';
import { prepareBatch, unbatch, type ReconSample } from './batch.js';
import { loadCheckpoint, loadTrainingState, saveCheckpoint } from './checkpoint.js';
import { imageLoss, type ImageLoss } from './loss.js';
import { Modl } from './modl.js';
import { OnnxDenoiser } from './denoiser-onnx.js';
import { unrolledGradients } from './modl-onnx.js';

/** Random access to training pairs. */
export interface PairSource {
  readonly length: number;
  load(i: number): Promise<ReconSample>;
  /** Provenance recorded in the checkpoint. */
  describe(): unknown;
}

export interface TrainOptions {
  outDir: string;
  train: PairSource;
  validation: PairSource;
  /** The network to start from (fresh, or the K=1 stage of the curriculum). */
  model: Modl;
  /** Unrolled stages for this run (curriculum: 1, then 10). */
  stages: number;
  epochs: number;
  batchSize: number;
  /** Steps per epoch (default: one pass over the training pairs). */
  stepsPerEpoch?: number;
  learningRate: number;
  /** Let the learning rate fall linearly from learningRate at the first step to this at the last of the epochs (default: constant). */
  finalLearningRate?: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  clipNorm: number;
  loss: ImageLoss;
  seed: number;
  /** Continue from `outDir`'s last checkpoint if there is one. */
  resume: boolean;
  /** Training batches that re-estimate the batch-norm statistics after each epoch (default 8; 0: none; none with frozenStats). */
  recalibrationBatches?: number;
  /**
   * Normalise with the running batch-norm statistics, frozen (ModlMode 'tune'), instead of
   * each batch's: fine-tuning a trained network optimises exactly the function inference runs.
   */
  frozenStats?: boolean;
  /** Further validation sets scored every epoch (e.g. the real case per acceleration), by name. */
  validationSets?: Record<string, PairSource>;
  /** Keep only the newest N epoch checkpoints in `outDir` (default: all). */
  keepCheckpoints?: number;
  /** Extra provenance for modl.json. */
  trainedOn?: unknown;
  /** Asked after each epoch is saved: true ends the run there (it resumes later from that epoch). */
  shouldStop?(): boolean;
  onStep?(s: StepInfo): void;
  onEpoch?(e: EpochInfo): void;
}

export interface StepInfo { epoch: number; step: number; stepsPerEpoch: number; loss: number; lambda: number; learningRate: number; ms: number }
export interface EpochInfo {
  epoch: number; epochs: number; trainLoss: number; validation: ValidationResult; checkpoint: string;
  validationSets?: Record<string, ValidationResult>;
  /** Wall time of the epoch's training steps, seconds. */
  trainSeconds?: number;
}
export interface ValidationResult { modl: Metrics; zeroFilled: Metrics; cgsense: Metrics; slices: number }

interface TrainState { epoch: number; globalStep: number; adamSteps: number; stages: number; seed: number; history: EpochInfo[] }

const LATEST = 'latest.json';

/** Removes all but the newest `keep` epoch-NNNN folders of a run. */
function pruneCheckpoints(dir: string, keep: number): void {
  const epochs = readdirSync(dir).filter((n) => /^epoch-\d+$/.test(n)).sort();
  for (const old of epochs.slice(0, Math.max(0, epochs.length - keep))) rmSync(join(dir, old), { recursive: true, force: true });
}

/**
 * A batch's samples by image size and number of map sets, in order of first
 * appearance: samples of different sizes (the recipe draws matrices of 160–320
 * per side) cannot share one tensor, so each group runs as its own pass (and,
 * in batch-statistics mode, normalises with its own statistics).
 */
function sizeGroups(samples: ReconSample[]): ReconSample[][] {
  const groups = new Map<string, ReconSample[]>();
  for (const s of samples) {
    const key = `${s.kspace.shape.slice(1).join('×')}, ${s.maps.shape.length === 4 ? s.maps.shape[0] : 1} map sets`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()];
}

/** Validation: MoDL (inference mode), zero-filled and CG-SENSE, each the mean of its slices' metrics; CG-SENSE is cached per slice. */
export async function validate(model: Modl, source: PairSource, stages: number, cgCache: Map<number, Metrics>): Promise<ValidationResult> {
  const per = { modl: [] as Metrics[], zeroFilled: [] as Metrics[], cgsense: [] as Metrics[] };
  for (let i = 0; i < source.length; i++) {
    const sample = await source.load(i);
    if (!sample.target) throw new Error(`validation slice ${i} has no target`);
    const [H, W] = sample.target.shape.slice(-2) as [number, number];
    const ref = reconMagnitude(sample.target);
    const batch = prepareBatch([sample]);
    const out = tf.tidy(() => model.apply(batch.aty, batch.problem, 'infer', stages) as tf.Tensor4D);
    const [modl] = unbatch(out, batch.scales, batch.sets);
    const [zf] = unbatch(batch.aty, batch.scales, batch.sets);
    out.dispose();
    batch.dispose();
    per.modl.push(imageMetrics(ref, reconMagnitude(modl!), H, W));
    per.zeroFilled.push(imageMetrics(ref, reconMagnitude(zf!), H, W));
    let cg = cgCache.get(i);
    if (!cg) {
      cg = imageMetrics(ref, reconMagnitude(cgSense(sample.kspace, sample.maps, sample.mask, CG_SENSE_DEFAULTS).image), H, W);
      cgCache.set(i, cg);
    }
    per.cgsense.push(cg);
  }
  return { modl: meanMetrics(per.modl), zeroFilled: meanMetrics(per.zeroFilled), cgsense: meanMetrics(per.cgsense), slices: source.length };
}

export async function train(opts: TrainOptions): Promise<{ model: Modl; history: EpochInfo[] }> {
  let model = opts.model;
  if (opts.stages > model.stages) model.growStages(opts.stages);
  else model.stages = opts.stages;
  const optimizer = new Adam(opts.learningRate);
  const stepsPerEpoch = opts.stepsPerEpoch ?? Math.ceil(opts.train.length / opts.batchSize);
  let state: TrainState = { epoch: 0, globalStep: 0, adamSteps: 0, stages: opts.stages, seed: opts.seed, history: [] };
  const log = join(opts.outDir, 'train.jsonl');
  ensureDir(opts.outDir);
  removeStaleTempsIn(opts.outDir); // what a killed run was writing

  if (opts.resume && existsSync(join(opts.outDir, LATEST))) {
    const dir = resolveCheckpoint(opts.outDir);
    const saved = loadTrainingState(dir);
    if (saved) {
      model.dispose();
      model = loadCheckpoint(dir).model;
      model.stages = opts.stages;
      state = saved.state as TrainState;
      optimizer.setState(state.adamSteps, saved.optimizer);
      // drop log lines from the epoch that was interrupted: it is replayed
      if (existsSync(log)) {
        const keep = readFileSync(log, 'utf8').split('\n').filter((l) => l && JSON.parse(l).epoch <= state.epoch);
        writeFileSync(log, keep.map((l) => `${l}\n`).join(''));
      }
    }
  }

  // the denoiser's passes on ONNX Runtime where it loads (the same gradients as tfjs's tape, faster)
  const onnx = await OnnxDenoiser.where(model.denoiser, opts.frozenStats ? 'frozen' : 'batch');
  const vars = model.trainableVariables;
  /** The batch's loss and gradients: the mean over its samples, one pass per group of one image size. */
  const batchGradients = async (samples: ReconSample[]) => {
    let loss = 0, grads: tf.Tensor[] | null = null;
    for (const group of sizeGroups(samples)) {
      const batch = prepareBatch(group);
      const target = batch.target;
      if (!target) throw new Error('training pairs need a target image');
      const objective = (x: tf.Tensor4D) => imageLoss(opts.loss, x, target, batch.sets);
      const g = onnx
        ? await unrolledGradients(model, onnx, batch.aty, batch.problem, objective)
        : tapedGradients(vars, () => objective(model.apply(batch.aty, batch.problem, opts.frozenStats ? 'tune' : 'train')));
      batch.dispose();
      const share = group.length / samples.length;
      loss += share * g.loss;
      const old: tf.Tensor[] | null = grads;
      grads = old ? g.grads.map((t, i) => tf.tidy(() => tf.add(old[i]!, tf.mul(t, share)))) : g.grads.map((t) => tf.tidy(() => tf.mul(t, share)));
      tf.dispose([...g.grads, ...(old ?? [])]);
    }
    return { loss, grads: grads! };
  };
  /** The schedule as a function of the step's index in the run, so that a resumed run follows it exactly. */
  const totalSteps = opts.epochs * stepsPerEpoch;
  const learningRateAt = (i: number) => opts.finalLearningRate === undefined || totalSteps < 2
    ? opts.learningRate
    : opts.learningRate + ((opts.finalLearningRate - opts.learningRate) * i) / (totalSteps - 1);
  const cgCache = new Map<number, Metrics>();
  const setCaches = new Map<string, Map<number, Metrics>>();
  for (let epoch = state.epoch + 1; epoch <= opts.epochs; epoch++) {
    const order = new Rng(opts.seed * 7919 + epoch).permutation(opts.train.length);
    let lossSum = 0;
    const tEpoch = performance.now();
    for (let step = 0; step < stepsPerEpoch; step++) {
      const t0 = performance.now();
      const idx = Array.from({ length: opts.batchSize }, (_, j) => order[(step * opts.batchSize + j) % order.length]!);
      const { loss, grads } = await batchGradients(await Promise.all(idx.map((i) => opts.train.load(i))));
      const clipped = clipByGlobalNorm(grads, opts.clipNorm);
      optimizer.learningRate = learningRateAt((epoch - 1) * stepsPerEpoch + step);
      optimizer.step(vars, clipped);
      onnx?.readWeights();
      tf.dispose([grads, clipped]);
      lossSum += loss;
      state.globalStep++;
      const info: StepInfo = { epoch, step: step + 1, stepsPerEpoch, loss, lambda: model.lambda, learningRate: optimizer.learningRate, ms: performance.now() - t0 };
      appendFileSync(log, `${JSON.stringify({ type: 'step', globalStep: state.globalStep, ...info })}\n`);
      opts.onStep?.(info);
    }
    const trainSeconds = (performance.now() - tEpoch) / 1000;
    // precise batch-norm statistics for inference, from the first batches of this epoch's order
    const calib = opts.frozenStats ? 0 : Math.min(opts.recalibrationBatches ?? 8, stepsPerEpoch);
    await model.denoiser.recalibrateStats(async () => {
      for (let step = 0; step < calib; step++) {
        const idx = Array.from({ length: opts.batchSize }, (_, j) => order[(step * opts.batchSize + j) % order.length]!);
        for (const group of sizeGroups(await Promise.all(idx.map((i) => opts.train.load(i))))) {
          const batch = prepareBatch(group);
          tf.tidy(() => { model.apply(batch.aty, batch.problem, 'train'); });
          batch.dispose();
        }
      }
    });
    const validation = await validate(model, opts.validation, opts.stages, cgCache);
    let validationSets: Record<string, ValidationResult> | undefined;
    for (const [key, source] of Object.entries(opts.validationSets ?? {})) {
      if (!setCaches.has(key)) setCaches.set(key, new Map());
      (validationSets ??= {})[key] = await validate(model, source, opts.stages, setCaches.get(key)!);
    }
    const name = `epoch-${String(epoch).padStart(4, '0')}`;
    const info: EpochInfo = {
      epoch, epochs: opts.epochs, trainLoss: lossSum / stepsPerEpoch, validation, checkpoint: name,
      ...(validationSets ? { validationSets } : {}), trainSeconds,
    };
    const adam = optimizer.getState();
    state = { ...state, epoch, adamSteps: adam.t, history: [...state.history, info] };
    await saveCheckpoint(join(opts.outDir, name), model, {
      meta: {
        trainedOn: opts.trainedOn ?? { train: opts.train.describe(), validation: opts.validation.describe() },
        training: {
          optimizer: 'adam', learningRate: opts.learningRate, ...(opts.finalLearningRate !== undefined ? { finalLearningRate: opts.finalLearningRate } : {}), clipNorm: opts.clipNorm, loss: opts.loss, frozenStats: opts.frozenStats ?? false,
          batchSize: opts.batchSize, epochs: epoch, stepsPerEpoch, steps: state.globalStep, stages: opts.stages, seed: opts.seed,
        },
        validation,
      },
      optimizer: adam.tensors,
      state,
    });
    writeFileAtomic(join(opts.outDir, LATEST), JSON.stringify({ checkpoint: name, epoch }));
    if (opts.keepCheckpoints) pruneCheckpoints(opts.outDir, opts.keepCheckpoints);
    appendFileSync(log, `${JSON.stringify({ type: 'epoch', ...info })}\n`);
    opts.onEpoch?.(info);
    if (opts.shouldStop?.()) break;
  }
  optimizer.dispose();
  await onnx?.dispose();
  return { model, history: state.history };
}
