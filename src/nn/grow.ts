/**
 * Changing a trained MoDL's architecture without changing its weights.
 *
 * Growing a trained MoDL's denoiser by one hidden layer without changing what
 * it computes (Net2Net-style, Chen et al., ICLR 2016), so that a deeper network
 * starts training from the trained one instead of from scratch.
 *
 * The new layer sits just before the last one. Its input is a ReLU output
 * (non-negative), its kernel is the identity (a centred 3×3 delta per channel),
 * and its batch norm maps x to x with the running statistics every stage slot
 * starts from (mean 0, variance 1): γ = √(1 + ε), β = 0. Its ReLU then passes
 * x unchanged, so the deeper network's output equals the old one's wherever
 * batch norm uses running statistics (inference, and training with frozen
 * statistics). Training with batch statistics would not start from the same
 * function.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SymmetrySetting } from '../physics/symmetry.js';
import { statName } from './denoiser.js';
import { Modl } from './modl.js';

/** A new MoDL whose denoiser has one more hidden layer than `model`'s and the same output; `model` is left as it is. */
export function deepened(model: Modl): Modl {
  const { depth, width, epsilon } = model.denoiser.config;
  const grown = Modl.create({
    denoiser: { ...model.denoiser.config, depth: depth + 1 },
    stages: model.stages, cgIterations: model.cgIterations, lambda: model.lambda,
  });
  tf.tidy(() => {
    const old = model.namedWeights();
    const weights: tf.NamedTensorMap = {};
    const last = `${depth}/`, lastLayer = new RegExp(`^(conv|bn)${depth}/`);
    for (const [name, w] of Object.entries(old)) weights[name.replace(lastLayer, `$1${depth + 1}/`)] = w;
    const identity = tf.buffer([3, 3, width, width]);
    for (let c = 0; c < width; c++) identity.set(1, 1, 1, c, c);
    weights[`conv${last}kernel`] = identity.toTensor();
    weights[`bn${last}gamma`] = tf.fill([width], Math.sqrt(1 + epsilon));
    weights[`bn${last}beta`] = tf.zeros([width]);
    for (let slot = 0; slot < model.stages; slot++) {
      weights[statName(depth - 1, 'running_mean', slot)] = tf.zeros([width]);
      weights[statName(depth - 1, 'running_variance', slot)] = tf.ones([width]);
    }
    grown.setWeights(weights);
  });
  return grown;
}

/**
 * `model` with its denoiser averaging over symmetries as `setting` says
 * (DenoiserConfig.symmetries, .symmetryPlan): `model` itself where it already
 * does, otherwise a new MoDL with its weights, and `model` is disposed.
 */
export function withSymmetries(model: Modl, setting: SymmetrySetting): Modl {
  const now = model.denoiser.symmetrySetting;
  const wanted = { symmetries: setting.symmetries ?? now.symmetries, symmetryPlan: setting.symmetryPlan ?? now.symmetryPlan };
  if (wanted.symmetries === now.symmetries && wanted.symmetryPlan === now.symmetryPlan) return model;
  const out = Modl.create({
    denoiser: { ...model.denoiser.config, ...wanted },
    stages: model.stages, cgIterations: model.cgIterations, lambda: model.lambda,
  });
  out.setWeights(model.namedWeights());
  model.dispose();
  return out;
}
