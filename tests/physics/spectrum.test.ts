import { describe, expect, it } from 'vitest';
import { imagePowerProfile, radialPowerProfile } from '../../src/physics/spectrum.js';
import { Rng } from '../../src/util/random.js';

const EDGES = [0, 0.25, 0.5, 0.75, 1.5];
const H = 32, W = 64;
const bandOf = (y: number, x: number) => {
  const r = Math.hypot((y - H / 2) / (H / 2), (x - W / 2) / (W / 2));
  return EDGES.findIndex((e, b) => r >= e && r < EDGES[b + 1]!);
};

describe('radial power profile', () => {
  it('puts a cosine along the columns in the band of its frequency, the mean power over k-space being 1', () => {
    // 16 cycles over 64 columns: k_x = ±16 of a Nyquist of 32, r = 0.5
    const img = Float32Array.from({ length: H * W }, (_, i) => Math.cos((2 * Math.PI * 16 * (i % W)) / W));
    const p = imagePowerProfile(img, H, W, EDGES);
    const points = EDGES.slice(1).map((_, b) => Array.from({ length: H * W }, (_, i) => bandOf(Math.floor(i / W), i % W)).filter((v) => v === b).length);
    expect(p[0]).toBeCloseTo(0, 6);
    expect(p[1]).toBeCloseTo(0, 6);
    expect(p[3]).toBeCloseTo(0, 6);
    expect(p[2]! * points[2]!).toBeCloseTo(H * W, 2); // all the energy, spread over the band's points
  });

  it('estimates the full profile from the sampled points of an undersampled k-space, coils pooled', () => {
    // power 1, 4, 9, 16 by band, random phase, two coils; a random half of the points sampled
    const rng = new Rng(7);
    const k = new Float32Array(2 * 2 * H * W);
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < H * W; i++) {
        const a = bandOf(Math.floor(i / W), i % W) + 1, t = rng.uniform(0, 2 * Math.PI);
        k[2 * (c * H * W + i)] = a * Math.cos(t);
        k[2 * (c * H * W + i) + 1] = a * Math.sin(t);
      }
    }
    const full = radialPowerProfile({ data: k, shape: [2, H, W] }, EDGES);
    const mask = Float32Array.from({ length: H * W }, () => (rng.next() < 0.5 ? 1 : 0));
    const masked = radialPowerProfile({ data: k.map((v, j) => v * mask[(j >> 1) % (H * W)]!), shape: [2, H, W] }, EDGES, mask);
    for (let b = 0; b < 4; b++) {
      expect(full[b]! / full[0]!).toBeCloseTo((b + 1) ** 2, 4);
      expect(masked[b]).toBeCloseTo(full[b]!, 4);
    }
  });
});
