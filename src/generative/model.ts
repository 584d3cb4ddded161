/**
 * What the trainer, the checkpoints, the quality report and the synth adapter
 * need from a learned image generator (the VAE and the GAN both provide it).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Params } from './layers.js';
import type { GenerativeConfig, GeneratorKind } from './configs.js';

export type { GenerativeConfig, GeneratorKind };

/** Optimiser state as plain data: step counts by optimiser, moments by name. */
export interface OptimizerState {
  steps: Record<string, number>;
  tensors: tf.NamedTensorMap;
}

export interface GenerativeModel {
  readonly kind: GeneratorKind;
  readonly config: GenerativeConfig;
  readonly latent: number;
  readonly size: number;
  /** Every weight and state tensor (batch-norm statistics, spectral-norm vectors) by name. */
  readonly params: Params;
  /** Name prefixes of the weights sampling needs (the decoder or generator): a sampling-only checkpoint holds just these. */
  readonly samplingWeights: string[];
  /** Images in [0, 1], [B, S, S, 1], for latents z [B, latent]; inference mode. */
  generate(z: tf.Tensor2D): tf.Tensor4D;
  /** One optimisation step on a batch of real images [B, S, S, 1]; `noise` holds noisePerStep(B) standard normals. */
  trainStep(real: tf.Tensor4D, noise: Float32Array): Record<string, number>;
  noisePerStep(batch: number): number;
  /** After each epoch: adapt sampling to the training images (the VAE fits its latent distribution). */
  fitToTrainingSet?(data: Float32Array, count: number): void;
  optimizerState(): OptimizerState;
  setOptimizerState(state: OptimizerState): void;
  /** Trainable parameters per sub-network. */
  parameterCounts(): Record<string, number>;
  /** Forward FLOPs per image per sub-network. */
  flopsPerImage(): Record<string, number>;
  dispose(): void;
}
