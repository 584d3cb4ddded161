/**
 * Training loop shared by the VAE and the GAN: epochs over a fixed training
 * pool, a JSONL log, a resumable checkpoint and a PNG grid of samples from
 * fixed latents after every epoch.
 *
 * Determinism: the initial weights come from `seed`; the order of epoch e is a
 * permutation seeded by (seed, e); the noise of global step t (VAE ε, GAN
 * latents) is drawn from an Rng seeded by (seed, t). A checkpoint holds the
 * weights, Adam's moments and the counters, so `resume` after a kill replays
 * the trajectory of an uninterrupted run.
 *
 * Run folder: epoch-NNNN/ (the last `keep` checkpoints), latest.json,
 * samples/epoch-NNNN.png, train.jsonl.
 */
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ensureDir, removeStaleTempsIn, resolveCheckpoint, writeFileAtomic } from '../util/fs.js';
import { Rng } from '../util/random.js';
import { loadGenerator, loadTrainingState, saveGenerator } from './checkpoint.js';
import type { TrainingSet } from './data.js';
import { createModel } from './create-model.js';
import { type GenerativeConfig, type GenerativeModel } from './model.js';
import { mosaic } from './plot.js';
import { writePng } from '../io/png.js';

export interface TrainGeneratorOptions {
  outDir: string;
  config: GenerativeConfig;
  trainingSet: TrainingSet;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Continue from the run folder's last checkpoint if there is one. */
  resume: boolean;
  /** Epoch checkpoints kept (older ones are deleted; default 2). */
  keep?: number;
  /** The per-epoch sample grid is grid × grid images (default 8). */
  grid?: number;
  /** Called on a freshly created model (not on resume), e.g. to start from other weights. */
  init?(model: GenerativeModel): void | Promise<void>;
  /** Recorded in generator.json (e.g. the backend). */
  notes?: Record<string, unknown>;
  onStart?(info: { epoch: number; stepsPerEpoch: number; model: GenerativeModel }): void;
  onStep?(s: StepInfo): void;
  onEpoch?(e: EpochInfo): void;
}

export interface StepInfo { epoch: number; step: number; stepsPerEpoch: number; losses: Record<string, number>; ms: number }
export interface EpochInfo { epoch: number; epochs: number; losses: Record<string, number>; seconds: number; checkpoint: string; samples: string }

interface TrainState { epoch: number; globalStep: number; seconds: number; seed: number; history: EpochInfo[] }

const LATEST = 'latest.json';

