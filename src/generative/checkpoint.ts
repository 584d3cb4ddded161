/**
 * Generator checkpoints: a folder holding
 *   model.json      tfjs weights manifest + the network configuration
 *   weights.bin     every weight (batch-norm statistics, spectral-norm vectors included)
 *   generator.json  what it is and how it came to be: architecture, parameter
 *                   counts, training set specification, training history
 * and, for a checkpoint a run can resume from, optimizer.json/.bin (Adam's
 * moments) and state.json (epoch, step). A sampling-only checkpoint (what
 * ships in checkpoints/) holds just the decoder or generator weights. Folders are written under a temporary
 * name and renamed when complete (as src/nn/checkpoint.ts does).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fileError } from '../util/errors.js';
import { writeFileAtomic, writeFolderAtomic } from '../util/fs.js';
import { readJson, readWeights, writeWeights } from '../util/tfjs-weights.js';
import { createModel } from './create-model.js';
import { type GenerativeConfig, type GenerativeModel, type OptimizerState } from './model.js';

export const GENERATOR_FORMAT = 'modl-generator';

/** The contents of generator.json. */
export interface GeneratorMeta {
  format: typeof GENERATOR_FORMAT;
  version: 1;
  kind: GenerativeConfig['kind'];
  created: string;
  config: GenerativeConfig;
  parameters: Record<string, number>;
  flopsPerImage: Record<string, number>;
  /** The training set's specification (buildTrainingSet) and the volumes it read. */
  trainingSet?: unknown;
  /** Epochs, steps, batch size, losses per epoch, wall time, backend. */
  training?: unknown;
}


export interface SaveOptions {
  trainingSet?: unknown;
  training?: unknown;
  /** Save Adam's moments and this state for --resume. */
  resumable?: { state: unknown };
  /** Save only the weights sampling needs (no encoder, no critic). */
  samplingOnly?: boolean;
}

const selects = (prefixes: string[]) => (name: string) => prefixes.some((p) => name.startsWith(p));

/** Writes a complete checkpoint folder atomically. */
export async function saveGenerator(dir: string, model: GenerativeModel, opts: SaveOptions = {}): Promise<void> {
  const samplingOnly = opts.samplingOnly === true;
  const named = Object.fromEntries(Object.entries(model.params.named()).filter(([n]) => !samplingOnly || selects(model.samplingWeights)(n)));
  await writeFolderAtomic(dir, async (tmp) => {
    await writeWeights(tmp, 'model.json', 'weights.bin', named, { format: GENERATOR_FORMAT, kind: model.kind, config: model.config, samplingOnly });
    const meta: GeneratorMeta = {
      format: GENERATOR_FORMAT,
      version: 1,
      kind: model.kind,
      created: new Date().toISOString(),
      config: model.config,
      parameters: model.parameterCounts(),
      flopsPerImage: model.flopsPerImage(),
      trainingSet: opts.trainingSet,
      training: opts.training,
    };
    writeFileAtomic(join(tmp, 'generator.json'), JSON.stringify(meta, null, 2));
    if (opts.resumable) {
      const opt = model.optimizerState();
      await writeWeights(tmp, 'optimizer.json', 'optimizer.bin', opt.tensors, { format: 'modl-optimizer', steps: opt.steps });
      writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(opts.resumable.state, null, 2));
    }
  });
}

/** Loads a checkpoint folder: the model (weights assigned) and its generator.json. */
export async function loadGenerator(
  dir: string, expectKind?: GenerativeConfig['kind'], opts: { forTraining?: boolean } = {},
): Promise<{ model: GenerativeModel; meta: GeneratorMeta }> {
  if (!existsSync(dir)) throw fileError(dir, 'generator checkpoint folder not found');
  const modelPath = join(dir, 'model.json');
  const { json, weights } = readWeights(dir, 'model.json');
  try {
    const config = json.config as GenerativeConfig | undefined;
    if (json.format !== GENERATOR_FORMAT || !config || (config.kind !== 'vae' && config.kind !== 'gan')) {
      throw fileError(modelPath, `not a ${GENERATOR_FORMAT} model.json (format, kind or config missing)`);
    }
    if (expectKind && config.kind !== expectKind) throw fileError(modelPath, `holds a ${config.kind}, not a ${expectKind}`);
    if (json.samplingOnly === true && opts.forTraining) throw fileError(modelPath, 'is a sampling-only checkpoint (no encoder or critic weights): training cannot continue from it');
    const meta = readJson(join(dir, 'generator.json'), 'the generator description') as unknown as GeneratorMeta;
    let model: GenerativeModel | undefined;
    try {
      model = await createModel(config, 0);
      model.params.set(weights, json.samplingOnly === true ? selects(model.samplingWeights) : undefined);
    } catch (e) {
      model?.dispose();
      throw fileError(modelPath, (e as Error).message);
    }
    return { model, meta };
  } finally {
    tf.dispose(weights);
  }
}

/** The optimiser state and training state saved beside a checkpoint, or null. */
export function loadTrainingState(dir: string): { optimizer: OptimizerState; state: unknown } | null {
  if (!existsSync(join(dir, 'optimizer.json')) || !existsSync(join(dir, 'state.json'))) return null;
  const { json, weights } = readWeights(dir, 'optimizer.json');
  return { optimizer: { steps: json.steps as Record<string, number>, tensors: weights }, state: readJson(join(dir, 'state.json'), 'the training state') };
}
