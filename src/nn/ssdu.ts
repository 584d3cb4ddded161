/**
 * Self-supervision from undersampled k-space alone: SSDU (Yaman et al., MRM
 * 2020). The sampled set Ω of each scan is split into two disjoint sets, Θ used
 * by the network's data-consistency steps and Λ used only by the loss,
 *
 *   L = ‖y_Λ − M_Λ F S x‖₂ / ‖y_Λ‖₂ + ‖y_Λ − M_Λ F S x‖₁ / ‖y_Λ‖₁,   x = MoDL(y_Θ),
 *
 * so the network learns to predict k-space it was not given, and no fully
 * sampled reference is needed. Λ is drawn with a Gaussian variable density
 * (σ = N/4 per axis, the paper's choice), never from the centre 4 lines or 4×4
 * block, which always stay in Θ.
 *
 * For 1D masks (whole columns sampled) the split is by columns, so Θ and Λ are
 * again 1D masks: the network's task in training is the one it has at
 * inference (whole missing lines), and readout windows stay exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maskKspace, SenseBatch, SenseOp } from '../physics/sense.js';
import { isColumnMask } from '../physics/readout-window.js';
import type { Rng } from '../util/random.js';
import { prepareBatch, type PreparedBatch, type ReconSample } from './batch.js';

/** The paper's share of the sampled locations that go to the loss. */
export const SSDU_LOSS_FRACTION = 0.4;
/** Half-width of the central region that never goes to the loss. */
const PROTECTED_HALF_WIDTH = 2;

export interface SamplingSplit {
  /** Θ: the locations the network sees, [H, W] 0/1. */
  kept: Float32Array;
  /** Λ (or a hold-out set): the locations it must predict, [H, W] 0/1; disjoint from `kept`, together the sampled set. */
  held: Float32Array;
}

/** Keys of weighted sampling without replacement (Efraimidis–Spirakis): the m largest are a weighted draw of m. */
function weightedDraw(weights: number[], m: number, rng: Rng): Set<number> {
  const keys = weights.map((w, i) => ({ i, key: w > 0 ? Math.log(1 - rng.next()) / w : -Infinity }));
  keys.sort((a, b) => b.key - a.key);
  return new Set(keys.slice(0, m).filter((k) => k.key > -Infinity).map((k) => k.i));
}

const gaussian = (k: number, n: number) => Math.exp(-((k - Math.floor(n / 2)) ** 2) / (2 * (n / 4) ** 2));
const isProtected = (k: number, n: number) => {
  const d = k - Math.floor(n / 2);
  return d >= -PROTECTED_HALF_WIDTH && d < PROTECTED_HALF_WIDTH;
};

/**
 * Splits the sampled locations of `mask` [H, W] into kept and held sets, about
 * `fraction` of them held. Column masks split by columns; others by points.
 */
export function splitSampling(mask: Float32Array, H: number, W: number, fraction: number, rng: Rng): SamplingSplit {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`split fraction must be in (0, 1), got ${fraction}`);
  const kept = new Float32Array(H * W), held = new Float32Array(H * W);
  if (isColumnMask(mask, H, W)) {
    const columns = Array.from({ length: W }, (_, x) => x).filter((x) => mask[x]! > 0);
    const weights = columns.map((x) => (isProtected(x, W) ? 0 : gaussian(x, W)));
    const chosen = weightedDraw(weights, Math.round(fraction * columns.length), rng);
    columns.forEach((x, j) => {
      const into = chosen.has(j) ? held : kept;
      for (let y = 0; y < H; y++) into[y * W + x] = 1;
    });
    return { kept, held };
  }
  const points: number[] = [];
  for (let i = 0; i < H * W; i++) if (mask[i]! > 0) points.push(i);
  const weights = points.map((i) => {
    const y = Math.floor(i / W), x = i % W;
    return isProtected(y, H) && isProtected(x, W) ? 0 : gaussian(y, H) * gaussian(x, W);
  });
  const chosen = weightedDraw(weights, Math.round(fraction * points.length), rng);
  points.forEach((i, j) => { (chosen.has(j) ? held : kept)[i] = 1; });
  return { kept, held };
}

