/**
 * The denoiser's training passes on ONNX Runtime, for fine-tuning with batch
 * norm frozen at its running statistics (ModlMode 'tune'): then each layer is
 * a convolution with folded weights w' = w·s and bias b' = β − μ·s
 * (s = γ/√(σ² + ε), Denoiser.foldedLayers), and its gradient is three
 * convolution-shaped products that ONNX expresses with standard operators:
 *
 *   ∂L/∂h   = ConvTranspose(g, w')                (the input's gradient)
 *   ∂L/∂w'  = Σ_{b,y,x} g[b,o,y,x] · h_pad[b,i,y+kh,x+kw]   (nine Gemms over shifted windows of h)
 *   ∂L/∂b'  = Σ_{b,y,x} g[b,o,y,x]
 *
 * with g the gradient at the layer's output, masked by ReLU' below the last
 * layer. The gradient graph recomputes the forward activations (as
 * Denoiser.applyRecomputed does), so an unrolled network keeps only each
 * stage's input. The chain rule from (w', b') back to the layer's own w, γ, β
 * runs here on the host: ∂w = ∂w'·s, ∂γ = (Σ ∂w'·w − ∂b'·μ)/√(σ² + ε), ∂β = ∂b'.
 *
 * Weights are graph inputs, not initializers: they change at every step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { onnxRuntime, type OnnxRuntime, type OnnxSession, type OnnxTensor } from '../backend/onnx-runtime.js';
import { floatTensor, floatValue, int64Tensor, node, onnxModel, type OnnxNode, type OnnxTensorProto } from '../backend/onnx-graph.js';
import { denoiserNodes, IMAGE_DIMS } from './denoiser-onnx.js';
import type { Denoiser, FoldedLayer } from './denoiser.js';

/** Past any end: Slice's "to the end of the axis". */
const TO_END = 2 ** 53;

const weightInputs = (depth: number) =>
  Array.from({ length: depth }, (_, i) => [floatValue(`w${i}`), floatValue(`b${i}`)]).flat();

/** D(x) with the folded weights as inputs. */
function forwardModel(depth: number): Uint8Array {
  return onnxModel({
    name: 'modl-denoiser-forward', nodes: denoiserNodes(depth),
    inputs: [floatValue('x', IMAGE_DIMS), ...weightInputs(depth)], outputs: [floatValue('y', IMAGE_DIMS)],
  });
}

/** The nodes of ∂L/∂w'_i: Σ over batch and pixels of g_i times each of the nine shifted windows of h_i. */
function weightGradientNodes(i: number): OnnxNode[] {
  const nodes = [
    node('Transpose', [`h${i}`], `hT${i}`, { perm: [1, 0, 2, 3] }), // [cin, B, H, W]
    node('Pad', [`hT${i}`, 'pad_hw'], `hP${i}`),
    node('Transpose', [`g${i}`], `gT${i}`, { perm: [1, 0, 2, 3] }),
    node('Reshape', [`gT${i}`, 'rows'], `gR${i}`), // [cout, B·H·W]
  ];
  const taps: string[] = [];
  for (let t = 0; t < 9; t++) {
    const tap = `${i}_${t}`;
    nodes.push(
      node('Slice', [`hP${i}`, `from${t}`, `to${t}`, 'axes_hw'], `hS${tap}`),
      node('Reshape', [`hS${tap}`, 'rows'], `hR${tap}`), // [cin, B·H·W]
      node('Gemm', [`gR${i}`, `hR${tap}`], `dwT${tap}`, { transB: 1 }), // [cout, cin]
      node('Unsqueeze', [`dwT${tap}`, 'axis2'], `dwU${tap}`),
    );
    taps.push(`dwU${tap}`);
  }
  nodes.push(node('Concat', taps, `dwC${i}`, { axis: 2 }), node('Reshape', [`dwC${i}`, 'oihw'], `dw${i}`));
  return nodes;
}

