import { describe, expect, it } from 'vitest';
import { czeros, type CArray } from '../../src/physics/complex.js';
import { birdcageMaps } from '../../src/physics/coils.js';
import { ifft2c } from '../../src/physics/fft.js';
import { SenseOp } from '../../src/physics/sense.js';
import { brainAnatomy, renderContrast } from '../../src/images/phantom.js';
import { normalizePercentile } from '../../src/images/fields.js';
import { foldPhaseEncode, objectMean, simulatePair, type SimulationOptions } from '../../src/synth/simulate.js';
import { CONTRASTS } from '../../src/images/tissue.js';

const H = 96, W = 80;
const image = renderContrast(brainAnatomy(H, W, 3), CONTRASTS.t1, 3);
normalizePercentile(image);
const magnitude = { data: image, shape: [H, W] };
const base: SimulationOptions = { coils: 6, snrDb: Infinity, mask: { kind: 'random', acceleration: 4 } };

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / den);
}

/** Σ|S_c|² per pixel. */
function sumSq(maps: CArray): Float32Array {
  const [C, h, w] = maps.shape as [number, number, number];
  const n = h * w;
  const out = new Float32Array(n);
  for (let c = 0; c < C; c++) for (let i = 0; i < n; i++) out[i] += maps.data[2 * (c * n + i)]! ** 2 + maps.data[2 * (c * n + i) + 1]! ** 2;
  return out;
}

