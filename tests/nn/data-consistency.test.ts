import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { birdcageMaps } from '../../src/physics/coils.js';
import { cdotRe } from '../../src/physics/complex.js';
import { poissonDiscMask2d, randomMask1d } from '../../src/physics/masks.js';
import { SenseOp } from '../../src/physics/sense.js';
import { dataConsistency, makeDcProblem } from '../../src/nn/data-consistency.js';
import { randomComplex, relErr } from '../helpers/random.js';

const [B, C, H, W] = [2, 4, 12, 10];

const masks = [poissonDiscMask2d(H, W, { acceleration: 3, seed: 1, calib: 4 }).mask, randomMask1d(H, W, { acceleration: 2, seed: 2 }).mask];
const fullMaps = [birdcageMaps(C, H, W, { rotation: 0.3 }), birdcageMaps(C, H, W, { rotation: 1.1, ellipticity: 0.2 })];
/** Maps cropped like ESPIRiT's: zero outside an object support (here: off the first 3 rows and the last 2 columns). */
const outside = (b: number, i: number) => (b === 0 ? Math.floor(i / W) < 3 : i % W >= W - 2);
const croppedMaps = fullMaps.map((m, b) => ({ ...m, data: m.data.map((v, j) => (outside(b, (j >> 1) % (H * W)) ? 0 : v)) }));

for (const [name, maps] of [['maps covering every pixel', fullMaps], ['maps cropped to a support', croppedMaps]] as const) {
const ops = maps.map((m, b) => new SenseOp(m, masks[b]!));

function problem() {
  const k = [0, 1].map((b) => randomComplex(C * H * W, 10 + b));
  return makeDcProblem(ops, k);
}

describe(`data-consistency op, ${name}`, () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const exact = { iterations: 300, tol: 1e-7 };

  it('solves (AᴴA + λI)x = Aᴴy + λz for each sample', () => {
    const p = problem();
    const z = randomComplex(B * H * W, 3);
    const lam = 0.07;
    const x = dataConsistency(tf.tensor4d(z, [B, H, W, 2]), tf.scalar(lam), p, exact).dataSync() as Float32Array;
    const cropped = maps === croppedMaps;
    expect(p.support === null).toBe(!cropped);
    for (let b = 0; b < B; b++) {
      const n = 2 * H * W;
      const xb = x.subarray(b * n, (b + 1) * n);
      const lhs = new Float32Array(n);
      ops[b]!.normal(xb, lhs);
      const rhs = new Float32Array(n);
      // on the support: the normal equations with z; outside it (Pz = 0 there) x is exactly 0
      const zb = (i: number) => (cropped && outside(b, i >> 1) ? 0 : z[b * n + i]!);
      for (let i = 0; i < n; i++) { lhs[i] += lam * xb[i]!; rhs[i] = p.aty[b * n + i]! + lam * zb(i); }
      expect(relErr(lhs, rhs)).toBeLessThan(1e-5);
      for (let i = 0; i < n; i++) if (cropped && outside(b, i >> 1)) expect(xb[i]).toBe(0);
    }
  });

  it('has gradients in z and λ that match finite differences', () => {
    const p = problem();
    const z0 = randomComplex(B * H * W, 4);
    const weights = tf.tensor4d(randomComplex(B * H * W, 5), [B, H, W, 2]);
    const lam0 = 0.05;
    // L(z, λ) = Σ c ⊙ DC(z, λ): a generic linear functional of the output
    const loss = (z: tf.Tensor, lam: tf.Tensor) => tf.sum(tf.mul(weights, dataConsistency(z as tf.Tensor4D, lam as tf.Scalar, p, exact)));
    const [gz, glam] = tf.grads(loss)([tf.tensor4d(z0, [B, H, W, 2]), tf.scalar(lam0)]);
    const L = (z: Float32Array, lam: number) => loss(tf.tensor4d(z, [B, H, W, 2]), tf.scalar(lam)).dataSync()[0]!;

    // z: the op is affine in z, so a central difference is exact up to round-off
    const d = randomComplex(B * H * W, 6);
    const eps = 1e-2;
    const zp = z0.map((v, i) => v + eps * d[i]!), zm = z0.map((v, i) => v - eps * d[i]!);
    const fdZ = (L(zp, lam0) - L(zm, lam0)) / (2 * eps);
    const anZ = cdotRe(gz!.dataSync() as Float32Array, d);
    expect(Math.abs(fdZ - anZ) / Math.abs(anZ)).toBeLessThan(1e-3);

    // λ: smooth, central difference with a small relative step
    const h = 1e-2 * lam0; // a step well above float32 round-off in the solves (the loss is smooth in λ)
    const fdL = (L(z0, lam0 + h) - L(z0, lam0 - h)) / (2 * h);
    const anL = glam!.dataSync()[0]!;
    expect(Math.abs(fdL - anL) / Math.abs(anL)).toBeLessThan(2e-3);
  });
});
}

