/**
 * MoDL's K stages with the denoiser on ONNX Runtime (nn/denoiser-onnx.ts) and
 * the DC steps in modl's own kernels: inference (batch norm frozen: the same
 * function as Modl.apply(…, 'infer')), and a training step's loss and
 * gradients, batch norm frozen (ModlMode 'tune') or with batch statistics
 * ('train'), as the OnnxDenoiser was made. Its passes are asynchronous, which
 * tfjs's tape cannot hold, so the reverse mode through the unrolled network is
 * written out, stage by stage, with the DC step and DC gradient of the tfjs op:
 *
 *   forward:  z_k = D_k(x_{k−1}),  x_k = DC(z_k, λ)        k = 1…K, x_0 = Aᴴy
 *   backward: g = ∂L/∂x_K;  for k = K…1:  (g_z, ∂λ_k) = DC_kᵀ g,  g = D_k'(x_{k−1})ᵀ g_z
 *
 * keeping each stage's input, Pz_k and x_k (the denoiser's activations are
 * recomputed in its gradient pass). The result equals tf.variableGrads of
 * Modl.apply(…, 'tune' or 'train') to float32 round-off, and in 'train' mode
 * the running statistics are updated as that pass updates them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dcBackward, dcForward, type DcOptions, type DcProblem } from './data-consistency.js';
import type { OnnxDenoiser } from './denoiser-onnx.js';
import type { Modl } from './modl.js';

export interface UnrolledGradients {
  loss: number;
  /** In the order of Modl.trainableVariables (the denoiser's, then log λ). */
  grads: tf.Tensor[];
}

/** The network's output, and what the backward pass needs: each stage's input x_{k−1}, and its DC step's Pz_k and x_k. */
interface Unrolled { output: Float32Array; inputs: Float32Array[]; steps: { z: Float32Array; x: Float32Array }[] }

/** What the forward pass needs of a denoiser: D_slot(x) for x [B, H, W, 2] interleaved (OnnxDenoiser, Int8Denoiser). */
export interface DenoiserPass {
  apply(x: Float32Array, shape: readonly number[], slot: number): Promise<Float32Array>;
}

/** The K stages on a batch: `aty` [B, H, W, 2] is the normalised Aᴴy (PreparedBatch). */
export async function unrolledForward(model: Modl, net: DenoiserPass, aty: tf.Tensor4D, problem: DcProblem): Promise<Unrolled> {
  const dc: DcOptions = { iterations: model.cgIterations };
  const inputs: Float32Array[] = [aty.dataSync() as Float32Array];
  const steps: Unrolled['steps'] = [];
  for (let k = 0; k < model.stages; k++) {
    const step = dcForward(await net.apply(inputs[k]!, aty.shape, k), model.lambda, problem, dc);
    steps.push(step);
    inputs.push(step.x);
  }
  return { output: inputs.pop()!, inputs, steps };
}

export async function unrolledGradients(
  model: Modl, net: OnnxDenoiser, aty: tf.Tensor4D, problem: DcProblem, loss: (x: tf.Tensor4D) => tf.Scalar,
): Promise<UnrolledGradients> {
  const { output, inputs, steps } = await unrolledForward(model, net, aty, problem);
  const out = tf.tensor4d(output, aty.shape);
  const { value, grad } = tf.valueAndGrad(loss)(out);
  let g = grad.dataSync() as Float32Array;
  const lossValue = value.dataSync()[0]!;
  tf.dispose([out, value, grad]);

  const lambda = model.lambda, dc: DcOptions = { iterations: model.cgIterations };
  const denoiser = net.zeroGradients();
  let dLambda = 0;
  for (let k = model.stages - 1; k >= 0; k--) {
    const back = dcBackward(g, steps[k]!, lambda, problem, dc);
    dLambda += back.dLambda;
    g = await net.backward(inputs[k]!, back.dz, aty.shape, k, denoiser);
  }
  const grads = denoiser.tensors(model.trainableVariables.slice(0, -1));
  grads.push(tf.scalar(dLambda * lambda)); // ∂L/∂log λ
  return { loss: lossValue, grads };
}
