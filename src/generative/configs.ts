/**
 * The configurations of the two generator kinds, apart from their models so
 * that the common model interface (model.ts) can name them without importing
 * the models.
 */
import type { NetConfig } from './nets.js';

export type GeneratorKind = 'vae' | 'gan';

export interface VaeConfig extends NetConfig {
  kind: 'vae';
  /** Weight of the KL term. */
  beta: number;
  /** Decoder standard deviation s in the reconstruction term (intensity units, images in [0, 1]). */
  noiseStd: number;
  learningRate: number;
}

export interface GanConfig extends NetConfig {
  kind: 'gan';
  /** Critic channels at full resolution (its other settings are the generator's). */
  criticChannels: number;
  /** How the critic halves the resolution (nets.ts). */
  criticDownsample: 'unshuffle' | 'avgpool';
  learningRateGenerator: number;
  learningRateCritic: number;
  beta1: number;
  beta2: number;
  /** Steps at the start that update only the critic. */
  criticWarmupSteps: number;
  /** Decay of the generator's weight average that samples come from (0: sample the live generator). */
  emaDecay: number;
  criticNorm: 'spectral' | 'none';
  /** Weight γ of the R1 penalty (0: none). */
  r1Gamma: number;
  /** Critic steps between R1 evaluations. */
  r1Interval: number;
  /** Weight λ of the reconstruction anchor (0: none; needs initGeneratorFromVae). */
  reconstructionWeight: number;
  /** Standard deviation σ₀ of the critic's instance noise at step 0 (0: none), falling linearly to 0 at instanceNoiseSteps. */
  instanceNoise: number;
  instanceNoiseSteps: number;
}

export type GenerativeConfig = VaeConfig | GanConfig;
