/**
 * The real validation case of ../shared/data (its README's protocol): the fully
 * sampled 8-coil brain `brain_alias_8ch_full` normalised to max|k| = 1, the
 * shipped fastMRI-style random 1D masks at 4×, 6× and 8× (seeds 0–2), the two
 * ESPIRiT map sets of the full data (`ecalib -m2`), and the reference image,
 * the root-sum-of-squares over the two map images of the full data.
 *
 * The file's phase-encode axis is its slower one (H in modl's layout); modl's
 * 1D masks sample whole columns, so every array is transposed to
 * [.., readout 320, phase encodes 168]. Scores are the same either way.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { czeros, type CArray } from '../physics/complex.js';
import { readCfl } from '../io/cfl.js';
import { fileError } from '../util/errors.js';
import type { ReconSample } from './batch.js';
import type { PairSource } from './train.js';

export const REAL_CASE = 'brain_alias_8ch_full';
export const REAL_ACCELERATIONS = [4, 6, 8] as const;
export const REAL_SEEDS = [0, 1, 2] as const;

/** [.., H, W] → [.., W, H] for complex arrays. */
export function transposeComplex(a: CArray): CArray {
  const shape = a.shape;
  const H = shape[shape.length - 2]!, W = shape[shape.length - 1]!;
  const lead = a.data.length / (2 * H * W);
  const out = czeros([...shape.slice(0, -2), W, H]);
  for (let l = 0; l < lead; l++) {
    const o = 2 * l * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        out.data[o + 2 * (x * H + y)] = a.data[o + 2 * (y * W + x)]!;
        out.data[o + 2 * (x * H + y) + 1] = a.data[o + 2 * (y * W + x) + 1]!;
      }
    }
  }
  return out;
}

export interface RealCase {
  /** Normalised, fully sampled k-space [C, H, W]. */
  kspace: CArray;
  /** ESPIRiT map sets [sets, C, H, W]. */
  maps: CArray;
  /** The RSS reference [H, W]. */
  reference: Float32Array;
  /** The masks [H, W] by acceleration and seed. */
  masks: Map<string, Float32Array>;
  H: number;
  W: number;
}

/** A .cfl of the case as a row-major array with BART's singleton dims dropped. */
function readCase(path: string): CArray {
  if (!existsSync(`${path}.cfl`) || !existsSync(`${path}.hdr`)) throw fileError(`${path}.cfl`, 'missing (the real validation case of ../shared/data)');
  const { dims, array } = readCfl(path);
  return { data: array.data, shape: [...dims].reverse().filter((d) => d > 1) };
}

/** Loads the case from the folder holding `brain_alias_8ch_full*` (../shared/data/kspace). */
export function loadRealCase(dir: string): RealCase {
  const k = readCase(join(dir, REAL_CASE));
  let max = 0;
  for (let i = 0; i < k.data.length; i += 2) max = Math.max(max, Math.hypot(k.data[i]!, k.data[i + 1]!));
  const kspace = transposeComplex(k);
  for (let i = 0; i < kspace.data.length; i++) kspace.data[i] /= max;
  const maps = transposeComplex(readCase(join(dir, `${REAL_CASE}_espirit2_bart`)));
  const ref = transposeComplex(readCase(join(dir, `${REAL_CASE}_reference`)));
  const [, , H, W] = maps.shape as [number, number, number, number];
  const reference = new Float32Array(H * W);
  for (let i = 0; i < H * W; i++) reference[i] = ref.data[2 * i]!;
  const masks = new Map<string, Float32Array>();
  for (const R of REAL_ACCELERATIONS) {
    for (const s of REAL_SEEDS) {
      const m = transposeComplex(readCase(join(dir, 'brain_alias_8ch_masks', `mask_R${R}_s${s}`)));
      masks.set(`${R}/${s}`, Float32Array.from({ length: H * W }, (_, i) => m.data[2 * i]!));
    }
  }
  return { kspace, maps, reference, masks, H, W };
}

/** The first `sets` ESPIRiT map sets of the case, [C, H, W] for one set or [sets, C, H, W]. */
export function caseMaps(c: RealCase, sets: number): CArray {
  const [S, C, H, W] = c.maps.shape as [number, number, number, number];
  if (sets < 1 || sets > S) throw new Error(`the real case has ${S} map sets, asked for ${sets}`);
  const data = c.maps.data.subarray(0, 2 * sets * C * H * W);
  return { data, shape: sets === 1 ? [C, H, W] : [sets, C, H, W] };
}

/**
 * The case as validation pairs, one per (acceleration, seed), in that order.
 * The target carries the RSS reference as a real image, so the metrics of a
 * reconstruction's magnitude (RSS over its map images) are the protocol's.
 */
export function realCaseSource(c: RealCase, o: { accelerations?: readonly number[]; seeds?: readonly number[]; mapSets?: number } = {}): PairSource {
  const cases = (o.accelerations ?? REAL_ACCELERATIONS).flatMap((R) => (o.seeds ?? REAL_SEEDS).map((s) => ({ R, s })));
  const maps = caseMaps(c, o.mapSets ?? 1);
  const target = czeros([c.H, c.W]);
  c.reference.forEach((v, i) => { target.data[2 * i] = v; });
  return {
    length: cases.length,
    load: async (i): Promise<ReconSample> => {
      const { R, s } = cases[i]!;
      const mask = c.masks.get(`${R}/${s}`);
      if (!mask) throw new Error(`the real case has no mask for ${R}× seed ${s}`);
      return { kspace: c.kspace, maps, mask, target };
    },
    describe: () => ({ kind: 'real-case', case: REAL_CASE, cases, mapSets: o.mapSets ?? 1 }),
  };
}