/** Standard normal values from an Rng seeded by (seed, step). */
export function stepNoise(seed: number, step: number, n: number): Float32Array {
  const rng = new Rng(seed * 1_000_003 + step * 7919 + 17);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** The fixed latents of the sample grids. */
export function gridLatents(seed: number, count: number, latent: number): Float32Array {
  const rng = new Rng(seed ^ 0x5eed);
  return Float32Array.from({ length: count * latent }, () => rng.normal());
}

/** Decodes latents [count, L] in batches to images (Float32Array S·S each). */
export function generateImages(model: GenerativeModel, latents: Float32Array, batch = 16): Float32Array[] {
  const count = latents.length / model.latent, n = model.size ** 2;
  const out: Float32Array[] = [];
  for (let k = 0; k < count; k += batch) {
    const b = Math.min(batch, count - k);
    const data = tf.tidy(() => model.generate(tf.tensor2d(latents.subarray(k * model.latent, (k + b) * model.latent), [b, model.latent])).dataSync() as Float32Array);
    for (let i = 0; i < b; i++) out.push(data.slice(i * n, (i + 1) * n));
  }
  return out;
}

export async function trainGenerator(opts: TrainGeneratorOptions): Promise<{ model: GenerativeModel; history: EpochInfo[] }> {
  const { outDir, trainingSet: set, batchSize } = opts;
  if (set.spec.size !== opts.config.size) throw new Error(`training images are ${set.spec.size}², the network makes ${opts.config.size}²`);
  if (set.count < batchSize) throw new Error(`the training set holds ${set.count} images, fewer than one batch of ${batchSize}`);
  ensureDir(join(outDir, 'samples'));
  for (const dir of [outDir, join(outDir, 'samples')]) removeStaleTempsIn(dir); // what a killed run was writing
  const log = join(outDir, 'train.jsonl');
  let model = await createModel(opts.config, opts.seed);
  let state: TrainState = { epoch: 0, globalStep: 0, seconds: 0, seed: opts.seed, history: [] };

  if (opts.resume && existsSync(join(outDir, LATEST))) {
    const dir = resolveCheckpoint(outDir);
    const saved = loadTrainingState(dir);
    if (saved) {
      model.dispose();
      model = (await loadGenerator(dir, undefined, { forTraining: true })).model;
      model.setOptimizerState(saved.optimizer);
      tf.dispose(saved.optimizer.tensors);
      state = saved.state as TrainState;
      // log lines of the interrupted epoch are replayed
      if (existsSync(log)) {
        const keep = readFileSync(log, 'utf8').split('\n').filter((l) => l && JSON.parse(l).epoch <= state.epoch);
        writeFileSync(log, keep.map((l) => `${l}\n`).join(''));
      }
    }
  }

  if (state.epoch === 0) await opts.init?.(model);
  const S = set.spec.size, n = S * S;
  const stepsPerEpoch = Math.floor(set.count / batchSize);
  const grid = opts.grid ?? 8;
  const latents = gridLatents(opts.seed, grid * grid, model.latent);
  opts.onStart?.({ epoch: state.epoch, stepsPerEpoch, model });
  for (let epoch = state.epoch + 1; epoch <= opts.epochs; epoch++) {
    const started = performance.now();
    const order = new Rng(opts.seed * 7919 + epoch).permutation(set.count);
    const sums: Record<string, number> = {}, counts: Record<string, number> = {};
    const batchData = new Float32Array(batchSize * n);
    for (let step = 0; step < stepsPerEpoch; step++) {
      const t0 = performance.now();
      for (let j = 0; j < batchSize; j++) batchData.set(set.data.subarray(order[step * batchSize + j]! * n, (order[step * batchSize + j]! + 1) * n), j * n);
      const real = tf.tensor4d(batchData, [batchSize, S, S, 1]);
      const losses = model.trainStep(real, stepNoise(opts.seed, state.globalStep, model.noisePerStep(batchSize)));
      real.dispose();
      state.globalStep++;
      for (const [k, v] of Object.entries(losses)) { sums[k] = (sums[k] ?? 0) + v; counts[k] = (counts[k] ?? 0) + 1; }
      const info: StepInfo = { epoch, step: step + 1, stepsPerEpoch, losses, ms: performance.now() - t0 };
      appendFileSync(log, `${JSON.stringify({ type: 'step', globalStep: state.globalStep, epoch, step: step + 1, ...losses, ms: Math.round(info.ms) })}\n`);
      opts.onStep?.(info);
    }
    model.fitToTrainingSet?.(set.data, set.count);
    const name = `epoch-${String(epoch).padStart(4, '0')}`;
    const samples = join(outDir, 'samples', `${name}.png`);
    writePng(samples, mosaic(generateImages(model, latents), S, grid).data, grid * (S + 2) - 2, grid * (S + 2) - 2, { window: [0, 1] });
    const means = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / counts[k]!]));
    const seconds = (performance.now() - started) / 1000;
    const info: EpochInfo = { epoch, epochs: opts.epochs, losses: means, seconds, checkpoint: name, samples };
    state = { ...state, epoch, seconds: state.seconds + seconds, history: [...state.history, info] };
    await saveGenerator(join(outDir, name), model, {
      trainingSet: describeTrainingSet(set),
      training: { epochs: epoch, steps: state.globalStep, stepsPerEpoch, batchSize, seed: opts.seed, seconds: Math.round(state.seconds), history: state.history.map(({ epoch: e, losses, seconds: s }) => ({ epoch: e, losses, seconds: Math.round(s) })), ...opts.notes },
      resumable: { state },
    });
    writeFileAtomic(join(outDir, LATEST), JSON.stringify({ checkpoint: name, epoch }));
    const stale = join(outDir, `epoch-${String(epoch - (opts.keep ?? 2)).padStart(4, '0')}`);
    rmSync(stale, { recursive: true, force: true });
    appendFileSync(log, `${JSON.stringify({ type: 'epoch', ...info })}\n`);
    opts.onEpoch?.(info);
  }
  return { model, history: state.history };
}

/** The training set as recorded in generator.json: its specification and what it read. */
export function describeTrainingSet(set: TrainingSet): unknown {
  const bySource: Record<string, number> = {};
  for (const o of set.origin) bySource[o] = (bySource[o] ?? 0) + 1;
  return { spec: set.spec, images: set.count, bySource, volumes: set.volumes };
}
