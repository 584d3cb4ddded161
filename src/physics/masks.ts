/**
 * Cartesian sampling masks, seeded and reproducible. Every mask is a full
 * [H, W] float array (1 = sampled) plus the sampling fraction it really achieves.
 *
 * 1D masks follow fastMRI's RandomMaskFunc / EquispacedMaskFunc: whole lines
 * across the phase-encode axis, which is W (fastMRI's last axis: whole columns)
 * unless MaskOptions.phaseEncode says H (BART's dim 1: whole rows), with a fully
 * sampled centre of round(N·centerFraction) lines of the N phase encodes. The
 * 2D mask is a variable-density Poisson-disc pattern with a fully sampled
 * calibration block, like `bart poisson`.
 */
import { Rng } from '../util/random.js';

export const MASK_KINDS = ['random', 'equispaced', 'poisson'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

export interface SamplingMask {
  kind: MaskKind;
  H: number;
  W: number;
  /** [H, W], 1 where sampled. */
  mask: Float32Array;
  /** The nominal acceleration asked for. */
  acceleration: number;
  /** The fraction of k-space actually sampled (1/fraction is the true acceleration). */
  fraction: number;
  seed: number;
}

export interface MaskOptions {
  acceleration: number;
  seed: number;
  /** 1D masks: fraction of columns fully sampled at the centre (fastMRI: 0.08 at 4x, 0.04 at 8x). */
  centerFraction?: number;
  /** Poisson mask: side of the fully sampled square calibration region. */
  calib?: number;
  /** 1D masks: the phase-encoded image axis, across which whole lines are sampled (default 'W'). */
  phaseEncode?: PhaseEncodeAxis;
}

export type PhaseEncodeAxis = 'H' | 'W';

function fromColumns(kind: MaskKind, H: number, W: number, cols: Uint8Array, o: MaskOptions): SamplingMask {
  const mask = new Float32Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) mask[y * W + x] = cols[x]!;
  return { kind, H, W, mask, acceleration: o.acceleration, fraction: fractionOf(mask), seed: o.seed };
}

export function fractionOf(mask: Float32Array): number {
  let s = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]! > 0) s++;
  return s / mask.length;
}

/** The fastMRI centre block: num_low_freqs columns starting at (W − num_low_freqs + 1) // 2. */
function centerColumns(W: number, centerFraction: number): { start: number; count: number } {
  const count = Math.round(W * centerFraction);
  return { start: Math.floor((W - count + 1) / 2), count };
}

/** fastMRI RandomMaskFunc: centre columns plus each other column with probability chosen to meet the acceleration. */
export function randomMask1d(H: number, W: number, o: MaskOptions): SamplingMask {
  const { start, count } = centerColumns(W, o.centerFraction ?? defaultCenterFraction(o.acceleration));
  const prob = (W / o.acceleration - count) / (W - count);
  const rng = new Rng(o.seed);
  const cols = new Uint8Array(W);
  for (let x = 0; x < W; x++) cols[x] = rng.next() < prob ? 1 : 0;
  cols.fill(1, start, start + count);
  return fromColumns('random', H, W, cols, o);
}

/** fastMRI EquispacedMaskFunc: centre columns plus equally spaced ones, the spacing adjusted for the centre. */
export function equispacedMask1d(H: number, W: number, o: MaskOptions): SamplingMask {
  const { start, count } = centerColumns(W, o.centerFraction ?? defaultCenterFraction(o.acceleration));
  const R = o.acceleration;
  const adjusted = (R * (count - W)) / (count * R - W);
  const rng = new Rng(o.seed);
  const offset = rng.int(Math.max(1, Math.round(adjusted)));
  const cols = new Uint8Array(W);
  for (let p = offset; p < W - 1; p += adjusted) cols[Math.round(p)] = 1;
  cols.fill(1, start, start + count);
  return fromColumns('equispaced', H, W, cols, o);
}

/** fastMRI's usual pairing: 8 % centre at 4×, 4 % at 8× (0.32/R in general). */
export function defaultCenterFraction(acceleration: number): number {
  return Math.min(1, 0.32 / acceleration);
}

/**
 * Variable-density Poisson-disc mask: points visited in random order are kept
 * when no kept point lies within r(k) = r0·(1 + 2ρ) of them (ρ: elliptical
 * radius, 0 at the centre, 1 at the edges), giving blue-noise sampling that
 * thins out towards high frequencies. r0 is found by bisection so the
 * pattern, with its calibration block, samples 1/acceleration of k-space.
 */
export function poissonDiscMask2d(H: number, W: number, o: MaskOptions): SamplingMask {
  const calib = Math.min(o.calib ?? 24, H, W);
  const target = 1 / o.acceleration;
  const order = new Rng(o.seed).permutation(H * W);
  const make = (r0: number) => poissonWithRadius(H, W, calib, order, r0);
  let lo = 0.25, hi = 1;
  let best = make(hi);
  while (fractionOf(best) > target && hi < Math.max(H, W)) best = make((hi *= 2));
  for (let it = 0; it < 24; it++) {
    const r0 = 0.5 * (lo + hi);
    const m = make(r0);
    const f = fractionOf(m);
    if (Math.abs(f - target) < Math.abs(fractionOf(best) - target)) best = m;
    if (f > target) lo = r0;
    else hi = r0;
  }
  return { kind: 'poisson', H, W, mask: best, acceleration: o.acceleration, fraction: fractionOf(best), seed: o.seed };
}

function poissonWithRadius(H: number, W: number, calib: number, order: Int32Array, r0: number): Float32Array {
  const mask = new Float32Array(H * W);
  const cy = H / 2, cx = W / 2;
  const radius = (y: number, x: number) => r0 * (1 + 2 * Math.hypot((y - cy) / cy, (x - cx) / cx) / Math.SQRT2);
  const rMax = radius(0, 0);
  const reach = Math.ceil(rMax);
  for (const idx of order) {
    const y = Math.floor(idx / W), x = idx % W;
    const r = radius(y, x);
    const r2 = r * r;
    const ry = Math.min(reach, Math.ceil(r));
    let free = true;
    for (let dy = -ry; dy <= ry && free; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= H) continue;
      for (let dx = -ry; dx <= ry; dx++) {
        const xx = x + dx;
        if (xx < 0 || xx >= W || dx * dx + dy * dy >= r2) continue;
        if (mask[yy * W + xx]) { free = false; break; }
      }
    }
    if (free) mask[idx] = 1;
  }
  const y0 = Math.floor((H - calib + 1) / 2), x0 = Math.floor((W - calib + 1) / 2);
  for (let y = y0; y < y0 + calib; y++) mask.fill(1, y * W + x0, y * W + x0 + calib);
  return mask;
}

/** One entry point for the CLI and the simulation. */
export function makeMask(kind: MaskKind, H: number, W: number, o: MaskOptions): SamplingMask {
  if (o.phaseEncode === 'H' && kind !== 'poisson') {
    // the same mask drawn over the H phase encodes, then as rows of the [H, W] plane
    const m = makeMask(kind, W, H, { ...o, phaseEncode: 'W' });
    const mask = new Float32Array(H * W);
    for (let y = 0; y < H; y++) mask.fill(m.mask[y]!, y * W, (y + 1) * W);
    return { ...m, H, W, mask };
  }
  switch (kind) {
    case 'random': return randomMask1d(H, W, o);
    case 'equispaced': return equispacedMask1d(H, W, o);
    case 'poisson': return poissonDiscMask2d(H, W, o);
    default: throw new Error(`unknown mask kind '${String(kind)}' (one of ${MASK_KINDS.join(', ')})`);
  }
}
