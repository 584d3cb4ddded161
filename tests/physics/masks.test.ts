import { describe, expect, it } from 'vitest';
import { equispacedMask1d, fractionOf, makeMask, poissonDiscMask2d, randomMask1d, type MaskKind } from '../../src/physics/masks.js';

const columnsOf = (mask: Float32Array, H: number, W: number) => {
  const cols = Array.from({ length: W }, (_, x) => mask[x]!);
  for (let y = 1; y < H; y++) for (let x = 0; x < W; x++) expect(mask[y * W + x]).toBe(cols[x]); // whole columns
  return cols;
};

describe('1D Cartesian masks (fastMRI semantics)', () => {
  for (const [fn, name] of [[randomMask1d, 'random'], [equispacedMask1d, 'equispaced']] as const) {
    for (const [R, cf, W] of [[4, 0.08, 368], [8, 0.04, 320], [4, 0.08, 181]] as const) {
      it(`${name} ${R}× on ${W} columns: whole columns, centre of round(W·cf) columns, fraction ≈ 1/R`, () => {
        const m = fn(64, W, { acceleration: R, centerFraction: cf, seed: 3 });
        const cols = columnsOf(m.mask, 64, W);
        const count = Math.round(W * cf);
        const start = Math.floor((W - count + 1) / 2);
        for (let x = start; x < start + count; x++) expect(cols[x]).toBe(1);
        expect(m.fraction).toBeCloseTo(fractionOf(m.mask), 12);
        // random: a binomial draw; equispaced: deterministic spacing
        const tol = name === 'random' ? 4 * Math.sqrt((1 / R) / W) : 0.02;
        expect(Math.abs(m.fraction - 1 / R)).toBeLessThan(tol);
      });
    }
  }

  it('is reproducible from its seed and differs between seeds', () => {
    const a = randomMask1d(8, 256, { acceleration: 4, seed: 11 });
    const b = randomMask1d(8, 256, { acceleration: 4, seed: 11 });
    const c = randomMask1d(8, 256, { acceleration: 4, seed: 12 });
    expect(Array.from(a.mask)).toEqual(Array.from(b.mask));
    expect(Array.from(a.mask)).not.toEqual(Array.from(c.mask));
  });

  it('with phaseEncode H samples whole rows: the W mask of the transposed plane, transposed', () => {
    for (const kind of ['random', 'equispaced'] as const) {
      const rows = makeMask(kind, 168, 40, { acceleration: 4, seed: 5, phaseEncode: 'H' });
      const cols = makeMask(kind, 40, 168, { acceleration: 4, seed: 5 });
      expect([rows.H, rows.W]).toEqual([168, 40]);
      for (let y = 0; y < 168; y++) for (let x = 0; x < 40; x++) expect(rows.mask[y * 40 + x]).toBe(cols.mask[x * 168 + y]);
      expect(rows.fraction).toBe(cols.fraction);
    }
  });

  it('equispaced columns outside the centre are evenly spaced', () => {
    const W = 320;
    const cols = columnsOf(equispacedMask1d(4, W, { acceleration: 4, centerFraction: 0.08, seed: 1 }).mask, 4, W);
    const count = Math.round(W * 0.08), start = Math.floor((W - count + 1) / 2);
    const outside = cols.map((v, x) => (v && (x < start || x >= start + count) ? x : -1)).filter((x) => x >= 0);
    const gaps = outside.slice(1).map((x, i) => x - outside[i]!).filter((g) => g < 10);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
  });
});

describe('2D variable-density Poisson-disc mask', () => {
  it('meets the acceleration, keeps the calibration block, and is denser at the centre', () => {
    const [H, W] = [180, 230];
    const m = poissonDiscMask2d(H, W, { acceleration: 8, seed: 5, calib: 24 });
    expect(Math.abs(m.fraction - 1 / 8)).toBeLessThan(0.01);
    const y0 = Math.floor((H - 24 + 1) / 2), x0 = Math.floor((W - 24 + 1) / 2);
    for (let y = y0; y < y0 + 24; y++) for (let x = x0; x < x0 + 24; x++) expect(m.mask[y * W + x]).toBe(1);
    const density = (r0: number, r1: number) => {
      let s = 0, n = 0;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const r = Math.hypot((y - H / 2) / (H / 2), (x - W / 2) / (W / 2));
        if (r >= r0 && r < r1) { s += m.mask[y * W + x]!; n++; }
      }
      return s / n;
    };
    expect(density(0.25, 0.5)).toBeGreaterThan(1.5 * density(0.9, 1.2));
    expect(Array.from(makeMask('poisson', H, W, { acceleration: 8, seed: 5, calib: 24 }).mask)).toEqual(Array.from(m.mask));
  });

  it('refuses a mask kind it does not know, naming the ones it does', () => {
    expect(() => makeMask('spiral' as MaskKind, 32, 32, { acceleration: 4, seed: 0 })).toThrow(/unknown mask kind 'spiral' \(one of random, equispaced, poisson\)/);
  });

  it('has no two samples closer than one pixel outside the calibration block (a Poisson-disc property)', () => {
    const [H, W] = [64, 64];
    const m = poissonDiscMask2d(H, W, { acceleration: 6, seed: 2, calib: 8 });
    const inCalib = (y: number, x: number) => y >= 28 && y < 36 && x >= 28 && x < 36;
    let adjacent = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x + 1 < W; x++) {
      if (!inCalib(y, x) && !inCalib(y, x + 1) && m.mask[y * W + x] && m.mask[y * W + x + 1]) adjacent++;
    }
    expect(adjacent).toBe(0);
  });
});
