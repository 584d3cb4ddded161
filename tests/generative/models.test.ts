/**
 * The VAE and the GAN on tiny configurations: shapes and ranges, parameter
 * counts, training reduces the loss, save/load round trips, exact resume.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { loadGenerator, saveGenerator } from '../../src/generative/checkpoint.js';
import type { TrainingSet } from '../../src/generative/data.js';
import { DEFAULT_GAN, Gan, type GanConfig } from '../../src/generative/gan.js';
import { normPool, upsampleNearest } from '../../src/generative/layers.js';
import { decoderFlops } from '../../src/generative/nets.js';
import { generateImages, gridLatents, stepNoise, trainGenerator } from '../../src/generative/train.js';
import { resolveCheckpoint } from '../../src/util/fs.js';
import { DEFAULT_VAE, Vae, type VaeConfig } from '../../src/generative/vae.js';
import { Rng } from '../../src/util/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-generative-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});

const S = 16;
const net = { size: S, latent: 8, baseChannels: 4, maxChannels: 16, startRes: 4, upsample: 'subpixel' as const };
const vaeConfig: VaeConfig = { ...DEFAULT_VAE, ...net };
const ganConfig: GanConfig = { ...DEFAULT_GAN, ...net, criticChannels: 4, criticWarmupSteps: 0 };

/** Bright discs of random centre and radius on a dark background. */
function discs(count: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const data = new Float32Array(count * S * S);
  for (let k = 0; k < count; k++) {
    const [cy, cx, r] = [rng.uniform(5, 11), rng.uniform(5, 11), rng.uniform(2, 5)];
    for (let i = 0; i < S * S; i++) data[k * S * S + i] = Math.hypot(Math.floor(i / S) - cy, (i % S) - cx) < r ? 0.9 : 0.05;
  }
  return data;
}

function pool(count: number, seed: number): TrainingSet {
  return {
    spec: { size: S, phantom: count, labelled: 0, real: 0, images: [], minContent: 0.15, dropInferior: 0, seed },
    data: discs(count, seed), count, origin: Array(count).fill('discs'), volumes: [],
  };
}

const sample = (m: Vae | Gan, seed: number) => generateImages(m, gridLatents(seed, 3, m.latent)).map((a) => Array.from(a));

describe('network shapes and sizes', () => {
  it('VAE: encoder gives μ and log σ² [B, L], decoder images [B, S, S, 1] in [0, 1]', () => {
    const vae = new Vae(vaeConfig, 1);
    const x = tf.tensor4d(discs(3, 1), [3, S, S, 1]);
    const { mu, logVar } = vae.encode(x, false);
    expect(mu.shape).toEqual([3, 8]);
    expect(logVar.shape).toEqual([3, 8]);
    const y = vae.generate(tf.randomNormal([5, 8]) as tf.Tensor2D);
    expect(y.shape).toEqual([5, S, S, 1]);
    const v = y.dataSync();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    // decoder: dense 8 → 4·4·16, up 4→8 (16 → 4·8 ch, 2×2), up 8→16 (8 → 4·4 ch, 2×2), 3×3 conv 4 → 1, BN γ/β per level
    const decoder = (8 * 256 + 256) + 2 * 16 + (4 * 16 * 32 + 32) + 2 * 8 + (4 * 8 * 16 + 16) + 2 * 4 + (9 * 4 + 1);
    expect(vae.parameterCounts().decoder).toBe(decoder);
    expect(decoderFlops(vaeConfig)).toBe(2 * 8 * 256 + 2 * 16 * 4 * 16 * 32 + 2 * 64 * 4 * 8 * 16 + 2 * 256 * 9 * 4);
    vae.dispose();
    tf.dispose([x, mu, logVar, y]);
  });

  it('GAN: generator images [B, S, S, 1], critic one score per image', () => {
    const gan = new Gan(ganConfig, 1);
    const y = gan.generate(tf.randomNormal([2, 8]) as tf.Tensor2D);
    expect(y.shape).toEqual([2, S, S, 1]);
    expect(gan.score(y).shape).toEqual([2]);
    expect(gan.parameterCounts().generator).toBeGreaterThan(0);
    expect(gan.parameterCounts().critic).toBeGreaterThan(0);
    gan.dispose();
    // the pooling critic: 3×3 convs 4 → 8 (at 16²) and 8 → 16 (at 8²), then average pooling
    const pooled = new Gan({ ...ganConfig, criticDownsample: 'avgpool' }, 1);
    const x = tf.tensor4d(discs(3, 2), [3, S, S, 1]);
    expect(pooled.score(x).shape).toEqual([3]);
    expect(pooled.parameterCounts().critic).toBe((9 * 4 + 4) + (9 * 4 * 8 + 8) + (9 * 8 * 16 + 16) + (16 * 16 + 1));
    expect(pooled.flopsPerImage().critic).toBe(2 * 256 * 9 * 4 + 2 * 256 * 9 * 4 * 8 + 2 * 64 * 9 * 8 * 16 + 2 * 256);
    pooled.dispose();
    x.dispose();
  });
});

