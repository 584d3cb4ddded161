/**
 * MoDL checkpoints: a folder holding
 *   model.json    tfjs weights manifest (+ the network configuration)
 *   weights.bin   all weights, running statistics and log λ (tfjs weights format)
 *   modl.json     what the network is and how it came to be: architecture, K, CG
 *                 iterations, λ, intensity normalisation, training data, validation metrics
 * and, for a checkpoint a training run can resume from, optimizer.json/.bin
 * (Adam's moments) and state.json (epoch, step, options); optionally int8.json,
 * the activation ranges for int8 inference of these weights (nn/denoiser-int8.ts).
 *
 * A folder is written under a temporary name and renamed when complete, so a
 * killed process never leaves a half-written checkpoint behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fileError } from '../util/errors.js';
import { writeFileAtomic, writeFolderAtomic } from '../util/fs.js';
import { readWeights, writeWeights } from '../util/tfjs-weights.js';
import { NORMALISATION } from './batch.js';
import { Denoiser } from './denoiser.js';
import type { Int8Calibration } from './denoiser-int8.js';
import { Modl, type ModlConfig } from './modl.js';

export const CHECKPOINT_FORMAT = 'modl-checkpoint';

/** The contents of modl.json. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  architecture: { name: 'MoDL'; denoiser: ModlConfig['denoiser']; sharedWeights: true };
  stages: number;
  cgIterations: number;
  lambda: number;
  normalisation: typeof NORMALISATION;
  created: string;
  /** Free-form provenance: datasets, generators, masks, sizes. */
  trainedOn?: unknown;
  /** Optimiser, epochs, steps, learning rate, curriculum. */
  training?: unknown;
  /** Validation metrics of this checkpoint and the baselines. */
  validation?: unknown;
}

interface ModelJson {
  format: typeof CHECKPOINT_FORMAT;
  config: ModlConfig;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

export interface SaveOptions {
  meta?: Partial<Pick<CheckpointMeta, 'trainedOn' | 'training' | 'validation'>>;
  /** Optimiser moments and training state, for --resume. */
  optimizer?: tf.NamedTensorMap;
  state?: unknown;
}

/** Writes a complete checkpoint folder atomically (temporary folder, then rename). */
export async function saveCheckpoint(dir: string, model: Modl, opts: SaveOptions = {}): Promise<void> {
  const config = model.config;
  await writeFolderAtomic(dir, async (tmp) => {
    await writeWeights(tmp, 'model.json', 'weights.bin', model.namedWeights(), { format: CHECKPOINT_FORMAT, config });
    const meta: CheckpointMeta = {
      format: CHECKPOINT_FORMAT,
      version: 1,
      architecture: { name: 'MoDL', denoiser: config.denoiser, sharedWeights: true },
      stages: config.stages,
      cgIterations: config.cgIterations,
      lambda: config.lambda,
      normalisation: NORMALISATION,
      created: new Date().toISOString(),
      ...opts.meta,
    };
    writeFileAtomic(join(tmp, 'modl.json'), JSON.stringify(meta, null, 2));
    if (opts.optimizer) await writeWeights(tmp, 'optimizer.json', 'optimizer.bin', opts.optimizer, { format: 'modl-optimizer' });
    if (opts.state !== undefined) writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(opts.state, null, 2));
  });
}

/** Loads a checkpoint folder (model.json + weights.bin + modl.json). */
export function loadCheckpoint(dir: string): { model: Modl; meta: CheckpointMeta } {
  if (!existsSync(dir)) throw fileError(dir, 'checkpoint folder not found');
  const { json, weights } = readWeights(dir, 'model.json');
  const modelPath = join(dir, 'model.json');
  if (json.format !== CHECKPOINT_FORMAT || !json.config) throw fileError(modelPath, `not a ${CHECKPOINT_FORMAT} (format or config missing)`);
  const config = (json as unknown as ModelJson).config;
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'modl.json'), 'utf8'));
  } catch (e) {
    throw fileError(join(dir, 'modl.json'), `cannot read: ${(e as Error).message}`);
  }
  let model: Modl | undefined;
  try {
    model = new Modl(Denoiser.create(0, config.denoiser), config);
    model.setWeights(weights);
  } catch (e) {
    model?.dispose();
    throw fileError(modelPath, (e as Error).message);
  } finally {
    tf.dispose(weights);
  }
  return { model, meta };
}

const INT8_FORMAT = 'modl-int8-calibration';
const INT8_FILE = 'int8.json';

/** SHA-256 of weights.bin: which weights an int8 calibration belongs to. */
function weightsDigest(dir: string): string {
  return createHash('sha256').update(readFileSync(join(dir, 'weights.bin'))).digest('hex');
}

/** Stores int8 activation ranges beside a checkpoint's weights (int8.json). */
export function writeInt8Calibration(dir: string, calibration: Int8Calibration): void {
  const json = { format: INT8_FORMAT, weights: weightsDigest(dir), activationMax: calibration.activationMax };
  writeFileAtomic(join(dir, INT8_FILE), `${JSON.stringify(json, null, 1)}\n`);
}

/** Whether the checkpoint has int8 activation ranges, and for these weights ('current') or others. */
export function int8CalibrationState(dir: string): 'current' | 'other-weights' | 'absent' {
  if (!existsSync(join(dir, INT8_FILE))) return 'absent';
  return readInt8Calibration(dir) ? 'current' : 'other-weights';
}

/** The checkpoint's int8 activation ranges; null where it has none, or they were made for other weights. */
export function readInt8Calibration(dir: string): Int8Calibration | null {
  const path = join(dir, INT8_FILE);
  if (!existsSync(path)) return null;
  let json: { format?: string; weights?: string; activationMax?: unknown };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw fileError(path, `cannot read: ${(e as Error).message}`);
  }
  const ranges = json.activationMax;
  if (json.format !== INT8_FORMAT || !Array.isArray(ranges) || !ranges.every((m) => Array.isArray(m) && m.every((v) => typeof v === 'number' && v > 0))) {
    throw fileError(path, `not a ${INT8_FORMAT} (format, or positive activationMax per stage, missing)`);
  }
  return json.weights === weightsDigest(dir) ? { activationMax: ranges as number[][] } : null;
}

/** The optimiser and training state saved beside a checkpoint, if any. */
export function loadTrainingState(dir: string): { optimizer: tf.NamedTensorMap; state: unknown } | null {
  if (!existsSync(join(dir, 'optimizer.json')) || !existsSync(join(dir, 'state.json'))) return null;
  return { optimizer: readWeights(dir, 'optimizer.json').weights, state: JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) };
}
