/**
 * DCGAN-style GAN with the hinge loss, one critic step per generator step:
 *
 *   critic:    L_D = E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))] (+ R1)
 *   generator: L_G = −E[D(G(z))]
 *
 * The critic is held in check in one of two ways:
 * - `criticNorm: 'spectral'`: spectral normalisation of every weight (SNGAN,
 *   Miyato et al. 2018) bounds its Lipschitz constant; cheap, but a small
 *   critic so bounded runs out of reach: it lost track of the generator's
 *   stripes in every run here;
 * - `criticNorm: 'none'` with the R1 penalty (Mescheder et al. 2018)
 *   (γ/2)·E_real ‖∇ₓD(x)‖², which keeps the critic flat on the real images and
 *   leaves it its full capacity elsewhere. It is a gradient of a gradient (the
 *   critic's layers are twice differentiable for it, layers.ts), about two
 *   critic steps in cost, so it is applied every `r1Interval` steps with its
 *   weight multiplied by the interval ("lazy" R1, Karras et al. 2020).
 * The generator has batch norm; samples use its running statistics, so each
 * image depends only on its own latent.
 *
 * Reconstruction anchor (`reconstructionWeight` λ > 0, VAE-GAN, Larsen et al.
 * 2016): the generator also decodes the VAE codes ε(x) of real images (its
 * initial VAE's frozen encoder) and pays λ·mean|G(ε(x)) − x| for missing them.
 * It ties the generator's detail to the real images' detail; alone it did not
 * stop the stripes here, with instance noise (below) it kept two epochs clean.
 *
 * Instance noise (`instanceNoise` σ₀ > 0; Sønderby et al. 2017): the critic
 * sees real and generated images with Gaussian noise of standard deviation
 * σ = σ₀·(1 − t/`instanceNoiseSteps`) added (t the critic step, σ ≥ 0). A
 * critic that starts out telling blurry VAE samples from sharp real images
 * rewards any high-frequency energy, and every run without the noise answered
 * with stripes of a 4-pixel period within 150–250 steps; under the noise fine
 * texture cannot tell real from generated until σ has come down.
 *
 * The first `criticWarmupSteps` steps train the critic alone. A generator
 * started from a VAE decoder otherwise follows the input gradients of a random
 * critic and picks up fixed-pattern artefacts (stripes) before the critic has
 * learned what real images look like.
 *
 * Samples come from an exponential moving average of the generator's weights
 * (batch-norm statistics included) when `emaDecay` > 0 (Karras et al. 2018,
 * Yazıcı et al. 2019): the live generator oscillates around what the critic
 * currently rewards, and its average is smoother and free of the transient
 * patterns of single steps. Training uses the live generator.
 */
import * as tf from '@tensorflow/tfjs-core';
import { inverse, Matrix } from 'ml-matrix';
import { Adam } from '../nn/adam.js';
import { Params } from './layers.js';
import type { GanConfig } from './configs.js';
import type { GenerativeModel, OptimizerState } from './model.js';
import { decoderFlops, encoderFlops, ImageDecoder, ImageEncoder, type NetConfig } from './nets.js';
import { prefixed, unprefixed } from './vae.js';

const AVERAGE = 'generator_ema';

export type { GanConfig };

/** The shipped GAN's recipe (its reconstruction anchor needs a VAE to start from, so it is off here). */
export const DEFAULT_GAN: GanConfig = {
  kind: 'gan', size: 128, latent: 128, baseChannels: 16, maxChannels: 256, startRes: 8, upsample: 'nearest',
  criticChannels: 16, criticDownsample: 'avgpool', criticNorm: 'none', r1Gamma: 0.2, r1Interval: 4,
  instanceNoise: 0.1, instanceNoiseSteps: 1500, criticWarmupSteps: 50,
  learningRateGenerator: 1e-4, learningRateCritic: 2e-4, beta1: 0.5, beta2: 0.999, emaDecay: 0.995, reconstructionWeight: 0,
};