describe('critic pooling', () => {
  it('normPool keeps the norm of signals constant on 2×2 blocks and never increases a norm', () => {
    const blocks = tf.tidy(() => upsampleNearest(tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D));
    const norm = (t: tf.Tensor) => tf.tidy(() => tf.norm(t).dataSync()[0]!);
    expect(norm(normPool(blocks))).toBeCloseTo(norm(blocks), 4);
    for (let seed = 2; seed < 6; seed++) {
      const x = tf.randomNormal([2, 8, 6, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
      expect(norm(normPool(x))).toBeLessThanOrEqual(norm(x) * (1 + 1e-6));
      x.dispose();
    }
    blocks.dispose();
  });
});

describe('decoder upsampling', () => {
  // A constant 4×4 feature map (zero dense kernel, constant bias) decoded to 16×16.
  function decodeConstant(upsample: 'subpixel' | 'nearest'): number[][] {
    const vae = new Vae({ ...vaeConfig, upsample }, 3);
    // untie the ICNR start of the sub-pixel kernels, as training does
    for (const [name, v] of vae.params.variables) if (/^decoder\/up\d\/kernel$/.test(name)) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 9));
    vae.params.variables.get('decoder/fc/kernel')!.assign(tf.zerosLike(vae.params.variables.get('decoder/fc/kernel')!));
    vae.params.variables.get('decoder/fc/bias')!.assign(tf.tile(tf.randomNormal([16], 0, 1, 'float32', 10), [4 * 4])); // [4, 4, 16], the same at every pixel
    const image = tf.tidy(() => tf.reshape(vae.generate(tf.zeros([1, 8])), [S, S]).arraySync() as number[][]);
    vae.dispose();
    return image;
  }
  const interiorRange = (img: number[][]) => {
    const v = img.slice(4, S - 4).flatMap((row) => row.slice(4, S - 4));
    return Math.max(...v) - Math.min(...v);
  };

  it("'nearest' maps a constant feature map to a constant image away from the borders; 'subpixel' to a periodic pattern", () => {
    const nearest = decodeConstant('nearest');
    expect(interiorRange(nearest)).toBeLessThan(1e-6);
    expect(nearest[S / 2]![S / 2]).toBeGreaterThan(0.01); // not a saturated sigmoid
    expect(nearest[S / 2]![S / 2]).toBeLessThan(0.99);
    expect(interiorRange(decodeConstant('subpixel'))).toBeGreaterThan(1e-3);
  });

  it("'nearest': 3×3 convs without bias, 2.25× the sub-pixel FLOPs per level", () => {
    const config: VaeConfig = { ...vaeConfig, upsample: 'nearest' };
    const vae = new Vae(config, 1);
    const decoder = (8 * 256 + 256) + 2 * 16 + 9 * 16 * 8 + 2 * 8 + 9 * 8 * 4 + 2 * 4 + (9 * 4 + 1);
    expect(vae.parameterCounts().decoder).toBe(decoder);
    expect(decoderFlops(config)).toBe(2 * 8 * 256 + 2 * 64 * 9 * 16 * 8 + 2 * 256 * 9 * 8 * 4 + 2 * 256 * 9 * 4);
    vae.dispose();
  });
});

