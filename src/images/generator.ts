/**
 * Image generators: where the magnitude images of a synthetic dataset come
 * from. Built in: `phantom` (procedural brain, signal equations) and `images`
 * (slices of a folder of DICOM/NIfTI with augmentation), registered below.
 * Learned generators (VAE, GAN) live a floor higher and register themselves
 * the same way when src/generative/generators.ts is imported (the CLI and the
 * package root do).
 *
 * A generator is created from JSON-serialisable options, so that each worker
 * thread can create its own copy (`runsIn: 'worker'`, the default). A generator
 * that should exist once (a tfjs model with its own thread pool) registers with
 * `runsIn: 'main'`: it is created on the main thread, which samples each
 * shard's images and hands them to the simulation workers.
 */
import { ModlError } from '../util/errors.js';
import type { GeneratorFactory, GeneratorOptions, ImageGenerator, SampleInfo } from './image-generator.js';

export type { GeneratorFactory, GeneratorOptions, ImageGenerator, SampleInfo };

export interface GeneratorEntry {
  factory: GeneratorFactory;
  /** Where instances live: one per worker thread (default) or one on the main thread. */
  runsIn: 'worker' | 'main';
  description: string;
}

const registry = new Map<string, GeneratorEntry>();

export function registerGenerator(
  name: string, factory: GeneratorFactory, opts: { runsIn?: 'worker' | 'main'; description?: string } = {},
): void {
  registry.set(name, { factory, runsIn: opts.runsIn ?? 'worker', description: opts.description ?? '' });
}

export function generatorEntry(name: string): GeneratorEntry {
  const entry = registry.get(name);
  if (!entry) throw new ModlError(`unknown image generator '${name}' (available: ${[...registry.keys()].join(', ')})`);
  return entry;
}

export async function createGenerator(name: string, options: GeneratorOptions = {}): Promise<ImageGenerator> {
  return generatorEntry(name).factory(options);
}

export function listGenerators(): { name: string; description: string }[] {
  return [...registry].map(([name, e]) => ({ name, description: e.description }));
}

/** Images and their descriptions, from sampleWithInfo when the generator has it. */
export async function sampleImages(
  gen: ImageGenerator, count: number, seed: number, size: [number, number],
): Promise<{ images: Float32Array[]; info: SampleInfo[] }> {
  const result = gen.sampleWithInfo
    ? await gen.sampleWithInfo(count, seed, size)
    : { images: await gen.sample(count, seed, size), info: [] as SampleInfo[] };
  const n = size[0] * size[1];
  if (result.images.length !== count) throw new Error(`generator '${gen.name}' returned ${result.images.length} images, ${count} were asked for`);
  result.images.forEach((img, i) => {
    if (img.length !== n) throw new Error(`generator '${gen.name}': image ${i} has ${img.length} pixels, expected ${size[0]}×${size[1]}`);
  });
  return result;
}

registerGenerator('phantom', async (o) => (await import('./phantom-generator.js')).phantomGenerator(o), {
  description: 'procedural brain phantom (tissue classes, T1/T2/PD, signal equations); no download',
});
registerGenerator('images', async (o) => (await import('./images.js')).imageFolderGenerator(o), {
  description: 'slices of the DICOM/NIfTI images in a folder (--images DIR), augmented',
});
