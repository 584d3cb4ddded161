/**
 * Exact symmetries of the SENSE problem, for self-ensembling a learned
 * reconstruction (as fastMRI challenge entries did): the same scan seen
 * flipped or conjugated is the same inverse problem, so a network that is not
 * exactly equivariant gives slightly different answers, and their mean is
 * better than any one of them.
 *
 * With the centred FFT (c = ⌊n/2⌋ per axis), flipping an image about its centre
 * pixel, x'[n] = x[(2c − n) mod n], flips its k-space about the centre sample
 * the same way, with no phase; conjugating an image gives conj(y) flipped on
 * both axes. So a variant (flipH, flipW, conj) of a scan is: the maps flipped
 * and conjugated as the image, the k-space and mask flipped on an axis when
 * exactly one of (that flip, conj) is set, the k-space conjugated with conj.
 * The reconstruction of the variant, transformed back (each variant is its own
 * inverse), is again an estimate of the original image.
 */
import type { CArray } from './complex.js';

export interface Symmetry {
  flipH: boolean;
  flipW: boolean;
  conj: boolean;
}

/** How many symmetries a self-ensemble may take. */
export const ENSEMBLE_SIZES = ['1', '2', '4', '8'] as const;

/**
 * How an unrolled network's denoiser averages over n symmetries: the same
 * symmetries(n) at every stage ('fixed'), or stage k over the k-th of
 * symmetryCosets(n), cyclically ('cycled').
 */
export const SYMMETRY_PLANS = ['fixed', 'cycled'] as const;
export type SymmetryPlan = (typeof SYMMETRY_PLANS)[number];

/** A choice of the denoiser's symmetries (DenoiserConfig.symmetries and .symmetryPlan); absent: unchanged. */
export interface SymmetrySetting {
  symmetries?: number;
  symmetryPlan?: SymmetryPlan;
}

/**
 * The setting given by the `--symmetries` and `--symmetry-plan` option strings
 * (commands and pipelines); their values are checked where the denoiser is made.
 */
export function parseSymmetrySetting(v: { symmetries?: string; 'symmetry-plan'?: string }): SymmetrySetting {
  return { symmetries: v.symmetries === undefined ? undefined : Number(v.symmetries), symmetryPlan: v['symmetry-plan'] as SymmetryPlan | undefined };
}

/** The first `n` of the eight symmetries (1, 2, 4 or 8): identity, flips, then their conjugates. */
export function symmetries(n: number): Symmetry[] {
  if (!(ENSEMBLE_SIZES as readonly string[]).includes(String(n))) throw new Error(`the self-ensemble takes 1, 2, 4 or 8 variants, got ${n}`);
  const all: Symmetry[] = [];
  for (const conj of [false, true]) for (const flipH of [false, true]) for (const flipW of [false, true]) all.push({ flipH, flipW, conj });
  // with 2: identity and the conjugate, the variant that changes the most (phase and both axes)
  return n === 2 ? [all[0]!, all[7]!] : all.slice(0, n);
}

/** The symmetry a then b (flips and conjugation commute, and each is its own inverse). */
function compose(a: Symmetry, b: Symmetry): Symmetry {
  return { flipH: a.flipH !== b.flipH, flipW: a.flipW !== b.flipW, conj: a.conj !== b.conj };
}

const sameSymmetry = (a: Symmetry, b: Symmetry) => a.flipH === b.flipH && a.flipW === b.flipW && a.conj === b.conj;

/**
 * The cosets r·G of G = symmetries(n) that partition the eight symmetries, in
 * the order of their first member in symmetries(8): with n = 1 the eight one by
 * one, with n = 2 the pairs {r, r·c} (c: conjugation with both axes reversed)
 * for r = identity, flip W, flip H, flip HW, with n = 8 the whole group once.
 */
export function symmetryCosets(n: number): Symmetry[][] {
  const group = symmetries(n), cosets: Symmetry[][] = [];
  for (const r of symmetries(8)) {
    if (cosets.some((c) => c.some((s) => sameSymmetry(s, r)))) continue;
    cosets.push(group.map((g) => compose(r, g)));
  }
  return cosets;
}

/**
 * Planes of H×W (the last two dimensions; complex interleaved when `complex`)
 * flipped about their centre on the chosen axes, optionally conjugated. A new array.
 */
function transformPlanes(data: Float32Array, H: number, W: number, flipH: boolean, flipW: boolean, conj: boolean, complex: boolean): Float32Array {
  const ch = complex ? 2 : 1, plane = H * W * ch;
  if (data.length % plane !== 0) throw new Error(`array of ${data.length} values is not made of ${H}×${W} planes`);
  const out = new Float32Array(data.length);
  const cH = H >> 1, cW = W >> 1;
  for (let p = 0; p < data.length; p += plane) {
    for (let i = 0; i < H; i++) {
      const si = flipH ? (2 * cH - i + H) % H : i;
      for (let j = 0; j < W; j++) {
        const sj = flipW ? (2 * cW - j + W) % W : j;
        const to = p + (i * W + j) * ch, from = p + (si * W + sj) * ch;
        out[to] = data[from]!;
        if (complex) out[to + 1] = conj ? -data[from + 1]! : data[from + 1]!;
      }
    }
  }
  return out;
}

/** An image-domain array [..., H, W] (images, coil maps) under the symmetry; applying it twice gives the original. */
export function transformImage(x: CArray, s: Symmetry): CArray {
  const [H, W] = x.shape.slice(-2) as [number, number];
  return { data: transformPlanes(x.data, H, W, s.flipH, s.flipW, s.conj, true), shape: [...x.shape] };
}

/** k-space [..., H, W] under the symmetry (see the module comment). */
export function transformKspace(k: CArray, s: Symmetry): CArray {
  const [H, W] = k.shape.slice(-2) as [number, number];
  return { data: transformPlanes(k.data, H, W, s.flipH !== s.conj, s.flipW !== s.conj, s.conj, true), shape: [...k.shape] };
}

/** A real sampling mask [H, W] under the symmetry: flipped as the k-space. */
export function transformMask(mask: Float32Array, H: number, W: number, s: Symmetry): Float32Array {
  return transformPlanes(mask, H, W, s.flipH !== s.conj, s.flipW !== s.conj, false, false);
}

/** A scan (k-space, maps, mask) as seen under the symmetry. */
export function transformScan(scan: { kspace: CArray; maps: CArray; mask: Float32Array }, s: Symmetry): { kspace: CArray; maps: CArray; mask: Float32Array } {
  const [H, W] = scan.kspace.shape.slice(-2) as [number, number];
  return { kspace: transformKspace(scan.kspace, s), maps: transformImage(scan.maps, s), mask: transformMask(scan.mask, H, W, s) };
}