export class Gan implements GenerativeModel {
  readonly kind = 'gan';
  readonly params: Params;
  readonly samplingWeights: string[];
  private readonly generator: ImageDecoder;
  /** The weight-averaged generator (emaDecay > 0), and its weights paired with the live ones. */
  private readonly average: ImageDecoder | null = null;
  private readonly averaged: [live: tf.Variable, average: tf.Variable][] = [];
  /** The reconstruction anchor: the VAE's encoder, and ε = (μ − m)·L⁻ᵀ from its sampling distribution N(m, LLᵀ). */
  private readonly anchor: { encoder: ImageEncoder; mean: tf.Variable; whiten: tf.Variable } | null = null;
  private readonly critic: ImageEncoder;
  private readonly adamG: Adam;
  private readonly adamD: Adam;

  constructor(readonly config: GanConfig, seed: number) {
    this.params = new Params(seed);
    this.generator = new ImageDecoder(config, this.params, 'generator');
    if (config.emaDecay > 0) {
      this.average = new ImageDecoder(config, this.params, AVERAGE);
      this.params.freeze(`${AVERAGE}/`);
      for (const [name, v] of this.params.variables) if (name.startsWith('generator/')) this.averaged.push([v, this.params.variables.get(`${AVERAGE}/${name.slice('generator/'.length)}`)!]);
      this.resetAverage();
    }
    this.samplingWeights = [this.average ? `${AVERAGE}/` : 'generator/'];
    if (config.reconstructionWeight > 0) {
      const L = config.latent;
      this.anchor = {
        encoder: new ImageEncoder(config, this.params, 'anchor/encoder', 2 * L, 'batch'),
        mean: this.params.state('anchor/mean', new Float32Array(L), [L]),
        whiten: this.params.state('anchor/whiten', Float32Array.from({ length: L * L }, (_, i) => (i % (L + 1) === 0 ? 1 : 0)), [L, L]),
      };
      this.params.freeze('anchor/');
    }
    this.critic = new ImageEncoder({ ...config, baseChannels: config.criticChannels }, this.params, 'critic', 1, config.criticNorm, config.criticDownsample);
    this.adamG = new Adam(config.learningRateGenerator, config.beta1, config.beta2);
    this.adamD = new Adam(config.learningRateCritic, config.beta1, config.beta2);
  }

  get latent(): number { return this.config.latent; }
  get size(): number { return this.config.size; }

  generate(z: tf.Tensor2D): tf.Tensor4D {
    return (this.average ?? this.generator).apply(z, false);
  }

  /** The average restarts at the live generator (after its weights were set from elsewhere). */
  private resetAverage(): void {
    for (const [live, average] of this.averaged) average.assign(live);
  }

  private updateAverage(): void {
    const d = this.config.emaDecay;
    tf.tidy(() => { for (const [live, average] of this.averaged) average.assign(tf.add(tf.mul(average, d), tf.mul(live, 1 - d))); });
  }

  /** The generator inputs ε that reproduce the initial VAE's decoding of its posterior means μ(x). */
  codes(x: tf.Tensor4D): tf.Tensor2D {
    const a = this.anchor;
    if (!a) throw new Error('this GAN has no reconstruction anchor');
    return tf.tidy(() => tf.matMul(tf.sub(tf.slice(a.encoder.apply(x, false), [0, 0], [-1, this.config.latent]), a.mean), a.whiten as tf.Tensor2D));
  }

  /** E‖∇ₓD(x)‖² over the batch, differentiable with respect to the critic's weights. */
  r1Penalty(real: tf.Tensor4D): tf.Scalar {
    const g = tf.grad((x: tf.Tensor) => tf.sum(this.critic.apply(x as tf.Tensor4D, false)))(real);
    return tf.div(tf.sum(tf.square(g)), real.shape[0]) as tf.Scalar;
  }

