/**
 * What an image generator is (generator.ts holds the registry of them); apart,
 * so that the generators themselves need not import the registry that loads them.
 */
import { Rng } from '../util/random.js';

export interface SampleInfo {
  [key: string]: unknown;
}

export interface ImageGenerator {
  readonly name: string;
  /** What made the images (options, checkpoint path and hash, version): recorded in the manifest. */
  readonly provenance: Record<string, unknown>;
  /**
   * `count` magnitude images, each H·W row-major (W fastest), scaled so that
   * the bright tissue is about 1 (99.5th percentile = 1), fully determined by
   * `seed`: the same arguments give the same images.
   */
  sample(count: number, seed: number, size: [number, number]): Promise<Float32Array[]>;
  /** Optional: the same images plus a description of each (source slice, contrast, latent seed, ...). */
  sampleWithInfo?(count: number, seed: number, size: [number, number]): Promise<{ images: Float32Array[]; info: SampleInfo[] }>;
  /** Frees what the generator holds (tfjs models). */
  dispose?(): void | Promise<void>;
}

export type GeneratorOptions = Record<string, unknown>;
export type GeneratorFactory = (options: GeneratorOptions) => Promise<ImageGenerator>;

/**
 * The images and descriptions of `count` draws made in turn from one stream
 * seeded by `seed`: sampleWithInfo for generators that draw one image at a time.
 */
export function drawImages(
  count: number, seed: number, draw: (rng: Rng, k: number) => { image: Float32Array; info: SampleInfo },
): { images: Float32Array[]; info: SampleInfo[] } {
  const rng = new Rng(seed);
  const images: Float32Array[] = [];
  const info: SampleInfo[] = [];
  for (let k = 0; k < count; k++) {
    const d = draw(rng, k);
    images.push(d.image);
    info.push(d.info);
  }
  return { images, info };
}
