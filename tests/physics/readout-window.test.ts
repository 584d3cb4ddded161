import { describe, expect, it } from 'vitest';
import { randomMask1d, poissonDiscMask2d } from '../../src/physics/masks.js';
import { readoutWindow } from '../../src/physics/readout-window.js';
import { SenseOp } from '../../src/physics/sense.js';
import { randomComplex, relErr } from '../helpers/random.js';

const rows = (x: Float32Array, W: number, start: number, count: number) => x.subarray(2 * start * W, 2 * (start + count) * W);

describe('readout windows of a 1D-undersampled slice', () => {
  for (const [C, H, W, start, count] of [[3, 20, 12, 5, 8], [2, 15, 9, 0, 15], [4, 17, 10, 16, 1]] as const) {
    it(`are the exact sub-problem: rows ${start}–${start + count - 1} of ${H}, Aᴴy and AᴴA agree with the full slice`, () => {
      const maps = { data: randomComplex(C * H * W, 1), shape: [C, H, W] };
      const mask = randomMask1d(H, W, { acceleration: 3, seed: 4, centerFraction: 0.2 }).mask;
      const kspace = { data: randomComplex(C * H * W, 2), shape: [C, H, W] };
      const target = { data: randomComplex(H * W, 3), shape: [H, W] };
      const win = readoutWindow({ kspace, maps, mask, target }, start, count);
      expect(win.kspace.shape).toEqual([C, count, W]);
      expect(win.target!.data).toEqual(rows(target.data, W, start, count));
      const full = new SenseOp(maps, mask), part = new SenseOp(win.maps, win.mask);
      const atyFull = new Float32Array(2 * H * W), atyWin = new Float32Array(2 * count * W);
      full.adjoint([kspace.data], atyFull);
      part.adjoint([win.kspace.data], atyWin);
      expect(relErr(atyWin, rows(atyFull, W, start, count))).toBeLessThan(1e-5);
      // AᴴA acts row by row: its window rows depend only on the window rows of x
      const x = randomComplex(H * W, 5);
      const nFull = new Float32Array(2 * H * W), nWin = new Float32Array(2 * count * W);
      full.normal(x, nFull);
      part.normal(rows(x, W, start, count).slice(), nWin);
      expect(relErr(nWin, rows(nFull, W, start, count))).toBeLessThan(1e-5);
    });
  }

  it('refuse 2D masks, where the rows are coupled, and windows outside the image', () => {
    const [C, H, W] = [2, 16, 16];
    const slice = { kspace: { data: randomComplex(C * H * W, 1), shape: [C, H, W] }, maps: { data: randomComplex(C * H * W, 2), shape: [C, H, W] } };
    expect(() => readoutWindow({ ...slice, mask: poissonDiscMask2d(H, W, { acceleration: 2, seed: 1, calib: 4 }).mask }, 0, 8)).toThrow(/1D masks/);
    expect(() => readoutWindow({ ...slice, mask: randomMask1d(H, W, { acceleration: 2, seed: 1 }).mask }, 10, 8)).toThrow(/not inside/);
  });
});
