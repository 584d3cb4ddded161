/**
 * Several image sources as one: each image is drawn from source k with
 * probability weight_k, by a choice seeded from (seed, image index), so a mix
 * is as reproducible as its sources. The shipped recipe uses it to put learned
 * generators' samples among the real-image slices.
 */
import { Rng } from '../util/random.js';
import type { ImageGenerator } from './image-generator.js';

export class MixedGenerator implements ImageGenerator {
  readonly name = 'mixed';
  readonly provenance: Record<string, unknown>;
  private readonly total: number;

  constructor(private readonly parts: { generator: ImageGenerator; weight: number }[]) {
    if (parts.length === 0 || parts.some((p) => !(p.weight >= 0)) || !parts.some((p) => p.weight > 0)) {
      throw new Error('a mix needs sources with non-negative weights, one of them positive');
    }
    this.total = parts.reduce((s, p) => s + p.weight, 0);
    this.provenance = { mix: parts.map((p) => ({ share: p.weight / this.total, ...p.generator.provenance })) };
  }

  async sample(count: number, seed: number, size: [number, number]): Promise<Float32Array[]> {
    const rng = new Rng(seed);
    const out: Float32Array[] = [];
    for (let k = 0; k < count; k++) {
      let u = rng.uniform(0, this.total);
      const part = this.parts.find((p) => (u -= p.weight) < 0) ?? this.parts[this.parts.length - 1]!;
      out.push(...(await part.generator.sample(1, rng.int(2 ** 31), size)));
    }
    return out;
  }
}
