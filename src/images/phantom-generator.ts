/**
 * The `phantom` generator: one random anatomy per image (procedural, or an
 * axial slice of a label volume such as BrainWeb), rendered with a randomly
 * chosen contrast whose timings are jittered, a smooth intensity
 * non-uniformity, and the 99.5th percentile scaled to 1.
 */
import { ModlError } from '../util/errors.js';
import { Rng } from '../util/random.js';
import { LabelAnatomySource } from './brainweb.js';
import { normalizePercentile, smoothRandomField } from './fields.js';
import { drawImages, type ImageGenerator, type SampleInfo } from './image-generator.js';
import { addLesions, brainAnatomy, renderContrast, type Anatomy } from './phantom.js';
import { jitterSequence, parseSequence, type FieldStrength, type Sequence } from './tissue.js';

export interface PhantomGeneratorOptions {
  /** 1.5 or 3 (tesla; default 3). */
  field?: FieldStrength;
  /** Contrasts to choose from per image (names of tissue.ts CONTRASTS or se:/gre:/ir: specs; default t1, t2, pd). */
  contrasts?: string[];
  /** Relative jitter of TR/TE/TI/flip per image (default 0.1). */
  jitter?: number;
  /** Probability that an image has white-matter lesions (default 0). */
  lesions?: number;
  /** Intensity non-uniformity: RMS of the smooth multiplicative bias (default 0.05). */
  bias?: number;
  /** A crisp label volume (BrainWeb labels) to take anatomy from instead of the procedural brain. */
  labels?: string;
}

const VERSION = 1;

export class PhantomGenerator implements ImageGenerator {
  readonly name = 'phantom';
  readonly provenance: Record<string, unknown>;
  private readonly field: FieldStrength;
  private readonly contrasts: { name: string; sequence: Sequence }[];
  private readonly labelSource: LabelAnatomySource | null;

  constructor(private readonly opts: PhantomGeneratorOptions = {}) {
    this.field = opts.field ?? 3;
    if (this.field !== 1.5 && this.field !== 3) throw new ModlError(`phantom: field strength ${String(this.field)} T is not 1.5 or 3`);
    const names = opts.contrasts?.length ? opts.contrasts : ['t1', 't2', 'pd'];
    this.contrasts = names.map((name) => {
      try {
        return { name, sequence: parseSequence(name) };
      } catch (e) {
        throw new ModlError(`phantom: ${(e as Error).message}`);
      }
    });
    for (const [key, v] of [['jitter', opts.jitter], ['lesions', opts.lesions], ['bias', opts.bias]] as const) {
      if (v !== undefined && !(v >= 0 && v <= 1)) throw new ModlError(`phantom: ${key} must be in [0, 1], got ${v}`);
    }
    this.labelSource = opts.labels ? LabelAnatomySource.load(opts.labels) : null;
    this.provenance = {
      generator: 'phantom',
      version: VERSION,
      anatomy: opts.labels ? { labels: opts.labels, axialSlices: this.labelSource!.slices.length } : 'procedural',
      field: this.field,
      contrasts: this.contrasts,
      jitter: opts.jitter ?? 0.1,
      lesions: opts.lesions ?? 0,
      bias: opts.bias ?? 0.05,
    };
  }

  async sample(count: number, seed: number, size: [number, number]): Promise<Float32Array[]> {
    return (await this.sampleWithInfo(count, seed, size)).images;
  }

  async sampleWithInfo(count: number, seed: number, size: [number, number]): Promise<{ images: Float32Array[]; info: SampleInfo[] }> {
    return drawImages(count, seed, (rng, k) => {
      const { image, description } = this.one(rng.fork(k), size);
      return { image, info: description };
    });
  }

  /** One image from its own random stream. */
  private one(rng: Rng, [H, W]: [number, number]): { image: Float32Array; description: SampleInfo } {
    const anatomySeed = rng.int(2 ** 32);
    const withLesions = rng.next() < (this.opts.lesions ?? 0);
    let anatomy: Anatomy;
    if (this.labelSource) {
      anatomy = this.labelSource.anatomy(H, W, new Rng(anatomySeed), {});
      if (withLesions) anatomy.params.lesions = addLesions(anatomy, rng.fork(1));
    } else {
      anatomy = brainAnatomy(H, W, anatomySeed, { lesions: withLesions });
    }
    const contrast = this.contrasts[rng.int(this.contrasts.length)]!;
    const sequence = jitterSequence(contrast.sequence, this.opts.jitter ?? 0.1, () => rng.next());
    const image = renderContrast(anatomy, sequence, this.field);
    const bias = this.opts.bias ?? 0.05;
    if (bias > 0) {
      const field = smoothRandomField(H, W, rng.fork(2), 1.5);
      for (let i = 0; i < image.length; i++) image[i] *= Math.max(0.5, 1 + bias * field[i]!);
    }
    normalizePercentile(image, 99.5);
    return { image, description: { anatomySeed, anatomy: anatomy.params, contrast: contrast.name, sequence, field: this.field } };
  }
}

export async function phantomGenerator(options: Record<string, unknown>): Promise<ImageGenerator> {
  const num = (v: unknown) => (v === undefined ? undefined : Number(v));
  const contrasts = options.contrasts;
  return new PhantomGenerator({
    field: num(options.field) as FieldStrength | undefined,
    contrasts: Array.isArray(contrasts) ? contrasts.map(String) : typeof contrasts === 'string' ? [contrasts] : undefined,
    jitter: num(options.jitter),
    lesions: num(options.lesions),
    bias: num(options.bias),
    labels: typeof options.labels === 'string' ? options.labels : undefined,
  });
}
