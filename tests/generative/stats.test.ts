/**
 * The quality report's statistics on inputs whose answers are known, and the
 * memorisation check end to end with stand-in generators that copy training
 * images (must be flagged) or draw new ones (must not be).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import type { GeneratorMeta } from '../../src/generative/checkpoint.js';
import type { TrainingSet } from '../../src/generative/data.js';
import type { GenerativeModel } from '../../src/generative/model.js';
import { writeQualityReport } from '../../src/generative/report.js';
import { histogram, histogramDistance, meanPowerSpectrum2d, median, nearestNeighbours, quantile, radialAverage, spectralExcess, spectrumDistanceDb } from '../../src/generative/stats.js';
import { readPng } from '../../src/io/png.js';
import { Rng } from '../../src/util/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-generative-stats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});

describe('histograms', () => {
  it('counts the fraction of pixels per bin, clamping values outside the range', () => {
    const h = histogram([Float32Array.from([0, 0.1, 0.3, 0.3]), Float32Array.from([0.99, 1.5, -2, 0.6])], 4);
    expect(Array.from(h)).toEqual([3 / 8, 2 / 8, 1 / 8, 2 / 8]);
  });

  it('earth mover distance: moving all mass by k bins costs k bin widths', () => {
    const a = new Float64Array(10), b = new Float64Array(10);
    a[2] = 1;
    b[7] = 1;
    expect(histogramDistance(a, b)).toBeCloseTo(0.5, 12);
    expect(histogramDistance(a, a)).toBe(0);
  });
});

describe('radially averaged power spectrum', () => {
  const S = 32;
  it('puts all power of a constant image at DC: c²·N', () => {
    const p = radialAverage(meanPowerSpectrum2d([new Float32Array(S * S).fill(0.5)], S), S);
    expect(p[0]).toBeCloseTo(0.25 * S * S, 3);
    for (let r = 1; r < p.length; r++) expect(p[r]).toBeLessThan(1e-8);
  });

  it('puts a cosine of f cycles per field of view on ring f (Parseval: total power N/2)', () => {
    const f = 5;
    const img = Float32Array.from({ length: S * S }, (_, i) => Math.cos((2 * Math.PI * f * (i % S)) / S));
    const p = radialAverage(meanPowerSpectrum2d([img], S), S);
    const peak = p.indexOf(Math.max(...p));
    expect(peak).toBe(f);
    // ring f holds the two coefficients (±f, 0), each of power N/4, averaged over the ring's pixels
    let ringPixels = 0;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) if (Math.round(Math.hypot(y - S / 2, x - S / 2)) === f) ringPixels++;
    expect(p[f]! * ringPixels).toBeCloseTo((S * S) / 2, 2);
    expect(spectrumDistanceDb(p, p)).toBe(0);
    expect(Array.from(radialAverage(meanPowerSpectrum2d([img, img], S), S))).toEqual(Array.from(p));
  });
});

describe('spectral excess of artefacts', () => {
  const S = 64;
  /** Discs of random centre, radius and intensity on a dark background, with a little noise. */
  const discs = (count: number, seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: count }, () => {
      const [cy, cx, r, a] = [rng.uniform(20, 44), rng.uniform(20, 44), rng.uniform(8, 18), rng.uniform(0.5, 1)];
      return Float32Array.from({ length: S * S }, (_, i) => (Math.hypot(Math.floor(i / S) - cy, (i % S) - cx) < r ? a : 0) + 0.01 * rng.normal());
    });
  };
  const reference = discs(64, 1);
  const spectrum = (images: Float32Array[]) => meanPowerSpectrum2d(images, S);

  it('is about 1 for new images of the same kind', () => {
    expect(spectralExcess(spectrum(discs(64, 2)), spectrum(reference), S).ratio).toBeLessThan(2.5); // 1.8: single frequencies of 64 images scatter
  });

  it('finds a faint dot grid and stripes whose phase drifts from image to image', () => {
    const grid = discs(64, 2).map((img) => img.map((v, i) => v + (i % 4 === 0 ? 0.02 : 0)));
    const g = spectralExcess(spectrum(grid), spectrum(reference), S);
    expect(g.ratio).toBeGreaterThan(10);
    expect(Math.abs(g.frequency[0])).toBe(0);
    expect([0.25, 0.5]).toContain(Math.abs(g.frequency[1]));
    const rng = new Rng(3);
    const stripes = discs(64, 2).map((img) => {
      const [period, phase] = [rng.uniform(3.8, 4.3), rng.uniform(0, 2 * Math.PI)];
      return img.map((v, i) => v + 0.03 * Math.cos((2 * Math.PI * Math.floor(i / S)) / period + phase));
    });
    const s = spectralExcess(spectrum(stripes), spectrum(reference), S);
    expect(s.ratio).toBeGreaterThan(10);
    expect(Math.abs(s.frequency[1])).toBeLessThanOrEqual(2 / S);
    expect(Math.abs(Math.abs(s.frequency[0]) - 0.25)).toBeLessThan(0.03);
  });
});