describe('training', () => {
  it('VAE: steps on a fixed batch reduce the loss', () => {
    const vae = new Vae({ ...vaeConfig, learningRate: 3e-3 }, 2);
    const x = tf.tensor4d(discs(8, 3), [8, S, S, 1]);
    const losses: number[] = [];
    for (let t = 0; t < 40; t++) losses.push(vae.trainStep(x, stepNoise(1, t, vae.noisePerStep(8))).loss);
    expect(losses[39]).toBeLessThan(0.5 * losses[0]!);
    vae.dispose();
    x.dispose();
  });

  it('GAN: the critic learns to score real images above generated ones', () => {
    const gan = new Gan({ ...ganConfig, learningRateCritic: 2e-3 }, 3);
    const x = tf.tensor4d(discs(8, 4), [8, S, S, 1]);
    const first = gan.trainStep(x, stepNoise(1, 0, gan.noisePerStep(8)));
    let last = first;
    for (let t = 1; t < 15; t++) last = gan.trainStep(x, stepNoise(1, t, gan.noisePerStep(8)));
    expect(first.lossD).toBeGreaterThan(1.5); // an untrained critic: both hinge terms near 1
    expect(last.lossD).toBeLessThan(first.lossD);
    expect(last.realScore).toBeGreaterThan(last.fakeScore);
    gan.dispose();
    x.dispose();
  });
});

describe('VAE sampling distribution', () => {
  it('is fitted to the aggregate posterior: mean of μ, covariance of μ plus mean σ²', () => {
    const vae = new Vae(vaeConfig, 8);
    const x = tf.tensor4d(discs(3, 1), [3, S, S, 1]);
    vae.trainStep(x, stepNoise(1, 0, vae.noisePerStep(3)));
    const data = discs(20, 11);
    vae.fitToTrainingSet(data, 20);
    const { mu, logVar } = vae.encode(tf.tensor4d(data, [20, S, S, 1]), false);
    const m = mu.arraySync(), v = logVar.arraySync();
    const mean = Array.from({ length: 8 }, (_, i) => m.reduce((s, r) => s + r[i]!, 0) / 20);
    const fittedMean = vae.params.variables.get('sampling/mean')!.dataSync();
    mean.forEach((x, i) => expect(fittedMean[i]).toBeCloseTo(x, 4));
    const L = vae.params.variables.get('sampling/scale_tril')!.arraySync() as number[][];
    for (const [i, j] of [[0, 0], [3, 1], [7, 7]] as const) {
      const cov = m.reduce((s, r) => s + (r[i]! - mean[i]!) * (r[j]! - mean[j]!), 0) / 20 + (i === j ? v.reduce((s, r) => s + Math.exp(r[i]!), 0) / 20 : 0);
      const llt = L[i]!.reduce((s, _, k) => s + L[i]![k]! * L[j]![k]!, 0);
      expect(llt).toBeCloseTo(cov, 3);
    }
    // samples decode z = m + L·ε: ε = 0 gives the decoded mean
    const atMean = vae.generate(tf.zeros([1, 8]) as tf.Tensor2D).dataSync();
    const direct = tf.tidy(() => (vae as unknown as { decoder: { apply(z: tf.Tensor2D, t: boolean): tf.Tensor4D } }).decoder.apply(tf.tensor2d([mean]), false).dataSync());
    expect(Array.from(atMean).map((a, i) => Math.abs(a - direct[i]!)).every((d) => d < 1e-5)).toBe(true);
    vae.dispose();
  });
});