describe('simulatePair', () => {
  it('without noise, the masked stored k-space equals A·target (SENSE forward with the stored maps and mask)', () => {
    for (const kind of ['random', 'equispaced', 'poisson'] as const) {
      const pair = simulatePair(magnitude, 42, { ...base, mask: { kind, acceleration: 4 } });
      expect(pair.kspace.shape).toEqual([6, H, W]);
      expect(pair.maps.shape).toEqual([6, H, W]);
      expect(pair.target.shape).toEqual([H, W]);
      const predicted = czeros([6, H, W]);
      new SenseOp(pair.maps, pair.mask).forward(pair.target.data, [predicted.data]);
      const masked = Float32Array.from(pair.kspace.data, (v, i) => v * pair.mask[(i >> 1) % (H * W)]!);
      expect(relErr(predicted.data, masked)).toBeLessThan(1e-5);
      expect(pair.meta.noiseSigma).toBe(0);
      // the mask samples about 1/R of k-space, and the metadata says how much exactly
      expect(pair.meta.samplingFraction).toBeCloseTo(pair.mask.reduce((s, m) => s + m, 0) / (H * W), 10);
      expect(Math.abs(pair.meta.samplingFraction - 0.25)).toBeLessThan(0.07);
    }
  });

  it('keeps the magnitude, adds a smooth non-trivial phase, and uses normalised maps', () => {
    const pair = simulatePair(magnitude, 5, base);
    let worst = 0, phaseVar = 0, jump2 = 0, count = 0;
    const t = pair.target.data;
    for (let i = 0; i < H * W; i++) worst = Math.max(worst, Math.abs(Math.hypot(t[2 * i]!, t[2 * i + 1]!) - image[i]!));
    expect(worst).toBeLessThan(1e-5);
    // phase: varies across the object, but smoothly between neighbours
    const phase = (i: number) => Math.atan2(t[2 * i + 1]!, t[2 * i]!);
    const inside: number[] = [];
    for (let i = 0; i < H * W - 1; i++) {
      if (image[i]! > 0.3 && image[i + 1]! > 0.3) {
        const d = Math.abs(Math.atan2(Math.sin(phase(i + 1) - phase(i)), Math.cos(phase(i + 1) - phase(i))));
        jump2 += d * d;
        inside.push(phase(i));
        count++;
      }
    }
    const mean = Math.atan2(inside.reduce((s, p) => s + Math.sin(p), 0), inside.reduce((s, p) => s + Math.cos(p), 0));
    for (const p of inside) phaseVar += Math.atan2(Math.sin(p - mean), Math.cos(p - mean)) ** 2;
    expect(Math.sqrt(phaseVar / count)).toBeGreaterThan(0.2);
    // RMS phase step between neighbours: ~0.1 rad for a field of ~2 cycles per FOV (white noise: ~1.4)
    expect(Math.sqrt(jump2 / count)).toBeLessThan(0.2);
    for (const s of sumSq(pair.maps)) expect(Math.abs(s - 1)).toBeLessThan(1e-4);
  });

  it('is reproducible from its seed; other seeds give other phase, coils and mask', () => {
    const a = simulatePair(magnitude, 9, { ...base, snrDb: 25 });
    const b = simulatePair(magnitude, 9, { ...base, snrDb: 25 });
    expect(b.kspace.data).toEqual(a.kspace.data);
    expect(b.maps.data).toEqual(a.maps.data);
    expect(b.mask).toEqual(a.mask);
    expect(b.meta).toEqual(a.meta);
    const c = simulatePair(magnitude, 10, { ...base, snrDb: 25 });
    expect(c.target.data).not.toEqual(a.target.data);
    expect(c.maps.data).not.toEqual(a.maps.data);
    expect(c.mask).not.toEqual(a.mask);
  });

  it('adds complex Gaussian noise whose level matches the SNR definition, in k-space and in the image', () => {
    const snrDb = 20;
    const clean = simulatePair(magnitude, 77, { ...base, snrDb: Infinity });
    const noisy = simulatePair(magnitude, 77, { ...base, snrDb });
    // changing the SNR changes only the noise
    expect(noisy.target.data).toEqual(clean.target.data);
    expect(noisy.maps.data).toEqual(clean.maps.data);
    expect(noisy.mask).toEqual(clean.mask);
    const sigma = objectMean(image) / 10 ** (snrDb / 20);
    expect(noisy.meta.noiseSigma).toBeCloseTo(sigma, 10);
    expect(noisy.meta.signalLevel).toBeCloseTo(objectMean(image), 10);

    const noise = czeros(clean.kspace.shape);
    for (let i = 0; i < noise.data.length; i++) noise.data[i] = noisy.kspace.data[i]! - clean.kspace.data[i]!;
    const N = noise.data.length / 2; // complex samples: 6·96·80 = 46080
    let power = 0, re2 = 0, im2 = 0, reim = 0;
    for (let i = 0; i < N; i++) {
      const r = noise.data[2 * i]!, m = noise.data[2 * i + 1]!;
      power += r * r + m * m; re2 += r * r; im2 += m * m; reim += r * m;
    }
    // E|n|² = σ², split evenly between real and imaginary parts, uncorrelated (std of the estimates ≈ 0.5 %)
    expect(Math.abs(power / N / sigma ** 2 - 1)).toBeLessThan(0.03);
    expect(Math.abs(re2 / im2 - 1)).toBeLessThan(0.06);
    expect(Math.abs(reim / N) / sigma ** 2).toBeLessThan(0.03);

    // unitary FFT: the coil images and the SENSE-combined image carry the same σ per pixel
    const coilNoise = ifft2c(noise);
    let coilPower = 0;
    for (const v of coilNoise.data) coilPower += v * v;
    expect(Math.abs(coilPower / N / sigma ** 2 - 1)).toBeLessThan(0.03);
    const combined = new Float32Array(2 * H * W);
    new SenseOp(clean.maps, null).adjoint([noise.data], combined);
    let combinedPower = 0;
    for (const v of combined) combinedPower += v * v;
    expect(Math.abs(combinedPower / (H * W) / sigma ** 2 - 1)).toBeLessThan(0.06);
    // hence the SNR of the fully sampled SENSE image is the requested one
    expect(20 * Math.log10(noisy.meta.signalLevel / Math.sqrt(combinedPower / (H * W)))).toBeCloseTo(snrDb, 0);
  });

  it('mixes a share ρ of the noise across coils: mean variance σ², correlated coils, white when ρ = 0', () => {
    const snrDb = 20, C = base.coils;
    const clean = simulatePair(magnitude, 78, { ...base, snrDb: Infinity });
    const covariance = (rho: number) => {
      const noisy = simulatePair(magnitude, 78, { ...base, snrDb, noiseCorrelation: rho });
      const n = H * W, re = Array.from({ length: C }, () => new Float64Array(C)), im = Array.from({ length: C }, () => new Float64Array(C));
      const d = (c: number, p: number, part: number) => noisy.kspace.data[2 * (c * n + p) + part]! - clean.kspace.data[2 * (c * n + p) + part]!;
      for (let p = 0; p < n; p++) {
        for (let a = 0; a < C; a++) {
          for (let b = 0; b < C; b++) {
            re[a]![b] += (d(a, p, 0) * d(b, p, 0) + d(a, p, 1) * d(b, p, 1)) / n;
            im[a]![b] += (d(a, p, 1) * d(b, p, 0) - d(a, p, 0) * d(b, p, 1)) / n;
          }
        }
      }
      const sigma2 = noisy.meta.noiseSigma ** 2;
      const diag = Array.from({ length: C }, (_, a) => re[a]![a]! / sigma2);
      let maxCorr = 0;
      for (let a = 0; a < C; a++) for (let b = 0; b < a; b++) maxCorr = Math.max(maxCorr, Math.hypot(re[a]![b]!, im[a]![b]!) / Math.sqrt(re[a]![a]! * re[b]![b]!));
      return { meanDiag: diag.reduce((x, v) => x + v, 0) / C, spread: Math.max(...diag) / Math.min(...diag), maxCorr };
    };
    // 7680 samples per coil: correlation estimates scatter by about 1/√7680 ≈ 0.011
    const white = covariance(0);
    expect(Math.abs(white.meanDiag - 1)).toBeLessThan(0.03);
    expect(white.maxCorr).toBeLessThan(0.05);
    const mixed = covariance(0.5);
    expect(Math.abs(mixed.meanDiag - 1)).toBeLessThan(0.03);
    expect(mixed.maxCorr).toBeGreaterThan(0.15);
    expect(mixed.spread).toBeGreaterThan(1.1);
    expect(() => simulatePair(magnitude, 78, { ...base, snrDb, noiseCorrelation: 1.5 })).toThrow(/noiseCorrelation/);
  });

  it('uses given coil maps (e.g. ESPIRiT), flipped and phase-rotated but still normalised', () => {
    const given = birdcageMaps(4, H, W, { rotation: 0.4 });
    const pair = simulatePair(magnitude, 3, { ...base, maps: given });
    expect(pair.meta.coils).toBe(4);
    expect(pair.meta.coilSource).toBe('given');
    for (const s of sumSq(pair.maps)) expect(Math.abs(s - 1)).toBeLessThan(1e-4);
    // the same set of |maps| values, possibly mirrored
    const mag = (m: CArray, c: number, y: number, x: number) => Math.hypot(m.data[2 * ((c * H + y) * W + x)]!, m.data[2 * ((c * H + y) * W + x) + 1]!);
    const { flipX, flipY } = pair.meta.coilGeometry as { flipX: boolean; flipY: boolean };
    for (const [y, x] of [[10, 7], [50, 40], [90, 3]] as const) {
      expect(mag(pair.maps, 2, y, x)).toBeCloseTo(mag(given, 2, flipY ? H - 1 - y : y, flipX ? W - 1 - x : x), 5);
    }
    expect(() => simulatePair(magnitude, 3, { ...base, maps: birdcageMaps(4, 32, 32) })).toThrow(/32×32/);
  });
});

