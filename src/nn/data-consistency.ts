/**
 * MoDL's data-consistency layer as a tfjs op with a closed-form gradient:
 *
 *   x = DC(z, λ) = (AᴴA + λI)⁻¹ (Aᴴy + λz)
 *
 * solved by conjugate gradient with the physics SENSE operator, per sample
 * (each slice of the batch has its own maps, mask and step sizes). With
 * M = AᴴA + λI self-adjoint and w = M⁻¹ g for the incoming gradient g:
 *
 *   ∂L/∂z = λ w,    ∂L/∂λ = Re⟨w, z − x⟩   (from M dx = (z − x) dλ + λ dz)
 *
 * so the backward pass is one more CG solve, and memory does not grow with the
 * number of CG iterations (nothing of the forward iterations is kept).
 *
 * The image lives on the coil support (pixels where Σ|S_c|² > 0), as in SENSE
 * and BART's pics: outside it AᴴA = 0, so the solve would return the denoiser's
 * output there unchanged, an invention no measurement constrains. z is
 * projected onto the support first (z ← Pz), which makes x zero outside it;
 * the gradients above then hold with Pz for z and ∂L/∂z = λPw. Maps that are
 * non-zero everywhere (simulated birdcage coils) make P the identity.
 *
 * Tensors are [B, H, W, 2] float32 (real, imaginary channels): exactly the
 * interleaved complex layout of the physics code, so no data is reordered.
 * With S ESPIRiT map sets (soft-SENSE) each sample is S images, and the
 * tensors are [B·S, H, W, 2]: the network treats every map image alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conjugateGradient } from '../physics/cg.js';
import type { SenseBatch, SenseOp } from '../physics/sense.js';
import { senseBatch } from '../physics/sense-parallel.js';

/** The fixed part of the DC step for one batch: the SENSE operator and Aᴴy. Dispose when the batch is done. */
export interface DcProblem {
  /** The batch's SENSE operator (one per sample, each with its own maps and mask); CG uses its AᴴA, multi-threaded. */
  A: SenseBatch;
  /** Aᴴy for every sample, [B, H, W] interleaved complex. */
  aty: Float32Array;
  /** 1 on the coil support, 0 outside, [B, H, W]; null when the maps cover every pixel. */
  support: Float32Array | null;
  dispose(): void;
}

export interface DcOptions {
  /** CG iterations (MoDL: 10). */
  iterations: number;
  /** Optional early stop on the relative residual (0: always `iterations`). */
  tol?: number;
}

export function makeDcProblem(ops: SenseOp[], kspace: Float32Array[]): DcProblem {
  const A = senseBatch(ops);
  const aty = new Float32Array(2 * A.batch * A.sampleSize);
  A.adjoint(kspace, aty);
  return { A, aty, support: coilSupport(ops), dispose: () => A.dispose() };
}

/** Where Σ_c |S_{s,c}|² > 0, per sample and map set, or null when that is everywhere. */
function coilSupport(ops: SenseOp[]): Float32Array | null {
  const n = ops[0]!.H * ops[0]!.W;
  const planes = ops[0]!.sets;
  const support = new Float32Array(ops.length * planes * n);
  let full = true;
  ops.forEach((op, b) => {
    const m = op.maps.data;
    for (let s = 0; s < planes; s++) {
      const base = s * op.coils * n, at = (b * planes + s) * n;
      for (let i = 0; i < n; i++) {
        let e = 0;
        for (let c = 0; c < op.coils; c++) e += m[2 * (base + c * n + i)]! ** 2 + m[2 * (base + c * n + i) + 1]! ** 2;
        support[at + i] = e > 0 ? 1 : 0;
        if (e === 0) full = false;
      }
    }
  });
  return full ? null : support;
}

/** x ← Px in place (complex interleaved), when there is a support. */
function project(x: Float32Array, support: Float32Array | null): Float32Array {
  if (support) for (let i = 0; i < support.length; i++) if (support[i] === 0) x[2 * i] = x[2 * i + 1] = 0;
  return x;
}

/** Solves (AᴴA + λI) x = rhs for the batch; x starts from x0 when given. */
function solve(problem: DcProblem, rhs: Float32Array, lambda: number, opts: DcOptions, x0?: Float32Array): Float32Array {
  return conjugateGradient(problem.A, rhs, {
    lambda, maxIter: opts.iterations, tol: opts.tol ?? 0, x0,
  }).x;
}

/** The DC step's forward pass on plain arrays: the projected input Pz and x = (AᴴA + λI)⁻¹(Aᴴy + λPz). */
export function dcForward(z: Float32Array, lambda: number, problem: DcProblem, opts: DcOptions): { z: Float32Array; x: Float32Array } {
  if (z.length !== problem.aty.length) {
    throw new Error(`DC: input of ${z.length / 2} complex values, the problem has ${problem.aty.length / 2}`);
  }
  const zP = project(z.slice(), problem.support);
  const rhs = new Float32Array(zP.length);
  for (let i = 0; i < rhs.length; i++) rhs[i] = problem.aty[i]! + lambda * zP[i]!;
  return { z: zP, x: solve(problem, rhs, lambda, opts, zP) };
}

/** The DC step's backward pass: ∂L/∂z and ∂L/∂λ from the incoming gradient g = ∂L/∂x and dcForward's Pz and x. */
export function dcBackward(g: Float32Array, fwd: { z: Float32Array; x: Float32Array }, lambda: number, problem: DcProblem, opts: DcOptions): { dz: Float32Array; dLambda: number } {
  const w = project(solve(problem, g, lambda, opts), problem.support);
  let dLambda = 0;
  const dz = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) {
    dz[i] = lambda * w[i]!;
    dLambda += w[i]! * (fwd.z[i]! - fwd.x[i]!);
  }
  return { dz, dLambda };
}

/**
 * The DC op: x = (AᴴA + λI)⁻¹(Aᴴy + λz), differentiable in z [B, H, W, 2] and
 * the scalar λ. The forward CG starts from z, the natural guess (MoDL's z is
 * close to a data-consistent image), which changes nothing at convergence.
 */
export function dataConsistency(z: tf.Tensor4D, lambda: tf.Scalar, problem: DcProblem, opts: DcOptions): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [zIn, lamIn, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const lam = lamIn.dataSync()[0]!;
    const fwd = dcForward(zIn.dataSync() as Float32Array, lam, problem, opts);
    const x = tf.tensor(fwd.x, zIn.shape, 'float32');
    save([tf.tensor(fwd.z, zIn.shape, 'float32'), lamIn, x]);
    return {
      value: x,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [zS, lamS, xS] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const forward = { z: zS.dataSync() as Float32Array, x: xS.dataSync() as Float32Array };
        const { dz, dLambda } = dcBackward(dy.dataSync() as Float32Array, forward, lamS.dataSync()[0]!, problem, opts);
        return [tf.tensor(dz, zS.shape, 'float32'), tf.scalar(dLambda)];
      },
    };
  });
  return op(z, lambda) as tf.Tensor4D;
}