describe('data-consistency op with two ESPIRiT map sets (soft-SENSE)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const S = 2;
  const n = 2 * S * H * W; // floats per sample
  // set 1 covers every pixel, set 2 only a support (as ESPIRiT's second map does)
  const stacked = fullMaps.map((m, b) => {
    const data = new Float32Array(2 * S * C * H * W);
    data.set(m.data.map((v) => 0.8 * v));
    data.set(croppedMaps[b]!.data.map((v) => 0.6 * v), 2 * C * H * W);
    return { data, shape: [S, C, H, W] };
  });
  const ops2 = stacked.map((m, b) => new SenseOp(m, masks[b]!));
  const p = makeDcProblem(ops2, [0, 1].map((b) => randomComplex(C * H * W, 20 + b)));
  const exact = { iterations: 300, tol: 1e-7 };

  it('solves the normal equations of A = M F Σ_s S_s x_s, and each plane is zero off its set\'s support', () => {
    const z = randomComplex(B * S * H * W, 23);
    const lam = 0.07;
    const x = dataConsistency(tf.tensor4d(z, [B * S, H, W, 2]), tf.scalar(lam), p, exact).dataSync() as Float32Array;
    for (let b = 0; b < B; b++) {
      const xb = x.subarray(b * n, (b + 1) * n);
      const lhs = new Float32Array(n), rhs = new Float32Array(n);
      ops2[b]!.normal(xb, lhs);
      const off = (i: number) => i >= 2 * H * W && outside(b, (i >> 1) % (H * W)); // plane 2, off its support
      for (let i = 0; i < n; i++) { lhs[i] += lam * xb[i]!; rhs[i] = p.aty[b * n + i]! + lam * (off(i) ? 0 : z[b * n + i]!); }
      expect(relErr(lhs, rhs)).toBeLessThan(1e-5);
      for (let i = 0; i < n; i++) if (off(i)) expect(xb[i]).toBe(0);
    }
  });

  it('has gradients in z and λ that match finite differences', () => {
    const z0 = randomComplex(B * S * H * W, 24);
    const weights = tf.tensor4d(randomComplex(B * S * H * W, 25), [B * S, H, W, 2]);
    const lam0 = 0.05;
    const loss = (z: tf.Tensor, lam: tf.Tensor) => tf.sum(tf.mul(weights, dataConsistency(z as tf.Tensor4D, lam as tf.Scalar, p, exact)));
    const [gz, glam] = tf.grads(loss)([tf.tensor4d(z0, [B * S, H, W, 2]), tf.scalar(lam0)]);
    const L = (z: Float32Array, lam: number) => loss(tf.tensor4d(z, [B * S, H, W, 2]), tf.scalar(lam)).dataSync()[0]!;
    const d = randomComplex(B * S * H * W, 26);
    const eps = 1e-2;
    const fdZ = (L(z0.map((v, i) => v + eps * d[i]!), lam0) - L(z0.map((v, i) => v - eps * d[i]!), lam0)) / (2 * eps);
    const anZ = cdotRe(gz!.dataSync() as Float32Array, d);
    expect(Math.abs(fdZ - anZ) / Math.abs(anZ)).toBeLessThan(1e-3);
    const h = 1e-2 * lam0; // a step well above float32 round-off in the solves (the loss is smooth in λ)
    const fdL = (L(z0, lam0 + h) - L(z0, lam0 - h)) / (2 * h);
    const anL = glam!.dataSync()[0]!;
    expect(Math.abs(fdL - anL) / Math.abs(anL)).toBeLessThan(2e-3);
  });
});
