/**
 * What an image generator is (generator.ts holds the registry of them); apart,
 * so that the generators themselves need not import the registry that loads them.
 */
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
