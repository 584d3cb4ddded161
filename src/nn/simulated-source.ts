/**
 * Training pairs simulated on the fly from real images, drawn to look like the
 * scans users bring: each pair index gives, deterministically from (seed, i),
 *
 *   an augmented slice of a real volume (any plane) at a random matrix of
 *   head-sized field of view → smooth random phase → coil maps (real ESPIRiT
 *   maps placed anew, or a birdcage array of random geometry, 4–16 coils) →
 *   noisy k-space (SNR drawn around what real scans have) → a 1D random or
 *   equispaced mask at 4–8× (centre 4–8 %) or a 2D Poisson-disc mask;
 *   with the recipe's `wrap`, a share of pairs has a field of view tighter
 *   than the head along the phase-encode axis, folded as a real scan folds and
 *   given as two ESPIRiT-like map sets (synth/simulate.ts)
 *
 * and, for 1D masks, the exact readout window (physics/readout-window.ts) of
 * `window` rows around the object, which is what makes full-K training
 * affordable on a CPU. Nothing is stored: the same index is the same pair.
 */
import { czeros, type CArray } from '../physics/complex.js';
import { espiritMaps } from '../physics/espirit.js';
import type { MaskKind } from '../physics/masks.js';
import { readoutWindow } from '../physics/readout-window.js';
import { drawPlacement, placeMaps } from '../synth/coil-bank.js';
import type { ImageGenerator } from '../images/generator.js';
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
  /** Share of pairs whose object is wider than the field of view along the phase-encode axis, and by how much (a fraction of the field of view). */
  wrap?: { share: number; extent: [number, number] };
  /**
   * Share of pairs given ESPIRiT's two map sets, estimated from the 24×24 centre of their
   * own noisy k-space (`bart ecalib -m2 -r 24`, as the real validation case's maps are),
   * instead of the coil sensitivities they were simulated with; the target is then the
   * noise-free coil images combined by those maps, as such a scan's reference is.
   */
  espirit?: { share: number };
  /** Range of the share ρ of the noise mixed across coils (synth/simulate.ts; absent: white noise). */
  noiseCorrelation?: [number, number];
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

/** A window start whose centre row is drawn in proportion to the target's energy in that row (all map images). */
function windowStart(target: CArray, rows: number, rng: Rng): number {
  const [H, W] = target.shape.slice(-2) as [number, number];
  const energy = new Float64Array(H);
  for (let i = 0; i < target.data.length / 2; i++) energy[Math.floor(i / W) % H] += target.data[2 * i]! ** 2 + target.data[2 * i + 1]! ** 2;
  let total = 0;
  for (const e of energy) total += e;
  let u = rng.uniform(0, total), centre = Math.floor(H / 2);
  for (let y = 0; y < H; y++) if ((u -= energy[y]!) < 0) { centre = y; break; }
  return Math.min(H - rows, Math.max(0, centre - Math.floor(rows / 2)));
}

/** Columns holding the object: those whose peak exceeds 5 % of the image's (first and last). */
function objectColumns(m: Float32Array, H: number, W: number): [number, number] {
  let max = 0;
  for (const v of m) max = Math.max(max, v);
  const peak = new Float32Array(W);
  for (let i = 0; i < m.length; i++) peak[i % W] = Math.max(peak[i % W]!, m[i]!);
  let c0 = 0, c1 = W - 1;
  while (c0 < c1 && peak[c0]! <= 0.05 * max) c0++;
  while (c1 > c0 && peak[c1]! <= 0.05 * max) c1--;
  return [c0, c1];
}

/**
 * A protocol whose field of view cuts into the head: the object is `fold`
 * (a fraction) wider than the field of view along the phase-encode axis W.
 * Returns the object's columns (with a small margin, at most twice the field
 * of view) as the wider grid to fold, and the field of view's columns.
 */
export function tightFieldOfView(m: Float32Array, H: number, W: number, fold: number): { image: Float32Array; fov: number } {
  const [c0, c1] = objectColumns(m, H, W);
  const fov = Math.max(8, Math.round((c1 - c0 + 1) / (1 + fold)));
  const wide = Math.min(W, 2 * fov, c1 - c0 + 1 + 8);
  const start = Math.min(W - wide, Math.max(0, Math.round((c0 + c1 + 1 - wide) / 2)));
  const image = new Float32Array(H * wide);
  for (let y = 0; y < H; y++) image.set(m.subarray(y * W + start, y * W + start + wide), y * wide);
  return { image, fov: Math.min(fov, wide) };
}

