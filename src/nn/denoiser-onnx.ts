/**
 * The MoDL denoiser's inference pass on ONNX Runtime (backend/onnx-runtime.ts):
 * one small ONNX graph per batch-norm statistics slot (= unrolled stage), with
 * batch norm folded into the convolutions (Denoiser.foldedLayers):
 *
 *   x [B, H, W, 2] → NCHW → (Conv 3×3 + bias → ReLU)×(depth−1) → Conv 3×3 + bias → NHWC → + x
 *
 * the same function as Denoiser.apply(x, false, { slot }), to float32 round-off.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OnnxRuntime, OnnxSession } from '../backend/onnx-runtime.js';
import { floatTensor, floatValue, node, onnxModel, type OnnxNode } from '../backend/onnx-graph.js';
import type { Denoiser } from './denoiser.js';

/** The NHWC [B, H, W, 2] image tensor of the denoiser's graphs. */
export const IMAGE_DIMS = ['batch', 'height', 'width', 2];

/**
 * The nodes of D(x) for `depth` layers with weights `w{i}` [cout, cin, 3, 3] and
 * biases `b{i}`: input `x`, output `y`. Layer i reads `h{i}` (NCHW) and writes
 * `a{i}` before its ReLU (the gradient graph reuses these names).
 */
export function denoiserNodes(depth: number): OnnxNode[] {
  const nodes = [node('Transpose', ['x'], 'h0', { perm: [0, 3, 1, 2] })];
  for (let i = 0; i < depth; i++) {
    nodes.push(node('Conv', [`h${i}`, `w${i}`, `b${i}`], `a${i}`, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    if (i < depth - 1) nodes.push(node('Relu', [`a${i}`], `h${i + 1}`));
  }
  nodes.push(node('Transpose', [`a${depth - 1}`], 'residual', { perm: [0, 2, 3, 1] }), node('Add', ['x', 'residual'], 'y'));
  return nodes;
}

/** The ONNX model (serialised ModelProto) of the denoiser's inference pass with the statistics of `slot`. */
export function denoiserOnnxModel(denoiser: Denoiser, slot: number): Uint8Array {
  const layers = denoiser.foldedLayers(slot);
  return onnxModel({
    name: `modl-denoiser-slot${slot}`,
    nodes: denoiserNodes(layers.length),
    initializers: layers.flatMap(({ weight, bias, cin, cout }, i) => [floatTensor(`w${i}`, [cout, cin, 3, 3], weight), floatTensor(`b${i}`, [cout], bias)]),
    inputs: [floatValue('x', IMAGE_DIMS)],
    outputs: [floatValue('y', IMAGE_DIMS)],
  });
}

/** The denoiser's inference pass for each of `slots` stages, on ONNX Runtime. */
export class OnnxDenoiser {
  private constructor(private readonly ort: OnnxRuntime, private readonly sessions: OnnxSession[]) {}

  static async create(denoiser: Denoiser, slots: number, ort: OnnxRuntime): Promise<OnnxDenoiser> {
    const sessions: OnnxSession[] = [];
    try {
      for (let s = 0; s < slots; s++) sessions.push(await ort.session(denoiserOnnxModel(denoiser, s)));
    } catch (e) {
      await Promise.all(sessions.map((x) => x.release()));
      throw e;
    }
    return new OnnxDenoiser(ort, sessions);
  }

  /** D(x) with the statistics of `slot`, x [B, H, W, 2]. */
  async apply(x: tf.Tensor4D, slot: number): Promise<tf.Tensor4D> {
    const session = this.sessions[Math.min(slot, this.sessions.length - 1)]!;
    const { y } = await session.run({ x: this.ort.tensor(x.dataSync() as Float32Array, x.shape) });
    return tf.tensor4d(y!.data, x.shape);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}