  /** The critic's scores [B] (inference mode: the power iteration does not advance). */
  score(x: tf.Tensor4D): tf.Tensor1D {
    return tf.reshape(this.critic.apply(x, false), [-1]);
  }

  trainStep(real: tf.Tensor4D, noise: Float32Array): Record<string, number> {
    const B = real.shape[0], L = this.config.latent, n = B * this.config.size ** 2;
    const [z1, z2] = [0, 1].map((k) => tf.tensor2d(noise.subarray(k * B * L, (k + 1) * B * L), [B, L]));
    const criticSteps = this.adamD.getState().t;
    const { r1Gamma, r1Interval, instanceNoise, instanceNoiseSteps } = this.config;
    const sigma = instanceNoise * Math.max(0, 1 - criticSteps / instanceNoiseSteps);
    /** x plus the k-th of the step's three instance-noise draws. */
    const noisy = (x: tf.Tensor4D, k: number) => (sigma > 0 ? tf.add(x, tf.mul(tf.tensor(noise.subarray(2 * B * L + k * n, 2 * B * L + (k + 1) * n), x.shape), sigma)) as tf.Tensor4D : x);
    // critic step: real and generated images in one batch (the critic has no batch statistics)
    const fake = tf.tidy(() => noisy(this.generator.apply(z1!, true), 1));
    const seenReal = tf.tidy(() => noisy(real, 0));
    const criticVars = this.params.trainable('critic/');
    const withR1 = r1Gamma > 0 && criticSteps % r1Interval === 0;
    let realScore = 0, fakeScore = 0, r1 = 0, lossD = 0;
    const d = tf.variableGrads(() => {
      const scores = tf.reshape(this.critic.apply(tf.concat([seenReal, fake]), true), [-1]);
      const sReal = tf.slice(scores, 0, B), sFake = tf.slice(scores, B, B);
      realScore = tf.mean(sReal).dataSync()[0]!;
      fakeScore = tf.mean(sFake).dataSync()[0]!;
      const hinge = tf.add(tf.mean(tf.relu(tf.sub(1, sReal))), tf.mean(tf.relu(tf.add(1, sFake)))) as tf.Scalar;
      lossD = hinge.dataSync()[0]!;
      if (!withR1) return hinge;
      const penalty = this.r1Penalty(seenReal);
      r1 = penalty.dataSync()[0]!;
      return tf.add(hinge, tf.mul(penalty, (r1Gamma / 2) * r1Interval)) as tf.Scalar;
    }, criticVars);
    this.adamD.step(criticVars, criticVars.map((v) => d.grads[v.name]!));
    tf.dispose([z1!, fake, d.value, d.grads, ...(seenReal !== real ? [seenReal] : [])]);
    if (criticSteps < this.config.criticWarmupSteps) {
      z2!.dispose();
      return { lossD, realScore, fakeScore, ...(withR1 ? { r1 } : {}) };
    }
    // generator step on fresh latents (and, anchored, on the codes of half the real batch)
    const generatorVars = this.params.trainable('generator/');
    const anchored = this.anchor ? tf.slice(real, 0, Math.ceil(B / 2)) : null;
    const codes = anchored ? this.codes(anchored) : null;
    let lossG = 0, reconstruction = 0;
    const g = tf.variableGrads(() => {
      const adversarial = tf.neg(tf.mean(this.critic.apply(noisy(this.generator.apply(z2!, true), 2), false))) as tf.Scalar;
      lossG = adversarial.dataSync()[0]!;
      if (!codes) return adversarial;
      const l1 = tf.mean(tf.abs(tf.sub(this.generator.apply(codes, true), anchored!)));
      reconstruction = l1.dataSync()[0]!;
      return tf.add(adversarial, tf.mul(l1, this.config.reconstructionWeight)) as tf.Scalar;
    }, generatorVars);
    this.adamG.step(generatorVars, generatorVars.map((v) => g.grads[v.name]!));
    this.updateAverage();
    const out = { lossD, lossG, realScore, fakeScore, ...(withR1 ? { r1 } : {}), ...(codes ? { reconstruction } : {}) };
    tf.dispose([z2!, g.value, g.grads, ...(codes ? [codes, anchored!] : [])]);
    return out;
  }