/**
 * ESPIRiT's two map sets E from fully sampled k-space (its 24×24 centre), and
 * the target those maps give the noise-free coil images v_c = Σ_s S_{s,c} x_s
 * of the simulation: x_m = Σ_c conj(E_{m,c}) v_c (zero where ESPIRiT crops).
 */
export function espiritPair(kspace: CArray, maps: CArray, target: CArray): { maps: CArray; target: CArray } {
  const [C, H, W] = kspace.shape as [number, number, number];
  const n = H * W, sets = maps.shape.length === 4 ? maps.shape[0]! : 1;
  const coils = new Float32Array(2 * C * n);
  for (let s = 0; s < sets; s++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < n; p++) {
        const m = 2 * ((s * C + c) * n + p), x = 2 * (s * n + p), v = 2 * (c * n + p);
        coils[v] += maps.data[m]! * target.data[x]! - maps.data[m + 1]! * target.data[x + 1]!;
        coils[v + 1] += maps.data[m]! * target.data[x + 1]! + maps.data[m + 1]! * target.data[x]!;
      }
    }
  }
  const estimated = espiritMaps(kspace, { calib: 24, maps: 2 }).maps;
  const combined = czeros([2, H, W]);
  for (let s = 0; s < 2; s++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < n; p++) {
        const e = 2 * ((s * C + c) * n + p), v = 2 * (c * n + p), x = 2 * (s * n + p);
        combined.data[x] += estimated.data[e]! * coils[v]! + estimated.data[e + 1]! * coils[v + 1]!;
        combined.data[x + 1] += estimated.data[e]! * coils[v + 1]! - estimated.data[e + 1]! * coils[v]!;
      }
    }
  }
  return { maps: estimated, target: combined };
}

export function simulatedSource(o: SimulatedSourceOptions): PairSource {
  const r = o.recipe;
  return {
    length: o.length,
    async load(i: number): Promise<ReconSample> {
      const rng = new Rng(o.seed * 1_000_003 + i);
      const H = intIn(rng, r.rows), drawnW = intIn(rng, r.cols);
      // drawn only when the recipe has `wrap`, so that recipes without it keep their pairs
      const fold = r.wrap && rng.next() < r.wrap.share ? rng.uniform(...r.wrap.extent) : 0;
      const [drawn] = await o.images.sample(1, rng.int(2 ** 31), [H, drawnW]);
      const { image, fov: W } = fold > 0 ? tightFieldOfView(drawn!, H, drawnW, fold) : { image: drawn!, fov: drawnW };
      const wide = image.length / H;
      const kind = pick(rng, r.masks);
      const acceleration = rng.uniform(...r.acceleration);
      const centerFraction = rng.uniform(...r.centerFraction);
      const real = o.coilMaps.length > 0 && rng.next() < r.realCoilShare;
      const maps = real ? placeMaps(o.coilMaps[rng.int(o.coilMaps.length)]!, H, wide, drawPlacement(rng)) : undefined;
      const pair = simulatePair({ data: image, shape: [H, wide] }, rng.int(2 ** 31), {
        fovColumns: W,
        coils: intIn(rng, r.birdcageCoils),
        snrDb: rng.uniform(...r.snrDb),
        mask: { kind, acceleration, centerFraction },
        maps,
        // drawn only when the recipe has it, so that recipes without it keep their pairs
        ...(r.noiseCorrelation ? { noiseCorrelation: rng.uniform(...r.noiseCorrelation) } : {}),
      });
      const estimated = r.espirit && rng.next() < r.espirit.share;
      const sample: ReconSample = estimated
        ? { kspace: pair.kspace, mask: pair.mask, ...espiritPair(pair.kspace, pair.maps, pair.target) }
        : { kspace: pair.kspace, maps: pair.maps, mask: pair.mask, target: pair.target };
      if (kind === 'poisson' || r.window <= 0 || r.window >= H) return sample;
      return readoutWindow(sample, windowStart(pair.target, r.window, rng), r.window);
    },
    describe: () => ({ kind: 'simulated-real-images', images: o.images.provenance, coilMapSets: o.coilMaps.length, recipe: r, seed: o.seed, pairs: o.length }),
  };
}