describe('a field of view tighter than the object (two map sets)', () => {
  const wide = 70, fov = 56, C = 6, h = 24;
  const object = czeros([h, wide]);
  const r = Array.from({ length: 2 * h * wide }, (_, i) => Math.sin(0.37 * i) + Math.cos(0.11 * i * i));
  object.data.set(r);
  const maps = birdcageMaps(C, h, wide, { rotation: 0.3 });
  const { target, maps: folded } = foldPhaseEncode(object, maps, fov);
  const n = h * fov;

  it('represents the folded coil images exactly: Σ_s S_s x_s = Σ_{j ≡ x} S(j)·object(j) over the wider grid', () => {
    expect(target.shape).toEqual([2, h, fov]);
    expect(folded.shape).toEqual([2, C, h, fov]);
    const offset = Math.floor((wide - fov) / 2);
    const model = czeros([C, h, fov]), direct = czeros([C, h, fov]);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < fov; x++) {
          const o = 2 * (c * n + y * fov + x);
          for (let s = 0; s < 2; s++) {
            const m = 2 * ((s * C + c) * n + y * fov + x), t = 2 * (s * n + y * fov + x);
            model.data[o] += folded.data[m]! * target.data[t]! - folded.data[m + 1]! * target.data[t + 1]!;
            model.data[o + 1] += folded.data[m]! * target.data[t + 1]! + folded.data[m + 1]! * target.data[t]!;
          }
          for (let j = 0; j < wide; j++) {
            if (((j - offset - x) % fov + fov) % fov !== 0) continue;
            const m = 2 * (c * h * wide + y * wide + j), t = 2 * (y * wide + j);
            direct.data[o] += maps.data[m]! * object.data[t]! - maps.data[m + 1]! * object.data[t + 1]!;
            direct.data[o + 1] += maps.data[m]! * object.data[t + 1]! + maps.data[m + 1]! * object.data[t]!;
          }
        }
      }
    }
    expect(relErr(model.data, direct.data)).toBeLessThan(1e-5);
  });

  it('gives orthonormal map sets where the object folds, and no second map elsewhere', () => {
    const offset = Math.floor((wide - fov) / 2);
    for (let y = 0; y < h; y += 5) {
      for (let x = 0; x < fov; x++) {
        const i = y * fov + x;
        let n1 = 0, n2 = 0, dRe = 0, dIm = 0;
        for (let c = 0; c < C; c++) {
          const a = 2 * (c * n + i), b = 2 * ((C + c) * n + i);
          n1 += folded.data[a]! ** 2 + folded.data[a + 1]! ** 2;
          n2 += folded.data[b]! ** 2 + folded.data[b + 1]! ** 2;
          dRe += folded.data[a]! * folded.data[b]! + folded.data[a + 1]! * folded.data[b + 1]!;
          dIm += folded.data[a]! * folded.data[b + 1]! - folded.data[a + 1]! * folded.data[b]!;
        }
        const foldsIn = x + offset + fov < wide || x + offset - fov >= 0;
        expect(n1).toBeCloseTo(1, 4);
        expect(n2).toBeCloseTo(foldsIn ? 1 : 0, 4);
        expect(Math.hypot(dRe, dIm)).toBeLessThan(1e-5);
      }
    }
  });

  it('simulatePair with fovColumns: two map sets, k-space of the folded object', () => {
    // an object filling the wider grid (the phantom keeps a margin larger than any fold)
    const F = 64;
    const wideImage = new Float32Array(H * 100).map((_, i) => 1 + 0.5 * Math.sin(i / 7));
    const pair = simulatePair({ data: wideImage, shape: [H, 100] }, 7, { ...base, fovColumns: F });
    expect(pair.maps.shape).toEqual([2, 6, H, F]);
    expect(pair.target.shape).toEqual([2, H, F]);
    expect(pair.kspace.shape).toEqual([6, H, F]);
    const predicted = czeros([6, H, F]);
    new SenseOp(pair.maps, null).forward(pair.target.data, [predicted.data]);
    expect(relErr(predicted.data, pair.kspace.data)).toBeLessThan(1e-5);
    // the object is wider than the field of view: its edges fold in (map set 2 carries signal)
    let folded2 = 0;
    for (let i = 0; i < H * F; i++) folded2 += pair.target.data[2 * (H * F + i)]! ** 2 + pair.target.data[2 * (H * F + i) + 1]! ** 2;
    expect(folded2).toBeGreaterThan(0);
    expect(() => simulatePair({ data: wideImage, shape: [H, 100] }, 7, { ...base, fovColumns: 40 })).toThrow(/fovColumns/);
  });
});