describe('GAN critic warm-up', () => {
  it('leaves the generator weights untouched for the first steps, then trains them', () => {
    const gan = new Gan({ ...ganConfig, criticWarmupSteps: 2 }, 4);
    const x = tf.tensor4d(discs(4, 4), [4, S, S, 1]);
    const weights = () => gan.params.trainable('generator/').map((v) => Array.from(v.dataSync()));
    const critic = () => gan.params.trainable('critic/').map((v) => Array.from(v.dataSync()));
    const [g0, d0] = [weights(), critic()];
    const s1 = gan.trainStep(x, stepNoise(1, 0, gan.noisePerStep(4)));
    gan.trainStep(x, stepNoise(1, 1, gan.noisePerStep(4)));
    expect(s1.lossG).toBeUndefined();
    expect(weights()).toEqual(g0);
    expect(critic()).not.toEqual(d0);
    expect(gan.trainStep(x, stepNoise(1, 2, gan.noisePerStep(4))).lossG).toBeDefined();
    expect(weights()).not.toEqual(g0);
    gan.dispose();
    x.dispose();
  });
});

describe('GAN R1 penalty', () => {
  const config: GanConfig = { ...ganConfig, criticNorm: 'none', criticDownsample: 'avgpool', r1Gamma: 1, r1Interval: 2 };

  it('is the mean ‖∇ₓD(x)‖², and its gradient in the critic weights matches finite differences', () => {
    const gan = new Gan(config, 15);
    const x = tf.tensor4d(discs(3, 8), [3, S, S, 1]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(gan.score(t as tf.Tensor4D)))(x);
    const direct = tf.sum(tf.square(g)).dataSync()[0]! / 3;
    expect(gan.r1Penalty(x).dataSync()[0]).toBeCloseTo(direct, 5);
    // The penalty jumps where a pre-activation changes sign (the leaky ReLU's slope does), so a
    // difference quotient is only compared where the forward and backward quotients agree.
    let compared = 0;
    for (const name of ['critic/in/kernel', 'critic/down1/kernel', 'critic/down2/kernel', 'critic/fc/kernel']) {
      const kernel = gan.params.variables.get(name)!;
      const analytic = tf.variableGrads(() => gan.r1Penalty(x), [kernel]).grads[kernel.name]!.dataSync();
      const w0 = kernel.dataSync().slice();
      const at = (i: number, dv: number) => {
        const w = w0.slice();
        w[i]! += dv;
        kernel.assign(tf.tensor(w, kernel.shape));
        return gan.r1Penalty(x).dataSync()[0]!;
      };
      const eps = 1e-3;
      for (let k = 0; k < 8; k++) {
        const i = Math.floor((k * (w0.length - 1)) / 7);
        const [minus, mid, plus] = [at(i, -eps), at(i, 0), at(i, eps)];
        const forward = (plus - mid) / eps, backward = (mid - minus) / eps;
        if (Math.abs(forward - backward) > 1e-3 + 0.02 * Math.abs(forward)) continue;
        expect(Math.abs((plus - minus) / (2 * eps) - analytic[i]!)).toBeLessThan(1e-3 + 1e-2 * Math.abs(analytic[i]!));
        compared++;
      }
      kernel.assign(tf.tensor(w0, kernel.shape));
    }
    expect(compared).toBeGreaterThanOrEqual(16); // of 32
    gan.dispose();
    x.dispose();
  });

  it('is evaluated every r1Interval critic steps', () => {
    const gan = new Gan(config, 16);
    const x = tf.tensor4d(discs(4, 9), [4, S, S, 1]);
    const r1 = [0, 1, 2, 3].map((t) => gan.trainStep(x, stepNoise(7, t, gan.noisePerStep(4))).r1);
    expect(r1.map((v) => v !== undefined)).toEqual([true, false, true, false]);
    expect(r1[0]).toBeGreaterThan(0);
    gan.dispose();
    x.dispose();
  });
});

