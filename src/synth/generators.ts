/**
 * The image generators `modl synth --generator NAME` knows. Each line registers
 * one; a generator's module is imported only when it is used.
 * A learned generator (VAE, GAN) adds one line here, e.g.
 *   registerGenerator('vae', async (o) => (await import('./vae.js')).vaeGenerator(o), { runsIn: 'main', description: '…' });
 */
import { registerGenerator } from './generator.js';

registerGenerator('phantom', async (o) => (await import('./phantom-generator.js')).phantomGenerator(o), {
  description: 'procedural brain phantom (tissue classes, T1/T2/PD, signal equations); no download',
});
registerGenerator('images', async (o) => (await import('./images.js')).imageFolderGenerator(o), {
  description: 'slices of the DICOM/NIfTI images in a folder (--images DIR), augmented',
});
registerGenerator('vae', async (o) => (await import('../generative/synth.js')).learnedGenerator('vae', o), {
  runsIn: 'main', description: 'convolutional VAE trained on phantom + real slices (--checkpoint DIR; default: the shipped one)',
});
registerGenerator('gan', async (o) => (await import('../generative/synth.js')).learnedGenerator('gan', o), {
  runsIn: 'main', description: 'DCGAN-style hinge/spectral-norm GAN trained on phantom + real slices (--checkpoint DIR; default: the shipped one)',
});
