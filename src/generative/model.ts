/**
 * What the trainer, the checkpoints, the quality report and the synth adapter
 * need from a learned image generator (the VAE and the GAN both provide it).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Params } from './layers.js';
import type { VaeConfig } from './vae.js';
import type { GanConfig } from './gan.js';

export type GeneratorKind = 'vae' | 'gan';
export type GenerativeConfig = VaeConfig | GanConfig;

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

/**
 * Creates a model of either kind from its configuration (a fresh initialisation
 * from `seed`). Configurations saved before an option existed (the shipped VAE
 * and GAN, older runs) lack it; they get the value that those models had.
 */
export async function createModel(saved: GenerativeConfig, seed: number): Promise<GenerativeModel> {
  const before = saved.kind === 'gan' ? { upsample: 'subpixel', criticDownsample: 'unshuffle', criticWarmupSteps: 0, emaDecay: 0, criticNorm: 'spectral', r1Gamma: 0, r1Interval: 4, reconstructionWeight: 0, instanceNoise: 0, instanceNoiseSteps: 1 } : { upsample: 'subpixel' };
  const config = { ...before, ...saved } as GenerativeConfig;
  if (config.kind === 'vae') return new (await import('./vae.js')).Vae(config, seed);
  if (config.kind === 'gan') return new (await import('./gan.js')).Gan(config, seed);
  throw new Error(`unknown generator kind '${(config as { kind: unknown }).kind}'`);
}
