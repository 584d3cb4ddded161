/**
 * Training pairs simulated on the fly from real images, drawn to look like the
 * scans users bring: each pair index gives, deterministically from (seed, i),
 *
 *   an augmented slice of a real volume (any plane) at a random matrix of
 *   head-sized field of view → smooth random phase → coil maps (real ESPIRiT
 *   maps placed anew, or a birdcage array of random geometry, 4–16 coils) →
 *   noisy k-space (SNR drawn around what real scans have) → a 1D random or
 *   equispaced mask at 4–8× (centre 4–8 %) or a 2D Poisson-disc mask
 *
 * and, for 1D masks, the exact readout window (physics/readout-window.ts) of
 * `window` rows around the object, which is what makes full-K training
 * affordable on a CPU. Nothing is stored: the same index is the same pair.
 */
import type { CArray } from '../physics/complex.js';
import type { MaskKind } from '../physics/masks.js';
import { readoutWindow } from '../physics/readout-window.js';
import { drawPlacement, placeMaps } from '../synth/coil-bank.js';
import type { ImageGenerator } from '../synth/generator.js';
import { simulatePair } from '../synth/simulate.js';
import { Rng } from '../util/random.js';
import type { ReconSample } from './batch.js';
import type { PairSource } from './train.js';

export interface ScanRecipe {
  /** Readout rows H and phase-encode columns W of the simulated matrix (inclusive ranges). */
  rows: [number, number];
  cols: [number, number];
  /** Readout rows of the training window for 1D masks (0: the whole slice). */
  window: number;
  /** Acceleration (uniform) and the 1D masks' fully sampled centre fraction (uniform). */
  acceleration: [number, number];
  centerFraction: [number, number];
  /** Relative frequency of each mask kind. */
  masks: Partial<Record<MaskKind, number>>;
  snrDb: [number, number];
  /** Share of pairs that use real coil maps (the rest: birdcage arrays of `birdcageCoils` coils). */
  realCoilShare: number;
  birdcageCoils: [number, number];
}

/** The recipe the shipped checkpoint trains with (see checkpoints/modl/modl.json). */
export const SHIPPED_RECIPE: ScanRecipe = {
  rows: [160, 320],
  cols: [160, 320],
  window: 112,
  acceleration: [4, 8],
  centerFraction: [0.04, 0.08],
  masks: { random: 0.6, equispaced: 0.3, poisson: 0.1 },
  // real scans here: 24.6 dB (brain_alias_8ch_full) and 26.7 dB (brain_8coil_poisson8x), from their outer k-space
  snrDb: [22, 36],
  realCoilShare: 0.5,
  birdcageCoils: [4, 16],
};

export interface SimulatedSourceOptions {
  /** Where the magnitude images come from (an `images` generator over real volumes, or a learned one). */
  images: ImageGenerator;
  /** Real coil map sets [C, h, w] (Σ|S|² = 1) to place into the simulated field of view. */
  coilMaps: CArray[];
  recipe: ScanRecipe;
  seed: number;
  /** Number of distinct pairs (indices 0..length−1). */
  length: number;
}

function pick<K extends string>(rng: Rng, weights: Partial<Record<K, number>>): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let u = rng.uniform(0, total);
  for (const [k, w] of entries) if ((u -= w) < 0) return k;
  return entries[entries.length - 1]![0];
}

const intIn = (rng: Rng, [lo, hi]: [number, number]) => lo + rng.int(hi - lo + 1);

/** A window start whose centre row is drawn in proportion to the target's energy in that row. */
function windowStart(target: CArray, rows: number, rng: Rng): number {
  const [H, W] = target.shape as [number, number];
  const energy = new Float64Array(H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) energy[y] += target.data[2 * (y * W + x)]! ** 2 + target.data[2 * (y * W + x) + 1]! ** 2;
  let total = 0;
  for (const e of energy) total += e;
  let u = rng.uniform(0, total), centre = Math.floor(H / 2);
  for (let y = 0; y < H; y++) if ((u -= energy[y]!) < 0) { centre = y; break; }
  return Math.min(H - rows, Math.max(0, centre - Math.floor(rows / 2)));
}

export function simulatedSource(o: SimulatedSourceOptions): PairSource {
  const r = o.recipe;
  return {
    length: o.length,
    async load(i: number): Promise<ReconSample> {
      const rng = new Rng(o.seed * 1_000_003 + i);
      const H = intIn(rng, r.rows), W = intIn(rng, r.cols);
      const [magnitude] = await o.images.sample(1, rng.int(2 ** 31), [H, W]);
      const kind = pick(rng, r.masks);
      const acceleration = rng.uniform(...r.acceleration);
      const centerFraction = rng.uniform(...r.centerFraction);
      const real = o.coilMaps.length > 0 && rng.next() < r.realCoilShare;
      const maps = real ? placeMaps(o.coilMaps[rng.int(o.coilMaps.length)]!, H, W, drawPlacement(rng)) : undefined;
      const pair = simulatePair({ data: magnitude!, shape: [H, W] }, rng.int(2 ** 31), {
        coils: intIn(rng, r.birdcageCoils),
        snrDb: rng.uniform(...r.snrDb),
        mask: { kind, acceleration, centerFraction },
        maps,
      });
      const sample: ReconSample = { kspace: pair.kspace, maps: pair.maps, mask: pair.mask, target: pair.target };
      if (kind === 'poisson' || r.window <= 0 || r.window >= H) return sample;
      return readoutWindow(sample, windowStart(pair.target, r.window, rng), r.window);
    },
    describe: () => ({ kind: 'simulated-real-images', images: o.images.provenance, coilMapSets: o.coilMaps.length, recipe: r, seed: o.seed, pairs: o.length }),
  };
}
