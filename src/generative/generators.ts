/**
 * Registers the learned image generators with the synth layer's registry, so
 * that `modl synth --generator vae|gan` and the pipelines find them. Imported
 * for its effect by the CLI and the package root; the models load on first use.
 */
import { registerGenerator } from '../images/generator.js';

registerGenerator('vae', async (o) => (await import('./learned-generator.js')).learnedGenerator('vae', o), {
  runsIn: 'main', description: 'convolutional VAE trained on phantom + real slices (--checkpoint DIR; default: the shipped one)',
});
registerGenerator('gan', async (o) => (await import('./learned-generator.js')).learnedGenerator('gan', o), {
  runsIn: 'main', description: 'DCGAN-style hinge/spectral-norm GAN trained on phantom + real slices (--checkpoint DIR; default: the shipped one)',
});
