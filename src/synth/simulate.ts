/**
 * From a magnitude image to a multi-coil training pair, seeded and pure:
 *
 *   magnitude m → target x = m·e^{iφ} (smooth random phase φ)
 *     → coil images S_c x (birdcage maps with random geometry, or given maps)
 *     → fully sampled k-space y = F S x + n (centred unitary FFT, complex
 *       Gaussian noise n at the requested SNR)
 *     → sampling mask M (1D random/equispaced, or 2D Poisson disc)
 *
 * SNR definition. SNR_dB = 20·log10(s / σ), where s is the mean of |x| over
 * the object (pixels with |x| above 10 % of the 99.5th percentile of |x|) and
 * σ² = E|n|² is the variance of the complex noise of one k-space sample
 * (σ²/2 on each of the real and imaginary parts). The FFT is unitary and the
 * maps satisfy Σ_c |S_c|² = 1, so σ is also the noise standard deviation of
 * each coil image pixel and of the coil-combined image Σ_c S_c* F⁻¹ y_c: the
 * SNR is the image-domain SNR of the fully sampled SENSE reconstruction.
 *
 * Each random part has its own stream forked from the seed in a fixed order,
 * so changing the SNR changes only the noise, never the phase, coils or mask.
 */
import { CArray, czeros } from '../physics/complex.js';
import { birdcageMaps } from '../physics/coils.js';
import { makeMask, type MaskKind } from '../physics/masks.js';
import { SenseOp } from '../physics/sense.js';
import type { RealArray } from '../io/volume.js';
import { Rng } from '../util/random.js';
import { percentile, smoothRandomField } from './fields.js';

export interface SimulationOptions {
  /** Coil count (ignored when `maps` are given). */
  coils: number;
  /** SNR in dB as defined above; Infinity for no noise. */
  snrDb: number;
  mask: { kind: MaskKind; acceleration: number; centerFraction?: number; calib?: number };
  /** Coil maps [C, H, W] to use instead of simulated ones (e.g. ESPIRiT maps of a real scan, Σ|S|² = 1). */
  maps?: CArray;
  /** RMS (radians) of the smooth random part of the phase (default 1). */
  phaseRms?: number;
}

export interface PairMeta {
  seed: number;
  coils: number;
  snrDb: number;
  /** σ: standard deviation of the complex noise per k-space sample (see the SNR definition). */
  noiseSigma: number;
  /** s: mean |target| over the object. */
  signalLevel: number;
  mask: MaskKind;
  acceleration: number;
  /** The fraction of k-space the mask really samples (1/fraction is the true acceleration). */
  samplingFraction: number;
  maskSeed: number;
  coilSource: 'birdcage' | 'given';
  /** Birdcage geometry, or the flips applied to given maps. */
  coilGeometry: Record<string, number | boolean>;
}

export interface TrainingPair {
  /** Complex ground truth [H, W]. */
  target: CArray;
  /** Fully sampled, noisy multi-coil k-space [C, H, W] (centred). */
  kspace: CArray;
  /** Coil sensitivities [C, H, W], Σ_c |S_c|² = 1. */
  maps: CArray;
  /** Sampling mask [H, W], 1 where sampled (columns = phase encodes for 1D masks). */
  mask: Float32Array;
  meta: PairMeta;
}

export function simulatePair(magnitude: RealArray, seed: number, o: SimulationOptions): TrainingPair {
  if (magnitude.shape.length !== 2) throw new Error(`simulatePair: magnitude must be [H, W], got [${magnitude.shape}]`);
  const [H, W] = magnitude.shape as [number, number];
  const rng = new Rng(seed);
  const phaseRng = rng.fork(1);
  const coilRng = rng.fork(2);
  const noiseRng = rng.fork(3);
  const maskSeed = rng.int(2 ** 32);

  const target = withSmoothPhase(magnitude.data, H, W, phaseRng, o.phaseRms ?? 1);
  const { maps, geometry } = o.maps ? transformGivenMaps(o.maps, H, W, coilRng) : randomBirdcage(o.coils, H, W, coilRng);
  const C = maps.shape[0]!;
  const kspace = czeros([C, H, W]);
  new SenseOp(maps, null).forward(target.data, kspace.data);

  const signalLevel = objectMean(magnitude.data);
  const noiseSigma = Number.isFinite(o.snrDb) ? signalLevel / 10 ** (o.snrDb / 20) : 0;
  if (noiseSigma > 0) {
    const s = noiseSigma / Math.SQRT2;
    const k = kspace.data;
    for (let i = 0; i < k.length; i++) k[i] += s * noiseRng.normal();
  }

  const m = makeMask(o.mask.kind, H, W, {
    acceleration: o.mask.acceleration, seed: maskSeed, centerFraction: o.mask.centerFraction, calib: o.mask.calib,
  });
  return {
    target, kspace, maps, mask: m.mask,
    meta: {
      seed, coils: C, snrDb: o.snrDb, noiseSigma, signalLevel,
      mask: o.mask.kind, acceleration: o.mask.acceleration, samplingFraction: m.fraction, maskSeed,
      coilSource: o.maps ? 'given' : 'birdcage', coilGeometry: geometry,
    },
  };
}

