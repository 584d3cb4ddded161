/**
 * The learned generators as `modl synth` image sources (`--generator vae|gan
 * [--checkpoint DIR]`, default: the shipped checkpoints/vae or checkpoints/gan).
 *
 * Image k of sample(count, seed, size) decodes the k-th block of latent values
 * drawn from Rng(seed), so the images depend only on (seed, k): the first
 * images of a larger request are the images of a smaller one. The network
 * makes S×S images (S = 128 for the shipped ones); another size is reached by
 * bilinear resampling of the square field of view into the largest square that
 * fits, zero outside (so 256×256 is a 2× bilinear upsampling, not new detail).
 * Each image is then scaled so its 99.5th percentile is 1, like the other sources.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { currentBackend, initBackend } from '../backend/index.js';
import { parseBackendOptions } from '../backend/options.js';
import { bilinear, normalizePercentile } from '../images/fields.js';
import type { ImageGenerator, SampleInfo } from '../images/image-generator.js';
import { ModlError } from '../util/errors.js';
import { shippedCheckpoint } from '../util/paths.js';
import { Rng } from '../util/random.js';
import { loadGenerator, type GeneratorMeta } from './checkpoint.js';
import type { GenerativeModel, GeneratorKind } from './model.js';
import { generateImages } from './train.js';
import { resolveCheckpoint } from '../util/fs.js';

/** Resamples a square S×S image into H×W: the largest centred square that fits, bilinear, zero outside. */
export function resampleSquare(img: Float32Array, S: number, [H, W]: [number, number]): Float32Array {
  if (H === S && W === S) return img.slice();
  const scale = Math.min(H, W) / S;
  const out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    const sy = (y - (H - 1) / 2) / scale + (S - 1) / 2;
    for (let x = 0; x < W; x++) out[y * W + x] = bilinear(img, S, S, sy, (x - (W - 1) / 2) / scale + (S - 1) / 2);
  }
  return out;
}

export class LearnedGenerator implements ImageGenerator {
  readonly name: GeneratorKind;
  readonly provenance: Record<string, unknown>;

  constructor(private readonly model: GenerativeModel, meta: GeneratorMeta, checkpoint: string) {
    this.name = model.kind;
    const training = meta.training as { epochs?: number; steps?: number } | undefined;
    this.provenance = {
      generator: model.kind,
      checkpoint,
      weightsSha256: createHash('sha256').update(readFileSync(join(checkpoint, 'weights.bin'))).digest('hex'),
      created: meta.created,
      config: meta.config,
      trained: { epochs: training?.epochs, steps: training?.steps },
      nativeSize: model.size,
      resampling: 'bilinear, largest centred square',
    };
  }

  async sample(count: number, seed: number, size: [number, number]): Promise<Float32Array[]> {
    return (await this.sampleWithInfo(count, seed, size)).images;
  }

  async sampleWithInfo(count: number, seed: number, size: [number, number]): Promise<{ images: Float32Array[]; info: SampleInfo[] }> {
    const rng = new Rng(seed);
    const latents = Float32Array.from({ length: count * this.model.latent }, () => rng.normal());
    const images = generateImages(this.model, latents).map((img) => {
      const out = resampleSquare(img, this.model.size, size);
      normalizePercentile(out, 99.5);
      return out;
    });
    return { images, info: images.map((_, k) => ({ generator: this.name, latentSeed: seed, latentIndex: k })) };
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Factory for the synth registry. Options: checkpoint (a checkpoint folder or
 * a training run folder; default the shipped one), backend, threads (started
 * here unless a backend is already running).
 */
export async function learnedGenerator(kind: GeneratorKind, options: Record<string, unknown>): Promise<ImageGenerator> {
  const given = options.checkpoint;
  if (given !== undefined && (typeof given !== 'string' || given === '')) throw new ModlError(`${kind}: checkpoint must be a folder path`);
  const checkpoint = resolveCheckpoint(resolve(given ?? shippedCheckpoint(kind)));
  if (!currentBackend()) {
    const str = (v: unknown) => (v === undefined ? undefined : String(v));
    await initBackend(parseBackendOptions({ backend: str(options.backend), threads: str(options.threads) }));
  }
  const { model, meta } = await loadGenerator(checkpoint, kind);
  return new LearnedGenerator(model, meta, checkpoint);
}