/**
 * The normalised L1–L2 k-space loss of network outputs x [B·S, H, W, 2], mean
 * over the batch; `A` is the batch's SENSE operator with the loss masks,
 * `targets[b]` sample b's measured k-space on its mask (at the network's intensity).
 * Differentiable in x: with r = Ax − y the gradient is
 * Aᴴ[r/(‖r‖₂‖y‖₂) + (r/|r|)/‖y‖₁] per sample.
 */
export function kspaceLoss(x: tf.Tensor4D, A: SenseBatch, targets: Float32Array[]): tf.Scalar {
  const B = A.batch;
  const residuals = (xd: Float32Array) => {
    const rs = targets.map((y) => new Float32Array(y.length));
    A.forward(xd, rs);
    return rs.map((r, b) => {
      const y = targets[b]!;
      let r2 = 0, r1 = 0, y2 = 0, y1 = 0;
      for (let i = 0; i < r.length; i += 2) {
        r[i] -= y[i]!;
        r[i + 1] -= y[i + 1]!;
        const rm = Math.hypot(r[i]!, r[i + 1]!), ym = Math.hypot(y[i]!, y[i + 1]!);
        r2 += rm * rm; r1 += rm; y2 += ym * ym; y1 += ym;
      }
      if (!(y1 > 0)) throw new Error(`SSDU: sample ${b} has no measured k-space in its loss set`);
      return { r, norm2: Math.sqrt(r2), norm1: r1, y2: Math.sqrt(y2), y1 };
    });
  };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xIn = args[0] as tf.Tensor;
    const res = residuals(xIn.dataSync() as Float32Array);
    const value = res.reduce((s, q) => s + q.norm2 / q.y2 + q.norm1 / q.y1, 0) / B;
    return {
      value: tf.scalar(value),
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync()[0]! / B;
        const ws = res.map((q) => {
          const w = new Float32Array(q.r.length);
          const a = q.norm2 > 0 ? 1 / (q.norm2 * q.y2) : 0;
          for (let i = 0; i < w.length; i += 2) {
            const rm = Math.hypot(q.r[i]!, q.r[i + 1]!);
            const c = g * (a + (rm > 0 ? 1 / (rm * q.y1) : 0));
            w[i] = c * q.r[i]!;
            w[i + 1] = c * q.r[i + 1]!;
          }
          return w;
        });
        const grad = new Float32Array(xIn.size);
        A.adjoint(ws, grad);
        return [tf.tensor(grad, xIn.shape, 'float32')];
      },
    };
  });
  return op(x) as tf.Scalar;
}

/** A batch whose network sees `seen` of each sample's k-space and whose loss is on `scored`. */
export interface SelfSupervisedBatch {
  batch: PreparedBatch;
  loss(x: tf.Tensor4D): tf.Scalar;
  dispose(): void;
}

/**
 * The batch for one SSDU objective: sample b's network input and DC use its
 * k-space on masks[b].kept only, its loss uses masks[b].held only.
 */
export function selfSupervisedBatch(samples: ReconSample[], masks: SamplingSplit[]): SelfSupervisedBatch {
  const batch = prepareBatch(samples.map((s, b) => ({ kspace: maskKspace(s.kspace, masks[b]!.kept), maps: s.maps, mask: masks[b]!.kept })));
  const lossOp = new SenseBatch(samples.map((s, b) => new SenseOp(s.maps, masks[b]!.held)));
  const targets = samples.map((s, b) => {
    const y = maskKspace(s.kspace, masks[b]!.held).data;
    for (let i = 0; i < y.length; i++) y[i] *= batch.scales[b]!;
    return y;
  });
  return { batch, loss: (x) => kspaceLoss(x, lossOp, targets), dispose: () => batch.dispose() };
}
