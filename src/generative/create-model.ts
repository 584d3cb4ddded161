/** A VAE or GAN from its configuration; the models load only when asked for. */
import type { GenerativeConfig } from './configs.js';
import type { GenerativeModel } from './model.js';

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
