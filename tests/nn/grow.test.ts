import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { prepareBatch } from '../../src/nn/batch.js';
import { Denoiser } from '../../src/nn/denoiser.js';
import { stackVariants } from '../../src/nn/denoiser-symmetry.js';
import { deepened, withSymmetries } from '../../src/nn/grow.js';
import { Rng } from '../../src/util/random.js';
import { symmetryCosets, type Symmetry } from '../../src/physics/symmetry.js';
import { Modl } from '../../src/nn/modl.js';
import { testSample } from './helpers.js';

describe('growing the denoiser by one layer', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 });
  });

  it('keeps the network\'s output, λ and stages, with one more layer that then trains', () => {
    const model = Modl.create({ denoiser: { depth: 4, width: 16, momentum: 0.5, epsilon: 1e-5 }, stages: 3, cgIterations: 10, lambda: 0.07 }, 3);
    const batch = prepareBatch([testSample(24, 20, 1)]);
    // running statistics far from 0 / 1 in every stage slot, as a trained network has
    for (let i = 0; i < 3; i++) tf.tidy(() => { model.apply(batch.aty, batch.problem, 'train'); });
    const grown = deepened(model);
    expect(grown.denoiser.config.depth).toBe(5);
    expect(grown.stages).toBe(3);
    expect(grown.lambda).toBeCloseTo(0.07, 6);
    const before = tf.tidy(() => model.apply(batch.aty, batch.problem, 'infer').dataSync());
    const after = tf.tidy(() => grown.apply(batch.aty, batch.problem, 'infer').dataSync());
    let err = 0, norm = 0;
    for (let i = 0; i < before.length; i++) { err = Math.max(err, Math.abs(after[i]! - before[i]!)); norm = Math.max(norm, Math.abs(before[i]!)); }
    expect(err).toBeLessThan(1e-5 * norm);
    // the inserted layer is not a dead end: the loss has a gradient on its kernel
    const kernel = grown.denoiser.namedWeights()['conv4/kernel'] as tf.Variable;
    const { grads } = tf.variableGrads(() => tf.losses.meanSquaredError(batch.target!, grown.apply(batch.aty, batch.problem, 'tune')) as tf.Scalar, [kernel]);
    expect(tf.norm(grads[kernel.name]!).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose(grads);
    batch.dispose();
    model.dispose();
    grown.dispose();
  });

  it('averaging the denoiser over its group makes it exactly equivariant to flips and conjugation', () => {
    const plain = Denoiser.create(5, { depth: 3, width: 8 });
    const net = Denoiser.create(5, { depth: 3, width: 8, symmetries: 8 });
    const rng = new Rng(2);
    const shape = [2, 12, 9, 2] as [number, number, number, number];
    const x = Float32Array.from({ length: 2 * 12 * 9 * 2 }, () => rng.normal());
    const D = (d: Denoiser, v: Float32Array) => tf.tidy(() => d.apply(tf.tensor4d(v, shape), false).dataSync() as Float32Array);
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    const y = D(net, x);
    expect(net.groupAt(0)).toHaveLength(8);
    for (const s of net.groupAt(0)) {
      const T = (v: Float32Array) => stackVariants(v, shape, [s]);
      expect(maxDiff(D(net, T(x)), T(y))).toBeLessThan(1e-5);
      // the plain network is not: the average is not a no-op
      if (s.flipH || s.flipW || s.conj) expect(maxDiff(D(plain, T(x)), T(D(plain, x)))).toBeGreaterThan(1e-3);
    }
    plain.dispose();
    net.dispose();
  });

  it('withSymmetries keeps the weights, λ and stages, and averages the same network', () => {
    const make = () => Modl.create({ denoiser: { depth: 3, width: 8, momentum: 0.1, epsilon: 1e-5, symmetries: 1 }, stages: 2, cgIterations: 5, lambda: 0.07 }, 3);
    const model = make(); // the original network, kept: withSymmetries disposes the one it replaces
    const sym = withSymmetries(make(), { symmetries: 2 });
    expect(withSymmetries(sym, { symmetries: 2, symmetryPlan: 'fixed' })).toBe(sym); // already so: the same network
    expect(sym.denoiser.config.symmetries).toBe(2);
    expect(sym.stages).toBe(2);
    expect(sym.lambda).toBeCloseTo(0.07, 6);
    const rng = new Rng(4);
    const x = tf.tensor4d(Float32Array.from({ length: 10 * 8 * 2 }, () => rng.normal()), [1, 10, 8, 2]);
    const [id, variant] = sym.denoiser.groupAt(0);
    expect(id).toEqual({ flipH: false, flipW: false, conj: false });
    // D_G(x) = (D(x) + T D(T x)) / 2 with the original network's D
    const T = (v: tf.Tensor4D) => tf.tensor4d(stackVariants(v.dataSync() as Float32Array, v.shape, [variant!]), v.shape);
    const want = tf.tidy(() => tf.div(tf.add(model.denoiser.apply(x, false), T(model.denoiser.apply(T(x), false))), 2).dataSync());
    const got = tf.tidy(() => sym.denoiser.apply(x, false).dataSync() as Float32Array);
    expect(got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0)).toBeLessThan(1e-5);
    x.dispose();
    model.dispose();
    sym.dispose();
  });

  for (const n of [1, 2]) it(`a cycled plan averages stage k over the k-th coset of ${n} symmetries, the same weights`, () => {
    const make = () => Modl.create({ denoiser: { depth: 3, width: 8, momentum: 0.1, epsilon: 1e-5 }, stages: 6, cgIterations: 5, lambda: 0.07 }, 3);
    const model = make();
    const cycled = withSymmetries(make(), { symmetries: n, symmetryPlan: 'cycled' });
    expect(cycled.denoiser.config).toMatchObject({ symmetries: n, symmetryPlan: 'cycled' });
    const rng = new Rng(5);
    const shape = [1, 10, 8, 2] as [number, number, number, number];
    const x = Float32Array.from({ length: 10 * 8 * 2 }, () => rng.normal());
    const T = (v: Float32Array, s: Symmetry) => stackVariants(v, shape, [s]);
    const D = (d: Denoiser, v: Float32Array, slot: number) => tf.tidy(() => d.apply(tf.tensor4d(v, shape), false, { slot }).dataSync() as Float32Array);
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    const stages = [0, 1, 8 / n + 1];
    const outputs = stages.map((stage) => D(cycled.denoiser, x, stage));
    for (const [i, stage] of stages.entries()) {
      const coset = symmetryCosets(n)[stage % (8 / n)]!;
      expect(cycled.denoiser.groupAt(stage)).toEqual(coset);
      // Σ_{T ∈ coset} T D(T x) / n with the original network's D of that stage
      const want = new Float32Array(x.length);
      for (const s of coset) T(D(model.denoiser, T(x, s), stage), s).forEach((v, j) => { want[j] += v / n; });
      expect(maxDiff(outputs[i]!, want)).toBeLessThan(1e-5);
    }
    expect(maxDiff(outputs[0]!, outputs[1]!)).toBeGreaterThan(1e-3); // stages 0 and 1 differ in their symmetries
    expect(maxDiff(outputs[1]!, outputs[2]!)).toBeLessThan(1e-6); // and the cycle repeats
    model.dispose();
    cycled.dispose();
  });
});