describe('GAN instance noise', () => {
  it('the critic scores real images plus σ·noise, σ falling linearly from σ₀ to 0', () => {
    const config: GanConfig = { ...ganConfig, criticNorm: 'none', criticDownsample: 'avgpool', r1Gamma: 0.1, instanceNoise: 0.3, instanceNoiseSteps: 2 };
    const gan = new Gan(config, 19);
    const x = tf.tensor4d(discs(4, 13), [4, S, S, 1]);
    const n = 4 * S * S, L = 8;
    expect(gan.noisePerStep(4)).toBe(2 * 4 * L + 3 * n);
    for (const [t, sigma] of [[0, 0.3], [1, 0.15], [2, 0]] as const) {
      const noise = stepNoise(8, t, gan.noisePerStep(4));
      const seen = tf.add(x, tf.mul(tf.tensor(noise.subarray(2 * 4 * L, 2 * 4 * L + n), x.shape), sigma)) as tf.Tensor4D;
      const expected = tf.mean(gan.score(seen)).dataSync()[0]!; // the weights before this step
      expect(gan.trainStep(x, noise).realScore).toBeCloseTo(expected, 4);
      seen.dispose();
    }
    gan.dispose();
    x.dispose();
  });
});

describe('GAN weight average', () => {
  it('samples come from an exponential moving average of the generator, updated after each generator step', () => {
    const d = 0.9;
    const gan = new Gan({ ...ganConfig, emaDecay: d }, 14);
    const live = () => new Map([...gan.params.variables].filter(([n]) => n.startsWith('generator/')).map(([n, v]) => [n.slice('generator/'.length), Array.from(v.dataSync())]));
    const averaged = () => new Map([...gan.params.variables].filter(([n]) => n.startsWith('generator_ema/')).map(([n, v]) => [n.slice('generator_ema/'.length), Array.from(v.dataSync())]));
    expect(averaged()).toEqual(live()); // starts at the generator
    expect(gan.samplingWeights).toEqual(['generator_ema/']);
    expect(gan.params.trainable('generator_ema/')).toHaveLength(0); // not optimised
    const x = tf.tensor4d(discs(4, 7), [4, S, S, 1]);
    let expected = averaged();
    for (let t = 0; t < 2; t++) {
      gan.trainStep(x, stepNoise(5, t, gan.noisePerStep(4)));
      const w = live(); // running batch-norm statistics included
      expected = new Map([...expected].map(([n, a]) => [n, a.map((v, i) => d * v + (1 - d) * w.get(n)![i]!)]));
    }
    const got = averaged();
    expect(got.size).toBeGreaterThan(0);
    for (const [n, a] of expected) expect(Math.max(...a.map((v, i) => Math.abs(v - got.get(n)![i]!)))).toBeLessThan(1e-6);
    expect(got).not.toEqual(live());
    // generate() decodes with the average: the live generator gives other images
    const z = tf.tensor2d(gridLatents(2, 2, 8), [2, 8]);
    const liveImages = tf.tidy(() => (gan as unknown as { generator: { apply(z: tf.Tensor2D, t: boolean): tf.Tensor4D } }).generator.apply(z, false).dataSync());
    const sampled = tf.tidy(() => gan.generate(z).dataSync());
    expect(Math.max(...sampled.map((v, i) => Math.abs(v - liveImages[i]!)))).toBeGreaterThan(1e-4);
    const plain = new Gan({ ...ganConfig, emaDecay: 0 }, 14);
    expect(plain.samplingWeights).toEqual(['generator/']);
    expect([...plain.params.variables.keys()].some((n) => n.startsWith('generator_ema/'))).toBe(false);
    [gan, plain].forEach((m) => m.dispose());
    tf.dispose([x, z]);
  });
});

