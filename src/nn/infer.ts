/**
 * MoDL inference on any number of slices: batches of slices of one size go
 * through the network together (the DC step's CG and the SENSE operator run
 * per sample, spread over the CPU cores), with the same intensity
 * normalisation as in training.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CArray } from '../physics/complex.js';
import { prepareBatch, unbatch, type ReconSample } from './batch.js';
import { loadCheckpoint, type CheckpointMeta } from './checkpoint.js';
import type { Modl } from './modl.js';
import { adaptToScan, type AdaptOptions, type AdaptReport } from './adapt.js';
import { resolveCheckpoint } from '../util/fs.js';

export class ModlReconstructor {
  private constructor(readonly model: Modl, readonly meta: CheckpointMeta, readonly path: string) {}

  /** Loads a checkpoint folder, or the latest checkpoint of a training run folder. */
  static load(dir: string): ModlReconstructor {
    const path = resolveCheckpoint(dir);
    const { model, meta } = loadCheckpoint(path);
    return new ModlReconstructor(model, meta, path);
  }

  /** Reconstructs every sample (in input order), `batchSize` slices at a time; [H, W] images, or [S, H, W] with S map sets. */
  reconstruct(samples: ReconSample[], batchSize = 4, onBatch?: (done: number) => void): CArray[] {
    const out: CArray[] = [];
    for (let i = 0; i < samples.length; i += batchSize) {
      const group = samples.slice(i, i + batchSize);
      const batch = prepareBatch(group.map(({ kspace, maps, mask }) => ({ kspace, maps, mask })));
      const x = tf.tidy(() => this.model.apply(batch.aty, batch.problem, 'infer'));
      out.push(...unbatch(x, batch.scales, batch.sets));
      x.dispose();
      batch.dispose();
      onBatch?.(Math.min(samples.length, i + batchSize));
    }
    return out;
  }

  /** Fine-tunes the network on these slices' own k-space (zero-shot SSDU, nn/adapt.ts); reset() undoes it. */
  adapt(samples: ReconSample[], options: AdaptOptions): AdaptReport {
    return adaptToScan(this.model, samples.map(({ kspace, maps, mask }) => ({ kspace, maps, mask })), options);
  }

  /** Puts the checkpoint's weights back. */
  reset(): void {
    const { model } = loadCheckpoint(this.path);
    this.model.setWeights(model.namedWeights());
    model.dispose();
  }

  dispose(): void {
    this.model.dispose();
  }
}