  /**
   * Starts the generator from a VAE's decoder (same network configuration):
   * the decoder's weights, with its sampling distribution z = m + L·ε folded
   * into the first dense layer (kernel Lᵀ·K, bias m·K + b), so that the
   * generator maps ε ~ N(0, I) to the VAE's samples before adversarial training.
   */
  initGeneratorFromVae(vae: GenerativeModel): void {
    if (vae.kind !== 'vae') throw new Error(`the generator can start from a VAE, not a ${vae.kind}`);
    const keys: (keyof NetConfig)[] = ['size', 'latent', 'baseChannels', 'maxChannels', 'startRes', 'upsample'];
    const differ = keys.filter((k) => vae.config[k] !== this.config[k]);
    if (differ.length) throw new Error(`the VAE's decoder differs from the generator in ${differ.map((k) => `${k} (${vae.config[k]} vs ${this.config[k]})`).join(', ')}`);
    const w = vae.params.variables;
    const weights: tf.NamedTensorMap = {};
    for (const [name, v] of w) if (name.startsWith('decoder/')) weights[`generator/${name.slice('decoder/'.length)}`] = v;
    const own = new Params(0);
    try {
      tf.tidy(() => {
        const K = w.get('decoder/fc/kernel')!, b = w.get('decoder/fc/bias')!;
        const m = w.get('sampling/mean')!, L = w.get('sampling/scale_tril')!;
        weights['generator/fc/kernel'] = tf.matMul(L as tf.Tensor2D, K as tf.Tensor2D, true, false);
        weights['generator/fc/bias'] = tf.add(tf.squeeze(tf.matMul(tf.reshape(m, [1, -1]), K as tf.Tensor2D), [0]), b);
        if (this.anchor) {
          for (const [name, v] of w) if (name.startsWith('encoder/')) weights[`anchor/${name}`] = v;
          weights['anchor/mean'] = m;
          const lt = new Matrix(L.arraySync() as number[][]).transpose();
          weights['anchor/whiten'] = tf.tensor2d(inverse(lt).to2DArray()); // (L⁻¹)ᵀ = (Lᵀ)⁻¹
        }
        for (const [name, v] of this.params.variables) if (name.startsWith('generator/') || name.startsWith('anchor/')) own.variables.set(name, v);
        own.set(weights);
      });
    } finally {
      own.variables.clear(); // the variables belong to this.params
    }
    this.resetAverage();
  }

  noisePerStep(batch: number): number {
    return 2 * batch * this.config.latent + (this.config.instanceNoise > 0 ? 3 * batch * this.config.size ** 2 : 0);
  }

  optimizerState(): OptimizerState {
    const g = this.adamG.getState(), d = this.adamD.getState();
    return { steps: { generator: g.t, critic: d.t }, tensors: { ...prefixed('adam_generator/', g.tensors), ...prefixed('adam_critic/', d.tensors) } };
  }

  setOptimizerState(state: OptimizerState): void {
    this.adamG.setState(state.steps.generator ?? 0, unprefixed('adam_generator/', state.tensors));
    this.adamD.setState(state.steps.critic ?? 0, unprefixed('adam_critic/', state.tensors));
  }

  parameterCounts(): Record<string, number> {
    return { generator: this.params.count('generator/'), critic: this.params.count('critic/') };
  }

  flopsPerImage(): Record<string, number> {
    return { generator: decoderFlops(this.config), critic: encoderFlops({ ...this.config, baseChannels: this.config.criticChannels }, 1, this.config.criticDownsample) };
  }

  dispose(): void {
    this.adamG.dispose();
    this.adamD.dispose();
    this.params.dispose();
  }
}