/** ∂L/∂x, ∂L/∂w'_i, ∂L/∂b'_i of ⟨D(x), dy⟩ with the folded weights as inputs. */
function gradientModel(depth: number): Uint8Array {
  const constants: OnnxTensorProto[] = [
    int64Tensor('pad_hw', [0, 0, 1, 1, 0, 0, 1, 1]), int64Tensor('rows', [0, -1]), int64Tensor('axes_hw', [2, 3]),
    int64Tensor('axis2', [2]), int64Tensor('oihw', [0, 0, 3, 3]), int64Tensor('axes_bhw', [0, 2, 3]),
    floatTensor('zero', [], new Float32Array(1)),
  ];
  for (let t = 0; t < 9; t++) {
    const kh = Math.floor(t / 3), kw = t % 3;
    constants.push(int64Tensor(`from${t}`, [kh, kw]), int64Tensor(`to${t}`, [kh === 2 ? TO_END : kh - 2, kw === 2 ? TO_END : kw - 2]));
  }
  const nodes = denoiserNodes(depth).filter((n) => n.output![0] !== 'residual' && n.output![0] !== 'y');
  nodes.push(node('Transpose', ['dy'], `g${depth - 1}`, { perm: [0, 3, 1, 2] }));
  for (let i = depth - 1; i >= 0; i--) {
    nodes.push(node('ReduceSum', [`g${i}`, 'axes_bhw'], `db${i}`, { keepdims: 0 }), ...weightGradientNodes(i));
    nodes.push(node('ConvTranspose', [`g${i}`, `w${i}`], `dh${i}`, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    if (i > 0) nodes.push(node('Greater', [`a${i - 1}`, 'zero'], `on${i - 1}`), node('Where', [`on${i - 1}`, `dh${i}`, 'zero'], `g${i - 1}`));
  }
  nodes.push(node('Transpose', ['dh0'], 'dhT', { perm: [0, 2, 3, 1] }), node('Add', ['dy', 'dhT'], 'dx'));
  return onnxModel({
    name: 'modl-denoiser-gradient', nodes, initializers: constants,
    inputs: [floatValue('x', IMAGE_DIMS), floatValue('dy', IMAGE_DIMS), ...weightInputs(depth)],
    outputs: [floatValue('dx', IMAGE_DIMS), ...Array.from({ length: depth }, (_, i) => [floatValue(`dw${i}`), floatValue(`db${i}`)]).flat()],
  });
}

/** Gradients of the denoiser's own weights, in the order of Denoiser.trainableVariables() ([kernel, γ, β] per layer). */
export class DenoiserGradients {
  readonly arrays: Float32Array[];

  constructor(layers: readonly FoldedLayer[]) {
    this.arrays = layers.flatMap((l) => [new Float32Array(l.kernel.length), new Float32Array(l.cout), new Float32Array(l.cout)]);
  }

  /** Adds the chain rule of one pass's folded-weight gradients (dw' [cout, cin, 3, 3], db' [cout]) through `layers`. */
  addFolded(layers: readonly FoldedLayer[], dw: Float32Array[], db: Float32Array[]): void {
    layers.forEach((l, n) => {
      const [dKernel, dGamma, dBeta] = this.arrays.slice(3 * n, 3 * n + 3) as [Float32Array, Float32Array, Float32Array];
      const dwn = dw[n]!, dbn = db[n]!;
      for (let o = 0; o < l.cout; o++) {
        let dScale = -dbn[o]! * l.mean[o]!;
        for (let i = 0; i < l.cin; i++) {
          for (let t = 0; t < 9; t++) {
            const g = dwn[(o * l.cin + i) * 9 + t]!, at = (t * l.cin + i) * l.cout + o;
            dKernel[at] += g * l.scale[o]!;
            dScale += g * l.kernel[at]!;
          }
        }
        dGamma[o] += dScale * l.invStd[o]!;
        dBeta[o] += dbn[o]!;
      }
    });
  }
}

/**
 * The frozen-statistics denoiser D_slot(x) and its gradient on ONNX Runtime.
 * `foldWeights()` reads the current weights (call it after every optimiser step).
 */
export class OnnxDenoiserTraining {
  private folded: FoldedLayer[][] = [];

  private constructor(
    private readonly denoiser: Denoiser, private readonly ort: OnnxRuntime,
    private readonly forward: OnnxSession, private readonly gradient: OnnxSession,
  ) {}

  static async create(denoiser: Denoiser, ort: OnnxRuntime): Promise<OnnxDenoiserTraining> {
    const depth = denoiser.config.depth;
    const forward = await ort.session(forwardModel(depth));
    const gradient = await ort.session(gradientModel(depth)).catch(async (e: unknown) => {
      await forward.release();
      throw e;
    });
    const t = new OnnxDenoiserTraining(denoiser, ort, forward, gradient);
    t.foldWeights();
    return t;
  }

  /** The training passes on ONNX Runtime, or null where it is switched off or cannot be loaded (then tfjs trains). */
  static async where(denoiser: Denoiser): Promise<OnnxDenoiserTraining | null> {
    const ort = await onnxRuntime();
    return ort ? OnnxDenoiserTraining.create(denoiser, ort) : null;
  }

  foldWeights(): void {
    this.folded = Array.from({ length: this.denoiser.statsSlots }, (_, s) => this.denoiser.foldedLayers(s));
  }

  private layers(slot: number): FoldedLayer[] {
    return this.folded[Math.min(Math.max(0, slot), this.folded.length - 1)]!;
  }

  private feeds(slot: number, images: Record<string, { data: Float32Array; shape: readonly number[] }>): Record<string, OnnxTensor> {
    const feeds: Record<string, OnnxTensor> = {};
    for (const [name, { data, shape }] of Object.entries(images)) feeds[name] = this.ort.tensor(data, shape);
    this.layers(slot).forEach((l, i) => {
      feeds[`w${i}`] = this.ort.tensor(l.weight, [l.cout, l.cin, 3, 3]);
      feeds[`b${i}`] = this.ort.tensor(l.bias, [l.cout]);
    });
    return feeds;
  }

  /** D(x) with the running statistics of `slot`; x [B, H, W, 2] interleaved. */
  async apply(x: Float32Array, shape: readonly number[], slot: number): Promise<Float32Array> {
    return (await this.forward.run(this.feeds(slot, { x: { data: x, shape } }))).y!.data;
  }

  /** ∂⟨D(x), dy⟩/∂x, and the weights' gradient added to `into`. */
  async backward(x: Float32Array, dy: Float32Array, shape: readonly number[], slot: number, into: DenoiserGradients): Promise<Float32Array> {
    const out = await this.gradient.run(this.feeds(slot, { x: { data: x, shape }, dy: { data: dy, shape } }));
    const layers = this.layers(slot);
    into.addFolded(layers, layers.map((_, i) => out[`dw${i}`]!.data), layers.map((_, i) => out[`db${i}`]!.data));
    return out.dx!.data;
  }

  /** A zero gradient of the denoiser's weights. */
  zeroGradients(): DenoiserGradients {
    return new DenoiserGradients(this.layers(0));
  }

  /** The gradients as tensors shaped like Denoiser.trainableVariables(). */
  static tensors(g: DenoiserGradients, variables: readonly tf.Variable[]): tf.Tensor[] {
    return g.arrays.map((a, i) => tf.tensor(a, variables[i]!.shape));
  }

  async dispose(): Promise<void> {
    await Promise.all([this.forward.release(), this.gradient.release()]);
  }
}