/**
 * m·e^{iφ} with φ = φ0 + linear ramp + a smooth random field: a global phase,
 * a shift of the k-space centre by up to a quarter sample, and slowly varying
 * phase like that of B0 inhomogeneity.
 */
function withSmoothPhase(m: Float32Array, H: number, W: number, rng: Rng, rms: number): CArray {
  const phi0 = rng.uniform(0, 2 * Math.PI);
  const gy = rng.uniform(-Math.PI / 2, Math.PI / 2), gx = rng.uniform(-Math.PI / 2, Math.PI / 2);
  const field = smoothRandomField(H, W, rng, 2);
  const x = czeros([H, W]);
  for (let y = 0; y < H; y++) {
    for (let c = 0; c < W; c++) {
      const i = y * W + c;
      const phi = phi0 + (gy * (y - H / 2)) / H + (gx * (c - W / 2)) / W + rms * field[i]!;
      x.data[2 * i] = m[i]! * Math.cos(phi);
      x.data[2 * i + 1] = m[i]! * Math.sin(phi);
    }
  }
  return x;
}

function randomBirdcage(coils: number, H: number, W: number, rng: Rng): { maps: CArray; geometry: Record<string, number> } {
  if (!(Number.isInteger(coils) && coils >= 1)) throw new Error(`coil count must be a positive integer, got ${coils}`);
  const geometry = { radius: rng.uniform(1.2, 2), rotation: rng.uniform(0, 2 * Math.PI), ellipticity: rng.uniform(-0.15, 0.15) };
  return { maps: birdcageMaps(coils, H, W, geometry), geometry };
}

/** Given maps [C, H, W] with random flips and a random global phase (the same coil array seen differently). */
function transformGivenMaps(given: CArray, H: number, W: number, rng: Rng): { maps: CArray; geometry: Record<string, number | boolean> } {
  const [C, h, w] = given.shape as [number, number, number];
  if (h !== H || w !== W) throw new Error(`given coil maps are ${h}×${w}, the image is ${H}×${W}`);
  const flipX = rng.next() < 0.5, flipY = rng.next() < 0.5;
  const phase = rng.uniform(0, 2 * Math.PI);
  const cr = Math.cos(phase), ci = Math.sin(phase);
  const maps = czeros([C, H, W]);
  const n = H * W;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const sy = flipY ? H - 1 - y : y;
      for (let x = 0; x < W; x++) {
        const from = 2 * (c * n + sy * W + (flipX ? W - 1 - x : x));
        const to = 2 * (c * n + y * W + x);
        const re = given.data[from]!, im = given.data[from + 1]!;
        maps.data[to] = re * cr - im * ci;
        maps.data[to + 1] = re * ci + im * cr;
      }
    }
  }
  return { maps, geometry: { flipX, flipY, phase } };
}

/** Mean of |m| over the object: pixels above 10 % of the 99.5th percentile (the SNR's signal level s). */
export function objectMean(m: Float32Array): number {
  const abs = Float32Array.from(m, Math.abs);
  const threshold = 0.1 * percentile(abs, 99.5);
  let sum = 0, count = 0;
  for (let i = 0; i < abs.length; i++) {
    if (abs[i]! > threshold) {
      sum += abs[i]!;
      count++;
    }
  }
  return count > 0 ? sum / count : 0;
}
