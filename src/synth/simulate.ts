/**
 * From a magnitude image to a multi-coil training pair, seeded and pure:
 *
 *   magnitude m → target x = m·e^{iφ} (smooth random phase φ)
 *     → coil images S_c x (birdcage maps with random geometry, or given maps)
 *     → fully sampled k-space y = F S x + n (centred unitary FFT, complex
 *       Gaussian noise n at the requested SNR)
 *     → sampling mask M (1D random/equispaced, or 2D Poisson disc)
 *
 * A field of view tighter than the head (`fovColumns` < the image's width W′):
 * the object and its coil images live on the wider grid, and sampling the
 * phase-encode axis at 1/FOV folds the columns beyond the field of view onto
 * its opposite edge. Where two positions overlap, the coil vector is
 * v = a·x_a + b·x_b (own and folded-in position), which one map set cannot
 * represent; soft-SENSE with two map sets can, as ESPIRiT (`ecalib -m2`)
 * gives them: per pixel an orthonormal basis of span{a, b}, e₁ = a and
 * e₂ = (b − ⟨a,b⟩a)/‖·‖, with map images x₁ = ⟨e₁,v⟩ and x₂ = ⟨e₂,v⟩.
 * The pair then has maps [2, C, H, W] and target [2, H, W], and the RSS of
 * its map images is ‖v‖, as the reference of such a real scan is.
 *
 * SNR definition. SNR_dB = 20·log10(s / σ), where s is the mean of |x| over
 * the object (pixels with |x| above 10 % of the 99.5th percentile of |x|) and
 * σ² = E|n|² is the variance of the complex noise of one k-space sample
 * (σ²/2 on each of the real and imaginary parts). The FFT is unitary and the
 * maps satisfy Σ_c |S_c|² = 1, so σ is also the noise standard deviation of
 * each coil image pixel and of the coil-combined image Σ_c S_c* F⁻¹ y_c: the
 * SNR is the image-domain SNR of the fully sampled SENSE reconstruction.
 *
 * Receive chains couple: a real array's noise is correlated between coils
 * (|ρ| 0.1–0.35 between neighbours in ../shared/data's 8-channel brain, per-coil
 * σ from 0.7 to 1.2 of the mean). With `noiseCorrelation` ρ > 0 the noise is
 * n = √(1−ρ)·z + √ρ·B z′ (z, z′ white, B a random complex C×C mixing matrix
 * scaled to ‖B‖²_F = C), so Ψ = E[n nᴴ] = (1−ρ)I + ρ·BBᴴ: a random covariance
 * of mean diagonal σ², as the SNR definition needs.
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
import { percentile, smoothRandomField } from '../images/fields.js';

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
  /** Phase-encode columns of the field of view when narrower than the image (see above: two map sets). */
  fovColumns?: number;
  /** Share ρ in [0, 1] of the noise mixed across coils (see above; default 0: white, independent coils). */
  noiseCorrelation?: number;
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
  /** Complex ground truth [H, W]; [2, H, W] (the map images) with a folded field of view. */
  target: CArray;
  /** Fully sampled, noisy multi-coil k-space [C, H, W] (centred). */
  kspace: CArray;
  /** Coil sensitivities [C, H, W], Σ_c |S_c|² = 1; [2, C, H, W] with a folded field of view. */
  maps: CArray;
  /** Sampling mask [H, W], 1 where sampled (columns = phase encodes for 1D masks). */
  mask: Float32Array;
  meta: PairMeta;
}

