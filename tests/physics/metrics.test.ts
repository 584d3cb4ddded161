import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { imageMetrics, nmse, psnr, ssim } from '../../src/physics/metrics.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

function raw(name: string): Float32Array {
  const b = readFileSync(shared('metrics', name));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

describe.skipIf(!HAS_SHARED)('metrics reproduce scikit-image 0.19.3 and fastMRI', () => {
  const expected = HAS_SHARED ? JSON.parse(readFileSync(shared('metrics/expected.json'), 'utf8')) : { cases: [] };
  for (const c of expected.cases as { test: string; data_range_value: number; psnr: number; ssim: number; nmse: number }[]) {
    it(`${c.test} at data range ${c.data_range_value}`, () => {
      const ref = raw('ref_230x180_f32.raw');
      const x = raw(`${c.test}_230x180_f32.raw`);
      expect(Math.abs(psnr(ref, x, c.data_range_value) - c.psnr)).toBeLessThan(1e-4);
      expect(Math.abs(ssim(ref, x, 230, 180, c.data_range_value) - c.ssim)).toBeLessThan(1e-6);
      expect(Math.abs(nmse(ref, x) - c.nmse) / c.nmse).toBeLessThan(1e-6);
    });
  }
});

describe('metric properties', () => {
  it('identical images give SSIM 1, NMSE 0 and infinite PSNR', () => {
    const a = Float32Array.from({ length: 20 * 30 }, (_, i) => Math.sin(i / 7) + 1);
    const m = imageMetrics(a, a, 20, 30);
    expect(m.ssim).toBeCloseTo(1, 12);
    expect(m.nmse).toBe(0);
    expect(m.psnr).toBe(Infinity);
  });

  it('SSIM uses the sample covariance: a constant offset of one image lowers only the luminance term', () => {
    const a = Float32Array.from({ length: 16 * 16 }, (_, i) => (i * 37) % 11);
    const b = a.map((v) => v + 1);
    const s = ssim(a, b, 16, 16, 10);
    expect(s).toBeLessThan(1);
    expect(s).toBeGreaterThan(0.9);
  });
});
