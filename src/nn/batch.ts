/**
 * Turning reconstruction problems into network batches, with one intensity
 * normalisation used identically in training and inference:
 *
 *   scale = 1 / P99(|Aᴴy|)
 *
 * Only Aᴴy and AᴴA enter the network (the DC step needs nothing else), so the
 * data are normalised by scaling Aᴴy (and the target); outputs are divided by
 * the same scale. A percentile, not the maximum, keeps one hot pixel from
 * setting the scale.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CArray } from '../physics/complex.js';
import { SenseOp } from '../physics/sense.js';
import { makeDcProblem, type DcProblem } from './data-consistency.js';

/** One slice to reconstruct: multi-coil k-space (fully sampled or not: the mask selects), maps, mask, and the truth when known. */
export interface ReconSample {
  kspace: CArray; // [C, H, W]
  maps: CArray; // [C, H, W], or [S, C, H, W] for S ESPIRiT map sets
  mask: Float32Array; // [H, W]
  /** [H, W] (or [S, H, W] with map sets); a magnitude reference may be given as a real [H, W] image. */
  target?: CArray;
}

export interface PreparedBatch {
  problem: DcProblem;
  /** Normalised Aᴴy, [B·S, H, W, 2] (S map sets per sample). */
  aty: tf.Tensor4D;
  /** Normalised targets, [B·S, H, W, 2] (when every sample has one of the image's shape). */
  target?: tf.Tensor4D;
  /** Map sets per sample. */
  sets: number;
  /** Per-sample factor the data were multiplied by. */
  scales: number[];
  H: number;
  W: number;
  dispose(): void;
}

export const NORMALISATION = { statistic: 'percentile', percentile: 99, of: '|A^H y|' } as const;

/** The P-th percentile of |x| over a complex image (nearest rank on a sorted copy). */
export function magnitudePercentile(x: Float32Array, p: number): number {
  const n = x.length >> 1;
  const mag = new Float32Array(n);
  for (let i = 0; i < n; i++) mag[i] = Math.hypot(x[2 * i]!, x[2 * i + 1]!);
  mag.sort();
  return mag[Math.min(n - 1, Math.max(0, Math.round((p / 100) * (n - 1))))]!;
}

export function prepareBatch(samples: ReconSample[]): PreparedBatch {
  if (samples.length === 0) throw new Error('prepareBatch: empty batch');
  const [, H, W] = samples[0]!.kspace.shape as [number, number, number];
  for (const s of samples) {
    if (s.kspace.shape[1] !== H || s.kspace.shape[2] !== W) throw new Error(`a batch needs one image size: ${H}×${W} vs ${s.kspace.shape.slice(1).join('×')}`);
  }
  const ops = samples.map((s) => new SenseOp(s.maps, s.mask));
  const sets = ops[0]!.sets;
  if (ops.some((o) => o.sets !== sets)) throw new Error('a batch needs one number of map sets');
  const problem = makeDcProblem(ops, samples.map((s) => s.kspace.data));
  const n = 2 * sets * H * W;
  const scales = samples.map((_, b) => {
    const p = magnitudePercentile(problem.aty.subarray(b * n, (b + 1) * n), NORMALISATION.percentile);
    return p > 0 ? 1 / p : 1;
  });
  const aty = problem.aty; // normalised in place: the DC problem and the network input agree
  scales.forEach((s, b) => { for (let i = b * n; i < (b + 1) * n; i++) aty[i] *= s; });
  const B = samples.length;
  const atyT = tf.tensor4d(aty, [B * sets, H, W, 2]);
  let target: tf.Tensor4D | undefined;
  if (samples.every((s) => s.target && s.target.data.length === n)) {
    const t = new Float32Array(B * n);
    samples.forEach((s, b) => { for (let i = 0; i < n; i++) t[b * n + i] = s.target!.data[i]! * scales[b]!; });
    target = tf.tensor4d(t, [B * sets, H, W, 2]);
  }
  return {
    problem, aty: atyT, target, sets, scales, H, W,
    dispose() {
      problem.dispose();
      atyT.dispose();
      target?.dispose();
    },
  };
}

/** Splits a network output [B·S, H, W, 2] back into complex images ([H, W], or [S, H, W]) at the input's intensity. */
export function unbatch(x: tf.Tensor4D, scales: number[], sets = 1): CArray[] {
  const [, H, W] = x.shape;
  const d = x.dataSync() as Float32Array;
  const n = 2 * sets * H * W;
  return scales.map((scale, b) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = d[b * n + i]! / scale;
    return { data: out, shape: sets === 1 ? [H, W] : [sets, H, W] };
  });
}
