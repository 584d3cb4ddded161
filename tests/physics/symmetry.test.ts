import { describe, expect, it } from 'vitest';
import { SenseOp } from '../../src/physics/sense.js';
import { cgSense } from '../../src/physics/classical.js';
import { symmetries, symmetryCosets, transformImage, transformKspace, transformMask } from '../../src/physics/symmetry.js';
import { randomComplex, relErr } from '../helpers/random.js';

function problem(S: number, C: number, H: number, W: number, seed: number) {
  const maps = { data: randomComplex(S * C * H * W, seed), shape: S === 1 ? [C, H, W] : [S, C, H, W] };
  const x = { data: randomComplex(S * H * W, seed + 1), shape: S === 1 ? [H, W] : [S, H, W] };
  const mask = Float32Array.from(randomComplex(H * W, seed + 2).subarray(0, H * W), (v) => (v > 0 ? 1 : 0));
  return { maps, x, mask };
}

describe('symmetries of the SENSE problem', () => {
  it('lists 1, 2, 4 or 8 distinct variants, the identity first, and refuses other counts', () => {
    for (const n of [1, 2, 4, 8]) {
      const v = symmetries(n);
      expect(v).toHaveLength(n);
      expect(v[0]).toEqual({ flipH: false, flipW: false, conj: false });
      expect(new Set(v.map((s) => JSON.stringify(s))).size).toBe(n);
    }
    expect(() => symmetries(3)).toThrow(/1, 2, 4 or 8/);
  });

  it('partitions the eight into cosets of symmetries(n): the first is the group itself, and any two members of one differ by a member of it', () => {
    const key = (s: object) => JSON.stringify(s);
    const x = { data: randomComplex(5 * 4, 3), shape: [5, 4] };
    for (const n of [1, 2, 4, 8]) {
      const group = symmetries(n), cosets = symmetryCosets(n);
      expect(cosets).toHaveLength(8 / n);
      expect(cosets[0]!.map(key)).toEqual(group.map(key));
      expect(new Set(cosets.flat().map(key)).size).toBe(8);
      // a then b on an image is some g of the group on it (each is its own inverse)
      const inGroup = (y: Float32Array) => group.some((g) => relErr(transformImage(x, g).data, y) === 0);
      for (const c of cosets) for (const a of c) for (const b of c) expect(inGroup(transformImage(transformImage(x, a), b).data)).toBe(true);
    }
    expect(symmetryCosets(1).flat().map(key)).toEqual(symmetries(8).map(key));
    expect(symmetryCosets(2)[1]).toEqual([{ flipH: false, flipW: true, conj: false }, { flipH: true, flipW: false, conj: true }]);
  });

  // A_T (T x) = T_k (A x): the transformed scan is the same inverse problem, exactly
  for (const [S, C, H, W] of [[1, 3, 8, 6], [2, 4, 7, 9], [1, 2, 12, 11]] as const) {
    it(`maps, mask and k-space transform consistently with the image (${S} map set(s), ${C} coils, ${H}×${W})`, () => {
      const { maps, x, mask } = problem(S, C, H, W, H * W);
      const y = new Float32Array(2 * C * H * W);
      new SenseOp(maps, mask).forward(x.data, [y]);
      for (const s of symmetries(8)) {
        const yT = new Float32Array(2 * C * H * W);
        new SenseOp(transformImage(maps, s), transformMask(mask, H, W, s)).forward(transformImage(x, s).data, [yT]);
        expect(relErr(yT, transformKspace({ data: y, shape: [C, H, W] }, s).data)).toBeLessThan(1e-6);
      }
    });
  }

  it('a linear reconstruction (CG-SENSE) of a transformed scan, transformed back, is the original one', () => {
    const [C, H, W] = [4, 10, 13];
    const { maps, x, mask } = problem(1, C, H, W, 5);
    const k = { data: new Float32Array(2 * C * H * W), shape: [C, H, W] };
    new SenseOp(maps, mask).forward(x.data, [k.data]);
    const ref = cgSense(k, maps, mask, { iterations: 20 }).image;
    for (const s of symmetries(8).slice(1)) {
      const r = cgSense(transformKspace(k, s), transformImage(maps, s), transformMask(mask, H, W, s), { iterations: 20 }).image;
      expect(relErr(transformImage(r, s).data, ref.data)).toBeLessThan(1e-4);
    }
  });
});