describe('GAN generator started from a VAE decoder', () => {
  it('generates what the VAE samples for the same ε (its sampling distribution folded in)', () => {
    const vae = new Vae(vaeConfig, 12);
    vae.trainStep(tf.tensor4d(discs(4, 2), [4, S, S, 1]), stepNoise(3, 0, vae.noisePerStep(4)));
    vae.fitToTrainingSet(discs(16, 5), 16);
    const gan = new Gan(ganConfig, 13);
    gan.initGeneratorFromVae(vae);
    const eps = gridLatents(9, 4, 8);
    const a = generateImages(vae, eps), b = generateImages(gan, eps);
    a.forEach((img, k) => expect(Math.max(...img.map((v, i) => Math.abs(v - b[k]![i]!)))).toBeLessThan(1e-5));
    const other = new Vae({ ...vaeConfig, latent: 6 }, 1);
    expect(() => gan.initGeneratorFromVae(other)).toThrow(/latent \(6 vs 8\)/);
    const resizeConv = new Vae({ ...vaeConfig, upsample: 'nearest' }, 1);
    expect(() => gan.initGeneratorFromVae(resizeConv)).toThrow(/upsample/);
    [vae, gan, other, resizeConv].forEach((m) => m.dispose());
  });

  it('with the reconstruction anchor: G(ε(x)) is the VAE decoding of its posterior mean μ(x), and a step reports the L1', () => {
    const vae = new Vae(vaeConfig, 17);
    vae.trainStep(tf.tensor4d(discs(4, 2), [4, S, S, 1]), stepNoise(3, 0, vae.noisePerStep(4)));
    vae.fitToTrainingSet(discs(16, 5), 16);
    const gan = new Gan({ ...ganConfig, reconstructionWeight: 10 }, 18);
    gan.initGeneratorFromVae(vae);
    const x = tf.tensor4d(discs(4, 12), [4, S, S, 1]);
    const viaGan = tf.tidy(() => gan.generate(gan.codes(x)).dataSync());
    const viaVae = tf.tidy(() => (vae as unknown as { decoder: { apply(z: tf.Tensor2D, t: boolean): tf.Tensor4D } }).decoder.apply(vae.encode(x, false).mu, false).dataSync());
    expect(Math.max(...viaGan.map((v, i) => Math.abs(v - viaVae[i]!)))).toBeLessThan(1e-4);
    expect(gan.params.trainable('anchor/')).toHaveLength(0);
    expect(gan.samplingWeights.some((p) => p.startsWith('anchor'))).toBe(false);
    const losses = gan.trainStep(x, stepNoise(4, 0, gan.noisePerStep(4)));
    expect(losses.reconstruction).toBeGreaterThan(0);
    [vae, gan].forEach((m) => m.dispose());
    x.dispose();
  });
});