export function simulatePair(magnitude: RealArray, seed: number, o: SimulationOptions): TrainingPair {
  if (magnitude.shape.length !== 2) throw new Error(`simulatePair: magnitude must be [H, W], got [${magnitude.shape}]`);
  const [H, wide] = magnitude.shape as [number, number];
  const W = o.fovColumns ?? wide;
  if (!(Number.isInteger(W) && W <= wide && 2 * W >= wide)) throw new Error(`fovColumns ${W} must be an integer in [${Math.ceil(wide / 2)}, ${wide}]`);
  const rng = new Rng(seed);
  const phaseRng = rng.fork(1);
  const coilRng = rng.fork(2);
  const noiseRng = rng.fork(3);
  const maskSeed = rng.int(2 ** 32);

  const object = withSmoothPhase(magnitude.data, H, wide, phaseRng, o.phaseRms ?? 1);
  const coils = o.maps ? transformGivenMaps(o.maps, H, wide, coilRng) : randomBirdcage(o.coils, H, wide, coilRng);
  const geometry = coils.geometry;
  const { target, maps } = W === wide ? { target: object, maps: coils.maps } : foldPhaseEncode(object, coils.maps, W);
  const C = coils.maps.shape[0]!;
  const kspace = czeros([C, H, W]);
  new SenseOp(maps, null).forward(target.data, [kspace.data]);

  const signalLevel = objectMean(magnitude.data);
  const noiseSigma = Number.isFinite(o.snrDb) ? signalLevel / 10 ** (o.snrDb / 20) : 0;
  if (noiseSigma > 0) addNoise(kspace, noiseSigma, o.noiseCorrelation ?? 0, noiseRng);

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

/** k-space [C, H, W] += complex Gaussian noise of mean variance σ² per sample, a share ρ of it mixed across coils. */
function addNoise(kspace: CArray, sigma: number, rho: number, rng: Rng): void {
  if (!(rho >= 0 && rho <= 1)) throw new Error(`noiseCorrelation must be in [0, 1], got ${rho}`);
  const k = kspace.data;
  const s = sigma / Math.SQRT2;
  const white = s * Math.sqrt(1 - rho); // = s at ρ = 0: the same numbers as before mixing existed
  for (let i = 0; i < k.length; i++) k[i] += white * rng.normal();
  if (rho === 0) return;
  const [C, H, W] = kspace.shape as [number, number, number];
  const n = H * W;
  const B = Float64Array.from({ length: 2 * C * C }, () => rng.normal());
  const scale = Math.sqrt(C / B.reduce((a, v) => a + v * v, 0)) * Math.sqrt(rho) * s;
  const z = new Float64Array(2 * C);
  for (let p = 0; p < n; p++) {
    for (let d = 0; d < 2 * C; d++) z[d] = rng.normal();
    for (let c = 0; c < C; c++) {
      let re = 0, im = 0;
      for (let d = 0; d < C; d++) {
        const br = B[2 * (c * C + d)]!, bi = B[2 * (c * C + d) + 1]!, zr = z[2 * d]!, zi = z[2 * d + 1]!;
        re += br * zr - bi * zi;
        im += br * zi + bi * zr;
      }
      k[2 * (c * n + p)] += scale * re;
      k[2 * (c * n + p) + 1] += scale * im;
    }
  }
}

/**
 * The two-map-set soft-SENSE pair of an object [H, W′] with maps [C, H, W′]
 * seen through a field of view of the central W columns (see the header).
 * Map set 2 is zero where nothing folds in.
 */
export function foldPhaseEncode(object: CArray, maps: CArray, W: number): { target: CArray; maps: CArray } {
  const [C, H, wide] = maps.shape as [number, number, number];
  const offset = Math.floor((wide - W) / 2);
  const target = czeros([2, H, W]);
  const folded = czeros([2, C, H, W]);
  const nWide = H * wide, n = H * W;
  const a = new Float64Array(2 * C), b = new Float64Array(2 * C);
  const load = (into: Float64Array, y: number, col: number) => {
    for (let c = 0; c < C; c++) {
      into[2 * c] = maps.data[2 * (c * nWide + y * wide + col)]!;
      into[2 * c + 1] = maps.data[2 * (c * nWide + y * wide + col) + 1]!;
    }
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const own = x + offset;
      // the column of the wider grid that lands on x as well, if any (wide ≤ 2W: at most one)
      const other = own + W < wide ? own + W : own - W >= 0 ? own - W : -1;
      const i = y * W + x;
      load(a, y, own);
      const xaRe = object.data[2 * (y * wide + own)]!, xaIm = object.data[2 * (y * wide + own) + 1]!;
      for (let c = 0; c < C; c++) {
        folded.data[2 * (c * n + i)] = a[2 * c]!;
        folded.data[2 * (c * n + i) + 1] = a[2 * c + 1]!;
      }
      if (other < 0) {
        target.data[2 * i] = xaRe;
        target.data[2 * i + 1] = xaIm;
        continue;
      }
      load(b, y, other);
      const xbRe = object.data[2 * (y * wide + other)]!, xbIm = object.data[2 * (y * wide + other) + 1]!;
      // g = ⟨a, b⟩ = Σ conj(a)·b;  r = b − g·a;  e₂ = r/‖r‖
      let gRe = 0, gIm = 0;
      for (let c = 0; c < C; c++) {
        gRe += a[2 * c]! * b[2 * c]! + a[2 * c + 1]! * b[2 * c + 1]!;
        gIm += a[2 * c]! * b[2 * c + 1]! - a[2 * c + 1]! * b[2 * c]!;
      }
      let rr = 0;
      for (let c = 0; c < C; c++) {
        b[2 * c] -= gRe * a[2 * c]! - gIm * a[2 * c + 1]!;
        b[2 * c + 1] -= gRe * a[2 * c + 1]! + gIm * a[2 * c]!;
        rr += b[2 * c]! ** 2 + b[2 * c + 1]! ** 2;
      }
      const r = Math.sqrt(rr);
      // v = a·x_a + b·x_b = e₁(x_a + g·x_b) + e₂(r·x_b)
      target.data[2 * i] = xaRe + gRe * xbRe - gIm * xbIm;
      target.data[2 * i + 1] = xaIm + gRe * xbIm + gIm * xbRe;
      if (r < 1e-6) continue; // b ∥ a: the folded signal is all in map set 1
      target.data[2 * (n + i)] = r * xbRe;
      target.data[2 * (n + i) + 1] = r * xbIm;
      for (let c = 0; c < C; c++) {
        folded.data[2 * ((C + c) * n + i)] = b[2 * c]! / r;
        folded.data[2 * ((C + c) * n + i) + 1] = b[2 * c + 1]! / r;
      }
    }
  }
  return { target, maps: folded };
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
