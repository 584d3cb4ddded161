import { describe, expect, it } from 'vitest';
import { MixedGenerator } from '../../src/images/mixed-generator.js';
import type { ImageGenerator } from '../../src/images/image-generator.js';

/** A source whose images are filled with its own value. */
const constant = (value: number): ImageGenerator => ({
  name: `c${value}`, provenance: { value },
  sample: async (count, _seed, [H, W]) => Array.from({ length: count }, () => new Float32Array(H * W).fill(value)),
});

describe('MixedGenerator', () => {
  it('draws each image from a source in proportion to its weight, reproducibly', async () => {
    const mix = new MixedGenerator([{ generator: constant(1), weight: 3 }, { generator: constant(2), weight: 1 }]);
    const images = await mix.sample(400, 7, [2, 2]);
    const fromSecond = images.filter((im) => im[0] === 2).length;
    expect(fromSecond).toBeGreaterThan(70);
    expect(fromSecond).toBeLessThan(130);
    expect((await mix.sample(400, 7, [2, 2])).map((im) => im[0])).toEqual(images.map((im) => im[0]));
    expect(mix.provenance).toEqual({ mix: [{ share: 0.75, value: 1 }, { share: 0.25, value: 2 }] });
    expect((await new MixedGenerator([{ generator: constant(1), weight: 1 }, { generator: constant(2), weight: 0 }]).sample(50, 1, [1, 1])).every((im) => im[0] === 1)).toBe(true);
    expect(() => new MixedGenerator([{ generator: constant(1), weight: 0 }])).toThrow(/one of them positive/);
  });
});
