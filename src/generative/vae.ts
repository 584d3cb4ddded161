/**
 * Convolutional variational autoencoder (Kingma & Welling 2014):
 *
 *   encoder x → (μ, log σ²) ∈ ℝ^L × ℝ^L,   z = μ + σ·ε,   decoder z → x̂ ∈ [0, 1]
 *   loss = Σ_pixels (x − x̂)² / (2 s²)  +  β · KL(N(μ, σ²) ‖ N(0, I)),   per image
 *
 * i.e. a Gaussian decoder of fixed standard deviation s (the `noiseStd`) and a
 * β-weighted KL term.
 *
 * Sampling: the encoded training images do not fill N(0, I) evenly (the KL
 * term is one term among two), and decoding from the regions they leave empty
 * gives images unlike any training image. So after each epoch a Gaussian is
 * fitted to the aggregate posterior (mean and covariance of the posteriors
 * N(μ(x), σ²(x)) over training images x; "ex-post density estimation", Ghosh
 * et al. 2020) and samples decode z = m + L·ε, ε ~ N(0, I), with L Lᵀ that
 * covariance. Decoding uses the batch-norm running statistics.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { Adam } from '../nn/adam.js';
import { Rng } from '../util/random.js';
import { Params } from './layers.js';
import { decoderFlops, encoderFlops, ImageDecoder, ImageEncoder } from './nets.js';
import type { VaeConfig } from './configs.js';
import type { GenerativeModel, OptimizerState } from './model.js';

export type { VaeConfig };

export const DEFAULT_VAE: VaeConfig = {
  kind: 'vae', size: 128, latent: 128, baseChannels: 16, maxChannels: 256, startRes: 8, upsample: 'nearest',
  beta: 1, noiseStd: 0.2, learningRate: 1e-3,
};

export class Vae implements GenerativeModel {
  readonly kind = 'vae';
  readonly params: Params;
  readonly samplingWeights = ['decoder/', 'sampling/'];
  private readonly encoder: ImageEncoder;
  private readonly decoder: ImageDecoder;
  private readonly adam: Adam;
  /** The sampling distribution N(m, L Lᵀ) of the latents (initially N(0, I)). */
  private readonly priorMean: tf.Variable;
  private readonly priorScale: tf.Variable;

  constructor(readonly config: VaeConfig, seed: number) {
    if (!(config.beta >= 0) || !(config.noiseStd > 0)) throw new Error(`VAE beta must be ≥ 0 and noiseStd > 0, got ${config.beta}, ${config.noiseStd}`);
    this.params = new Params(seed);
    this.encoder = new ImageEncoder(config, this.params, 'encoder', 2 * config.latent, 'batch');
    this.decoder = new ImageDecoder(config, this.params, 'decoder');
    const L = config.latent;
    this.priorMean = this.params.state('sampling/mean', new Float32Array(L), [L]);
    this.priorScale = this.params.state('sampling/scale_tril', Float32Array.from({ length: L * L }, (_, i) => (i % (L + 1) === 0 ? 1 : 0)), [L, L]);
    this.adam = new Adam(config.learningRate);
  }

  get latent(): number { return this.config.latent; }
  get size(): number { return this.config.size; }

  encode(x: tf.Tensor4D, training: boolean): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
    const out = this.encoder.apply(x, training);
    const L = this.config.latent;
    return {
      mu: tf.slice(out, [0, 0], [-1, L]),
      // bounded so that exp() cannot overflow in the first steps
      logVar: tf.clipByValue(tf.slice(out, [0, L], [-1, L]), -12, 8),
    };
  }

  /** Decodes z = m + L·ε for ε [B, L] (rows). */
  generate(eps: tf.Tensor2D): tf.Tensor4D {
    return this.decoder.apply(tf.add(tf.matMul(eps, this.priorScale, false, true), this.priorMean), false);
  }

  /** The mean and covariance of the aggregate posterior over (up to 1024 of) the training images, as m and L. */
  fitToTrainingSet(data: Float32Array, count: number): void {
    const L = this.config.latent, S = this.config.size, n = S * S;
    const pick = new Rng(7).permutation(count).subarray(0, Math.min(count, 1024));
    const mus: Float32Array[] = [];
    const variance = new Float64Array(L);
    for (let k = 0; k < pick.length; k += 32) {
      const idx = Array.from(pick.subarray(k, k + 32));
      const batch = new Float32Array(idx.length * n);
      idx.forEach((i, j) => batch.set(data.subarray(i * n, (i + 1) * n), j * n));
      const [mu, logVar] = tf.tidy(() => {
        const e = this.encode(tf.tensor4d(batch, [idx.length, S, S, 1]), false);
        return [e.mu.dataSync() as Float32Array, e.logVar.dataSync() as Float32Array];
      });
      for (let j = 0; j < idx.length; j++) mus.push(mu.slice(j * L, (j + 1) * L));
      logVar.forEach((v, i) => { variance[i % L]! += Math.exp(v); });
    }
    const N = mus.length;
    const mean = new Float64Array(L);
    for (const m of mus) for (let i = 0; i < L; i++) mean[i]! += m[i]! / N;
    const cov = Matrix.zeros(L, L);
    for (const m of mus) for (let i = 0; i < L; i++) for (let j = 0; j <= i; j++) cov.set(i, j, cov.get(i, j) + ((m[i]! - mean[i]!) * (m[j]! - mean[j]!)) / N);
    for (let i = 0; i < L; i++) {
      cov.set(i, i, cov.get(i, i) + variance[i]! / N + 1e-6);
      for (let j = 0; j < i; j++) cov.set(j, i, cov.get(i, j));
    }
    const chol = new CholeskyDecomposition(cov);
    if (!chol.isPositiveDefinite()) throw new Error('VAE: the latent covariance is not positive definite');
    tf.tidy(() => {
      this.priorMean.assign(tf.tensor1d(Float32Array.from(mean)));
      this.priorScale.assign(tf.tensor2d(Float32Array.from(chol.lowerTriangularMatrix.to1DArray()), [L, L]));
    });
  }

  /** Mean per-image loss and its parts for images x and noise ε [B, L]. */
  losses(x: tf.Tensor4D, eps: tf.Tensor2D, training: boolean): { loss: tf.Scalar; mse: tf.Scalar; kl: tf.Scalar } {
    const { mu, logVar } = this.encode(x, training);
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps)) as tf.Tensor2D;
    const xHat = this.decoder.apply(z, training);
    const batch = x.shape[0];
    const sse = tf.div(tf.sum(tf.squaredDifference(x, xHat)), batch);
    const kl = tf.div(tf.mul(0.5, tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(logVar)), tf.add(logVar, 1)))), batch) as tf.Scalar;
    const s2 = this.config.noiseStd ** 2;
    const loss = tf.add(tf.div(sse, 2 * s2), tf.mul(kl, this.config.beta)) as tf.Scalar;
    return { loss, mse: tf.div(sse, x.size / batch) as tf.Scalar, kl };
  }

  trainStep(real: tf.Tensor4D, noise: Float32Array): Record<string, number> {
    const vars = this.params.trainable();
    const eps = tf.tensor2d(noise, [real.shape[0], this.config.latent]);
    let mse = 0, kl = 0;
    const { value, grads } = tf.variableGrads(() => {
      const l = this.losses(real, eps, true);
      mse = l.mse.dataSync()[0]!;
      kl = l.kl.dataSync()[0]!;
      return l.loss;
    }, vars);
    this.adam.step(vars, vars.map((v) => grads[v.name]!));
    const loss = value.dataSync()[0]!;
    tf.dispose([eps, value, grads]);
    return { loss, mse, kl };
  }

  /** Latent values drawn per training step: ε for the reparameterisation. */
  noisePerStep(batch: number): number {
    return batch * this.config.latent;
  }

  optimizerState(): OptimizerState {
    const s = this.adam.getState();
    return { steps: { adam: s.t }, tensors: prefixed('adam/', s.tensors) };
  }

  setOptimizerState(state: OptimizerState): void {
    this.adam.setState(state.steps.adam ?? 0, unprefixed('adam/', state.tensors));
  }

  parameterCounts(): Record<string, number> {
    return { encoder: this.params.count('encoder/'), decoder: this.params.count('decoder/') };
  }

  flopsPerImage(): Record<string, number> {
    return { encoder: encoderFlops(this.config, 2 * this.config.latent), decoder: decoderFlops(this.config) };
  }

  dispose(): void {
    this.adam.dispose();
    this.params.dispose();
  }
}

export function prefixed(prefix: string, map: tf.NamedTensorMap): tf.NamedTensorMap {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [prefix + k, v]));
}

export function unprefixed(prefix: string, map: tf.NamedTensorMap): tf.NamedTensorMap {
  return Object.fromEntries(Object.entries(map).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}
