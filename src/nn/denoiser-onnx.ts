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
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import type { OnnxRuntime, OnnxSession } from '../backend/onnx-runtime.js';
import type { Denoiser } from './denoiser.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INTS = onnx.AttributeProto.AttributeType.INTS;
/** ONNX opset 13: Conv, Relu, Transpose and Add as used here are unchanged since. */
const OPSET = 13;

function node(opType: string, input: string[], output: string, ints: Record<string, number[]> = {}): Onnx.INodeProto {
  return { opType, input, output: [output], attribute: Object.entries(ints).map(([name, v]) => ({ name, type: INTS, ints: v })) };
}

function initializer(name: string, dims: number[], data: Float32Array): Onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function valueInfo(name: string): Onnx.IValueInfoProto {
  const dim = ['batch', 'height', 'width'].map((dimParam) => ({ dimParam }));
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: [...dim, { dimValue: 2 }] } } } };
}

/** The ONNX model (serialised ModelProto) of the denoiser's inference pass with the statistics of `slot`. */
export function denoiserOnnxModel(denoiser: Denoiser, slot: number): Uint8Array {
  const layers = denoiser.foldedLayers(slot);
  const nodes: Onnx.INodeProto[] = [node('Transpose', ['x'], 'h0', { perm: [0, 3, 1, 2] })];
  const initializers: Onnx.ITensorProto[] = [];
  let h = 'h0';
  layers.forEach(({ weight, bias, cin, cout }, i) => {
    initializers.push(initializer(`w${i}`, [cout, cin, 3, 3], weight), initializer(`b${i}`, [cout], bias));
    nodes.push(node('Conv', [h, `w${i}`, `b${i}`], `conv${i}`, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    h = `conv${i}`;
    if (i < layers.length - 1) {
      nodes.push(node('Relu', [h], `relu${i}`));
      h = `relu${i}`;
    }
  });
  nodes.push(node('Transpose', [h], 'residual', { perm: [0, 2, 3, 1] }), node('Add', ['x', 'residual'], 'y'));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'modl',
    graph: { name: `modl-denoiser-slot${slot}`, node: nodes, initializer: initializers, input: [valueInfo('x')], output: [valueInfo('y')] },
  });
  return onnx.ModelProto.encode(model).finish();
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