describe('nearest neighbours', () => {
  it('finds the closest reference by RMS difference and honours exclusions', () => {
    const ref = Float32Array.from([0, 0, 0, 0, /**/ 1, 1, 1, 1, /**/ 0, 2, 0, 2]);
    const queries = Float32Array.from([0.9, 1, 1, 1.1, /**/ 0, 0, 0, 0]);
    const nn = nearestNeighbours(queries, ref, 4);
    expect(Array.from(nn.index)).toEqual([1, 0]);
    expect(nn.distance[0]).toBeCloseTo(Math.sqrt(0.02 / 4), 5);
    expect(nn.distance[1]).toBeCloseTo(0, 3);
    // leave-one-out within the reference set itself
    const loo = nearestNeighbours(ref, ref, 4, Int32Array.from([0, 1, 2]));
    expect(Array.from(loo.index)).toEqual([1, 0, 1]);
    expect(loo.distance[0]).toBeCloseTo(1, 5);
    expect(loo.distance[2]).toBeCloseTo(1, 5); // (0,2,0,2) − (1,1,1,1): RMS 1, closer than the zeros (RMS √2)
  });

  it('median and quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(quantile([0, 10], 25)).toBe(2.5);
  });
});

describe('memorisation check in the quality report', () => {
  const S = 16, n = S * S;
  /** Random blobs: every image different. */
  const blobs = (count: number, seed: number) => {
    const rng = new Rng(seed);
    const data = new Float32Array(count * n);
    for (let k = 0; k < count; k++) {
      const [cy, cx, r] = [rng.uniform(4, 12), rng.uniform(4, 12), rng.uniform(2, 6)];
      for (let i = 0; i < n; i++) data[k * n + i] = Math.hypot(Math.floor(i / S) - cy, (i % S) - cx) < r ? rng.uniform(0.6, 1) : 0.05 * rng.next();
    }
    return data;
  };
  const set = (data: Float32Array, seed: number): TrainingSet => ({
    spec: { size: S, phantom: data.length / n, labelled: 0, real: 0, images: [], minContent: 0, dropInferior: 0, seed },
    data, count: data.length / n, origin: [], volumes: [],
  });
  /** A stand-in generator that returns the given images in order. */
  const replay = (images: Float32Array): GenerativeModel => {
    let next = 0;
    return {
      kind: 'vae', latent: 2, size: S, config: {} as GenerativeModel['config'], params: {} as GenerativeModel['params'],
      generate: (z) => {
        const b = z.shape[0];
        const out = tf.tensor4d(images.slice(next * n, (next + b) * n), [b, S, S, 1]);
        next += b;
        return out;
      },
      trainStep: () => ({}), noisePerStep: () => 0, optimizerState: () => ({ steps: {}, tensors: {} }), setOptimizerState: () => {},
      parameterCounts: () => ({}), flopsPerImage: () => ({}), dispose: () => {},
    };
  };
  const meta = { kind: 'vae', created: 'test', config: {}, parameters: {} } as unknown as GeneratorMeta;
  const train = set(blobs(120, 1), 1), heldOut = set(blobs(40, 2), 2);

  it('flags a generator that copies training images and passes one that draws new images', async () => {
    const copies = new Float32Array(train.data.subarray(0, 40 * n));
    const memorised = await writeQualityReport({ model: replay(copies), meta, checkpoint: 'x', trainingSet: train, heldOut, samples: 40, seed: 1, outDir: join(tmp, 'copy') });
    expect(memorised.nearestNeighbour.generatedToTrain.median).toBeLessThan(1e-3);
    expect(memorised.nearestNeighbour.ratio).toBeLessThan(0.01);
    expect(readFileSync(join(tmp, 'copy', 'report.md'), 'utf8')).toMatch(/possible memorisation/);

    const fresh = await writeQualityReport({ model: replay(blobs(40, 3)), meta, checkpoint: 'x', trainingSet: train, heldOut, samples: 40, seed: 1, outDir: join(tmp, 'new') });
    expect(fresh.nearestNeighbour.ratio).toBeGreaterThan(0.7);
    expect(fresh.nearestNeighbour.ratio).toBeLessThan(1.4);
    expect(readFileSync(join(tmp, 'new', 'report.md'), 'utf8')).toMatch(/no sign of memorisation/);
    // same distribution: histograms and spectra as close as the held-out baseline's order of magnitude
    expect(fresh.histogram.generatedVsTrain).toBeLessThan(0.05);
    expect(fresh.spectrum.excess.generated.ratio).toBeGreaterThan(0);
    expect(readFileSync(join(tmp, 'new', 'report.md'), 'utf8')).toMatch(/grids and stripes/);
    for (const png of ['samples.png', 'samples-vs-real.png', 'histogram.png', 'spectrum.png', 'nn-distance.png', 'nearest.png']) {
      expect(readPng(join(tmp, 'new', png)).rows).toBeGreaterThan(0);
    }
  });
});