describe('checkpoints', () => {
  for (const [kind, make] of [['vae', () => new Vae(vaeConfig, 5)], ['gan', () => new Gan(ganConfig, 5)]] as const) {
    it(`${kind}: save and load give the same weights and the same samples`, async () => {
      const m = make();
      const x = tf.tensor4d(discs(4, 6), [4, S, S, 1]);
      m.trainStep(x, stepNoise(2, 0, m.noisePerStep(4))); // move batch-norm statistics and spectral vectors off their initial values
      const dir = join(tmp, `ckpt-${kind}`);
      await saveGenerator(dir, m, { training: { note: 'test' } });
      const { model, meta } = await loadGenerator(dir);
      expect(meta.kind).toBe(kind);
      expect(meta.parameters).toEqual(m.parameterCounts());
      for (const [name, v] of m.params.variables) expect(Array.from(model.params.variables.get(name)!.dataSync())).toEqual(Array.from(v.dataSync()));
      expect(sample(model as Vae | Gan, 7)).toEqual(sample(m, 7));
      model.dispose();
      m.dispose();
      x.dispose();
    });
  }

  it('a sampling-only checkpoint holds just the decoder/generator and samples the same', async () => {
    for (const m of [new Vae(vaeConfig, 6), new Gan(ganConfig, 6)]) {
      if (m instanceof Vae) m.fitToTrainingSet(discs(8, 3), 8);
      const dir = join(tmp, `sampling-${m.kind}`);
      await saveGenerator(dir, m, { samplingOnly: true });
      const { size } = statSync(join(dir, 'weights.bin'));
      const sampling = [...m.params.variables].filter(([n]) => m.samplingWeights.some((p) => n.startsWith(p))).reduce((s, [, v]) => s + 4 * v.size, 0);
      expect(size).toBe(sampling);
      const { model } = await loadGenerator(dir);
      expect(sample(model as Vae | Gan, 3)).toEqual(sample(m, 3));
      await expect(loadGenerator(dir, undefined, { forTraining: true })).rejects.toThrow(/sampling-only/);
      model.dispose();
      m.dispose();
    }
  });

  it('rejects a wrong kind, a missing folder and truncated weights, naming the file', async () => {
    const dir = join(tmp, 'ckpt-vae');
    await expect(loadGenerator(dir, 'gan')).rejects.toThrow(/model\.json: holds a vae, not a gan/);
    await expect(loadGenerator(join(tmp, 'nowhere'))).rejects.toThrow(/nowhere: generator checkpoint folder not found/);
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(12));
    await expect(loadGenerator(dir)).rejects.toThrow(/weights\.bin: holds 12 bytes/);
  });
});

describe('training runs', () => {
  it('resuming after an epoch replays the uninterrupted run exactly, and writes sample grids', async () => {
    const set = pool(24, 9);
    const common = { config: vaeConfig, trainingSet: set, batchSize: 8, seed: 4, grid: 2 };
    const straight = await trainGenerator({ ...common, outDir: join(tmp, 'run-a'), epochs: 2, resume: false });
    const first = await trainGenerator({ ...common, outDir: join(tmp, 'run-b'), epochs: 1, resume: false });
    first.model.dispose();
    const resumed = await trainGenerator({ ...common, outDir: join(tmp, 'run-b'), epochs: 2, resume: true });
    expect(resumed.history.map((e) => e.losses)).toEqual(straight.history.map((e) => e.losses));
    for (const [name, v] of straight.model.params.variables) {
      expect(Array.from(resumed.model.params.variables.get(name)!.dataSync())).toEqual(Array.from(v.dataSync()));
    }
    expect(resolveCheckpoint(join(tmp, 'run-b'))).toBe(join(tmp, 'run-b', 'epoch-0002'));
    const { readPng } = await import('../../src/io/png.js');
    expect(readPng(join(tmp, 'run-b', 'samples', 'epoch-0002.png')).rows).toBe(2 * S + 2);
    straight.model.dispose();
    resumed.model.dispose();
  });

  it('GAN: resuming replays the run exactly, the weight average and critic warm-up included', async () => {
    const common = { config: { ...ganConfig, criticWarmupSteps: 2, emaDecay: 0.9 }, trainingSet: pool(16, 10), batchSize: 4, seed: 6, grid: 2 };
    const straight = await trainGenerator({ ...common, outDir: join(tmp, 'gan-a'), epochs: 2, resume: false });
    (await trainGenerator({ ...common, outDir: join(tmp, 'gan-b'), epochs: 1, resume: false })).model.dispose();
    const resumed = await trainGenerator({ ...common, outDir: join(tmp, 'gan-b'), epochs: 2, resume: true });
    expect(resumed.history.map((e) => e.losses)).toEqual(straight.history.map((e) => e.losses));
    expect([...straight.model.params.variables.keys()].some((n) => n.startsWith('generator_ema/'))).toBe(true);
    for (const [name, v] of straight.model.params.variables) {
      expect(Array.from(resumed.model.params.variables.get(name)!.dataSync())).toEqual(Array.from(v.dataSync()));
    }
    straight.model.dispose();
    resumed.model.dispose();
  });
});
