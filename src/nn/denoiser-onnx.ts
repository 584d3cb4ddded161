/**
 * The MoDL denoiser's passes on ONNX Runtime (backend/onnx-runtime.ts), which
 * has no training API: a forward graph and a gradient graph written by hand
 * with standard operators, for both ways batch norm runs:
 *
 * - 'frozen' (inference, and fine-tuning in ModlMode 'tune'): batch norm at
 *   the slot's running statistics is folded into each convolution, w' = w·s,
 *   b' = β − μ·s (s = γ/√(σ² + ε), Denoiser.foldedLayers), so a pass is
 *   x [B, H, W, 2] → NCHW → (Conv 3×3 + bias → ReLU)×(depth−1) → Conv 3×3 + bias → NHWC → + x;
 *   the chain rule back to w, γ, β runs on the host:
 *   ∂w = ∂w'·s, ∂γ = (Σ ∂w'·w − ∂b'·μ)/√(σ² + ε), ∂β = ∂b'.
 * - 'batch' (training in ModlMode 'train'): conv → batch norm with the batch's
 *   statistics → ReLU; the forward graph also returns each layer's batch mean
 *   and variance for the running averages; the gradient graph has batch norm's
 *   backward, ∂a = (γ/σ_B)·(g − mean(g) − â·mean(g·â)).
 *
 * Each convolution's gradient is two convolution-shaped products:
 *   ∂h = Conv(g, w̃), w̃[i,o,kh,kw] = w[o,i,2−kh,2−kw]         (the input's gradient; a plain
 *        convolution runs MLAS's direct kernels, ConvTranspose a slower col2im)
 *   ∂w[o,i,kh,kw] = Σ_{b,y,x} g[b,o,y,x] · h_pad[b,i,y+kh,x+kw]   (nine Gemms over shifted windows of h)
 * The gradient graph recomputes the forward activations (as
 * Denoiser.applyRecomputed does), so an unrolled network keeps only each
 * stage's input. Weights are graph inputs (they change at every training
 * step; as initializers they were no faster for inference).
 */
import * as tf from '@tensorflow/tfjs-core';
import { onnxRuntime, type OnnxRuntime, type OnnxSession, type OnnxTensor } from '../backend/onnx-runtime.js';
import { floatTensor, floatValue, int64Tensor, node, onnxModel, type OnnxNode, type OnnxTensorProto } from '../backend/onnx-graph.js';
import type { Denoiser, FoldedLayer } from './denoiser.js';
import { foldVariants, isTrivial, overVariants, stackedShape, stackVariants } from './denoiser-symmetry.js';

/** The NHWC [B, H, W, 2] image tensor of the denoiser's graphs. */
const IMAGE_DIMS = ['batch', 'height', 'width', 2];

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

/** How batch norm runs: folded at the running statistics, or with each batch's (training). */
export type BatchNormMode = 'frozen' | 'batch';

/** Past any end: Slice's "to the end of the axis". */
const TO_END = 2 ** 53;
const BHW = [0, 2, 3];

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** Per layer: w, b (frozen) or w, γ, β (batch). */
const weightNames = (mode: BatchNormMode, i: number) => (mode === 'frozen' ? [`w${i}`, `b${i}`] : [`w${i}`, `gamma${i}`, `beta${i}`]);

/** Layer i in batch mode: c = conv(h, w); â = (c − μ_B)·r, r = 1/√(σ²_B + ε); a = γ·â + β (ReLU follows in the caller). */
function batchNormLayerNodes(i: number): OnnxNode[] {
  return [
    node('Conv', [`h${i}`, `w${i}`], `c${i}`, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    node('ReduceMean', [`c${i}`], `mean${i}`, { axes: BHW, keepdims: 1 }),
    node('Sub', [`c${i}`, `mean${i}`], `d${i}`),
    node('Mul', [`d${i}`, `d${i}`], `dd${i}`),
    node('ReduceMean', [`dd${i}`], `variance${i}`, { axes: BHW, keepdims: 1 }),
    node('Add', [`variance${i}`, 'epsilon'], `ve${i}`),
    node('Sqrt', [`ve${i}`], `sd${i}`),
    node('Reciprocal', [`sd${i}`], `r${i}`),
    node('Mul', [`d${i}`, `r${i}`], `xhat${i}`),
    node('Mul', [`xhat${i}`, `gamma${i}`], `xg${i}`),
    node('Add', [`xg${i}`, `beta${i}`], `a${i}`),
  ];
}

/** D(x): layer i reads h{i} and writes a{i} (before its ReLU), as denoiserNodes. */
function forwardNodes(mode: BatchNormMode, depth: number): OnnxNode[] {
  if (mode === 'frozen') return denoiserNodes(depth);
  const nodes = [node('Transpose', ['x'], 'h0', { perm: [0, 3, 1, 2] })];
  for (const i of range(depth)) {
    nodes.push(...batchNormLayerNodes(i));
    if (i < depth - 1) nodes.push(node('Relu', [`a${i}`], `h${i + 1}`));
  }
  nodes.push(node('Transpose', [`a${depth - 1}`], 'residual', { perm: [0, 2, 3, 1] }), node('Add', ['x', 'residual'], 'y'));
  return nodes;
}

function constants(): OnnxTensorProto[] {
  const c = [
    int64Tensor('pad_hw', [0, 0, 1, 1, 0, 0, 1, 1]), int64Tensor('rows', [0, -1]), int64Tensor('axes_hw', [2, 3]),
    int64Tensor('axis2', [2]), int64Tensor('oihw', [0, 0, 3, 3]), int64Tensor('axes_bhw', BHW),
    floatTensor('zero', [], new Float32Array(1)),
    // a kernel's taps reversed in both spatial axes
    int64Tensor('flip_from', [-1, -1]), int64Tensor('flip_to', [-TO_END, -TO_END]), int64Tensor('flip_steps', [-1, -1]),
  ];
  for (let t = 0; t < 9; t++) {
    const kh = Math.floor(t / 3), kw = t % 3;
    c.push(int64Tensor(`from${t}`, [kh, kw]), int64Tensor(`to${t}`, [kh === 2 ? TO_END : kh - 2, kw === 2 ? TO_END : kw - 2]));
  }
  return c;
}

/** ∂w_i [cout, cin, 3, 3] from the gradient g at the conv's output: Σ over batch and pixels of g times each shifted window of h_i. */
function weightGradientNodes(i: number, g: string): OnnxNode[] {
  const nodes = [
    node('Transpose', [`h${i}`], `hT${i}`, { perm: [1, 0, 2, 3] }), // [cin, B, H, W]
    node('Pad', [`hT${i}`, 'pad_hw'], `hP${i}`),
    node('Transpose', [g], `gT${i}`, { perm: [1, 0, 2, 3] }),
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

/** Batch norm's backward from g{i} (at a{i}): ∂γ, ∂β, and gc{i} at the conv's output. */
function batchNormGradientNodes(i: number): OnnxNode[] {
  return [
    node('ReduceSum', [`g${i}`, 'axes_bhw'], `dbeta${i}`, { keepdims: 0 }),
    node('Mul', [`g${i}`, `xhat${i}`], `gx${i}`),
    node('ReduceSum', [`gx${i}`, 'axes_bhw'], `dgamma${i}`, { keepdims: 0 }),
    node('Mul', [`g${i}`, `gamma${i}`], `ga${i}`),
    node('ReduceMean', [`ga${i}`], `gaMean${i}`, { axes: BHW, keepdims: 1 }),
    node('Mul', [`ga${i}`, `xhat${i}`], `gax${i}`),
    node('ReduceMean', [`gax${i}`], `gaxMean${i}`, { axes: BHW, keepdims: 1 }),
    node('Sub', [`ga${i}`, `gaMean${i}`], `gc1_${i}`),
    node('Mul', [`xhat${i}`, `gaxMean${i}`], `gc2_${i}`),
    node('Sub', [`gc1_${i}`, `gc2_${i}`], `gc3_${i}`),
    node('Mul', [`gc3_${i}`, `r${i}`], `gc${i}`),
  ];
}

function forwardModel(mode: BatchNormMode, depth: number, epsilon: number): Uint8Array {
  const stats = mode === 'batch' ? range(depth).flatMap((i) => [floatValue(`mean${i}`), floatValue(`variance${i}`)]) : [];
  return onnxModel({
    name: `modl-denoiser-forward-${mode}`, nodes: forwardNodes(mode, depth),
    initializers: mode === 'batch' ? [floatTensor('epsilon', [], new Float32Array([epsilon]))] : [],
    inputs: [floatValue('x', IMAGE_DIMS), ...range(depth).flatMap((i) => weightNames(mode, i).map((n) => floatValue(n)))],
    outputs: [floatValue('y', IMAGE_DIMS), ...stats],
  });
}

/** ∂⟨D(x), dy⟩ in x and each layer's weights (frozen: w', b'; batch: w, γ, β). */
function gradientModel(mode: BatchNormMode, depth: number, epsilon: number): Uint8Array {
  const nodes = forwardNodes(mode, depth).filter((n) => n.output![0] !== 'residual' && n.output![0] !== 'y');
  nodes.push(node('Transpose', ['dy'], `g${depth - 1}`, { perm: [0, 3, 1, 2] }));
  for (let i = depth - 1; i >= 0; i--) {
    // g{i}: the gradient at a{i}; gc: at the conv's output (the same in frozen mode, where a{i} is the conv's output)
    const gc = mode === 'frozen' ? `g${i}` : `gc${i}`;
    if (mode === 'frozen') nodes.push(node('ReduceSum', [`g${i}`, 'axes_bhw'], `db${i}`, { keepdims: 0 }));
    else nodes.push(...batchNormGradientNodes(i));
    nodes.push(
      ...weightGradientNodes(i, gc),
      node('Transpose', [`w${i}`], `wT${i}`, { perm: [1, 0, 2, 3] }),
      node('Slice', [`wT${i}`, 'flip_from', 'flip_to', 'axes_hw', 'flip_steps'], `wFlip${i}`),
      node('Conv', [gc, `wFlip${i}`], `dh${i}`, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    );
    if (i > 0) nodes.push(node('Greater', [`a${i - 1}`, 'zero'], `on${i - 1}`), node('Where', [`on${i - 1}`, `dh${i}`, 'zero'], `g${i - 1}`));
  }
  nodes.push(node('Transpose', ['dh0'], 'dhT', { perm: [0, 2, 3, 1] }), node('Add', ['dy', 'dhT'], 'dx'));
  return onnxModel({
    name: `modl-denoiser-gradient-${mode}`, nodes,
    initializers: [...constants(), ...(mode === 'batch' ? [floatTensor('epsilon', [], new Float32Array([epsilon]))] : [])],
    inputs: [floatValue('x', IMAGE_DIMS), floatValue('dy', IMAGE_DIMS), ...range(depth).flatMap((i) => weightNames(mode, i).map((n) => floatValue(n)))],
    outputs: [floatValue('dx', IMAGE_DIMS), ...range(depth).flatMap((i) => weightNames(mode, i).map((n) => floatValue(`d${n}`)))],
  });
}

/** Gradients of the denoiser's own weights, in the order of Denoiser.trainableVariables() ([kernel, γ, β] per layer). */
export class DenoiserGradients {
  readonly arrays: Float32Array[];

  constructor(layers: readonly { cin: number; cout: number }[]) {
    this.arrays = layers.flatMap((l) => [new Float32Array(9 * l.cin * l.cout), new Float32Array(l.cout), new Float32Array(l.cout)]);
  }

  /** Adds a frozen pass's gradients in the folded weights (∂w' [cout, cin, 3, 3], ∂b' [cout]), by the chain rule through `layers`. */
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

  /** Adds a batch-statistics pass's gradients (∂w [cout, cin, 3, 3], ∂γ, ∂β per layer). */
  addDirect(layers: readonly { cin: number; cout: number }[], dw: Float32Array[], dGamma: Float32Array[], dBeta: Float32Array[]): void {
    layers.forEach((l, n) => {
      const [dKernel, g, b] = this.arrays.slice(3 * n, 3 * n + 3) as [Float32Array, Float32Array, Float32Array];
      for (let o = 0; o < l.cout; o++) {
        for (let i = 0; i < l.cin; i++) for (let t = 0; t < 9; t++) dKernel[(t * l.cin + i) * l.cout + o] += dw[n]![(o * l.cin + i) * 9 + t]!;
        g[o] += dGamma[n]![o]!;
        b[o] += dBeta[n]![o]!;
      }
    });
  }

  /** As tensors shaped like `variables` (Denoiser.trainableVariables()). */
  tensors(variables: readonly tf.Variable[]): tf.Tensor[] {
    return this.arrays.map((a, i) => tf.tensor(a, variables[i]!.shape));
  }
}

type Image = { data: Float32Array; shape: readonly number[] };

/**
 * The denoiser D_slot(x) and its gradient on ONNX Runtime. Call
 * `readWeights()` after the weights change (every optimiser step). In 'batch' mode each forward
 * pass folds its batch statistics into the slot's running averages, as
 * Denoiser.applyRecomputed does in tfjs; the gradient pass does not.
 */
export class OnnxDenoiser {
  /** Graph inputs per slot: frozen, the folded weights of each slot; batch, one set for all. */
  private weights: { feeds: Record<string, OnnxTensor>; folded?: FoldedLayer[] }[] = [];

  /** The gradient graph's session, made at the first gradient pass (inference never needs it). */
  private gradient: Promise<OnnxSession> | undefined;

  private constructor(
    readonly mode: BatchNormMode, private readonly denoiser: Denoiser, private readonly ort: OnnxRuntime,
    private readonly forward: OnnxSession,
  ) {}

  static async create(denoiser: Denoiser, mode: BatchNormMode, ort: OnnxRuntime): Promise<OnnxDenoiser> {
    const { depth, epsilon } = denoiser.config;
    const t = new OnnxDenoiser(mode, denoiser, ort, await ort.session(forwardModel(mode, depth, epsilon)));
    t.readWeights();
    return t;
  }

  /** The passes on ONNX Runtime, or null where it is switched off or cannot be loaded (then tfjs runs them). */
  static async where(denoiser: Denoiser, mode: BatchNormMode): Promise<OnnxDenoiser | null> {
    const ort = await onnxRuntime();
    return ort ? OnnxDenoiser.create(denoiser, mode, ort) : null;
  }

  readWeights(): void {
    const tensor = (data: Float32Array, dims: number[]) => this.ort.tensor(data, dims);
    if (this.mode === 'frozen') {
      this.weights = range(this.denoiser.statsSlots).map((s) => {
        const folded = this.denoiser.foldedLayers(s);
        const feeds: Record<string, OnnxTensor> = {};
        folded.forEach((l, i) => {
          feeds[`w${i}`] = tensor(l.weight, [l.cout, l.cin, 3, 3]);
          feeds[`b${i}`] = tensor(l.bias, [l.cout]);
        });
        return { feeds, folded };
      });
      return;
    }
    const feeds: Record<string, OnnxTensor> = {};
    const vars = this.denoiser.trainableVariables();
    for (const i of range(vars.length / 3)) {
      const [kernel, gamma, beta] = vars.slice(3 * i, 3 * i + 3).map((v) => v.dataSync() as Float32Array) as [Float32Array, Float32Array, Float32Array];
      const [, , cin, cout] = vars[3 * i]!.shape as number[] as [number, number, number, number];
      const oihw = new Float32Array(kernel.length);
      for (let t = 0; t < 9; t++) for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) oihw[(o * cin + c) * 9 + t] = kernel[(t * cin + c) * cout + o]!;
      feeds[`w${i}`] = tensor(oihw, [cout, cin, 3, 3]);
      feeds[`gamma${i}`] = tensor(gamma, [1, cout, 1, 1]);
      feeds[`beta${i}`] = tensor(beta, [1, cout, 1, 1]);
    }
    this.weights = [{ feeds }];
  }

  private weightsOf(slot: number) {
    return this.weights[Math.min(Math.max(0, slot), this.weights.length - 1)]!;
  }

  private feeds(slot: number, images: Record<string, Image>): Record<string, OnnxTensor> {
    const feeds = { ...this.weightsOf(slot).feeds };
    for (const [name, { data, shape }] of Object.entries(images)) feeds[name] = this.ort.tensor(data, shape);
    return feeds;
  }

  private get depth(): number {
    return this.denoiser.config.depth;
  }

  /** D(x) for stage `slot`; x [B, H, W, 2] interleaved. */
  async apply(x: Float32Array, shape: readonly number[], slot: number): Promise<Float32Array> {
    return overVariants(x, shape, this.denoiser.groupAt(slot), async (data, dims) => {
      const out = await this.forward.run(this.feeds(slot, { x: { data, shape: dims } }));
      if (this.mode === 'batch') {
        const stats = range(this.depth).map((i) => ({ mean: out[`mean${i}`]!.data, variance: out[`variance${i}`]!.data }));
        this.denoiser.foldBatchStats(slot, stats, dims[0]! * dims[1]! * dims[2]!);
      }
      return out.y!.data;
    });
  }

  /** ∂⟨D(x), dy⟩/∂x, and the weights' gradient added to `into`. */
  async backward(x: Float32Array, dy: Float32Array, shape: readonly number[], slot: number, into: DenoiserGradients): Promise<Float32Array> {
    const group = this.denoiser.groupAt(slot), n = group.length;
    if (!isTrivial(group)) {
      // D_G's gradient: the variants' gradients with dy/|G| transformed alike, transformed back and summed
      const stacked = stackedShape(shape, group);
      const dx = await this.gradientPass(stackVariants(x, shape, group), stackVariants(dy, shape, group, 1 / n), stacked, slot, into);
      return foldVariants(dx, shape, group, 1);
    }
    return this.gradientPass(x, dy, shape, slot, into);
  }

  private async gradientPass(x: Float32Array, dy: Float32Array, shape: readonly number[], slot: number, into: DenoiserGradients): Promise<Float32Array> {
    const { depth, epsilon } = this.denoiser.config;
    this.gradient ??= this.ort.session(gradientModel(this.mode, depth, epsilon));
    const out = await (await this.gradient).run(this.feeds(slot, { x: { data: x, shape }, dy: { data: dy, shape } }));
    const per = (name: string) => range(this.depth).map((i) => out[`${name}${i}`]!.data);
    const layers = this.layerShapes();
    if (this.mode === 'frozen') into.addFolded(this.weightsOf(slot).folded!, per('dw'), per('db'));
    else into.addDirect(layers, per('dw'), per('dgamma'), per('dbeta'));
    return out.dx!.data;
  }

  private layerShapes(): { cin: number; cout: number }[] {
    const vars = this.denoiser.trainableVariables();
    return range(this.depth).map((i) => ({ cin: vars[3 * i]!.shape[2]!, cout: vars[3 * i]!.shape[3]! }));
  }

  /** A zero gradient of the denoiser's weights. */
  zeroGradients(): DenoiserGradients {
    return new DenoiserGradients(this.layerShapes());
  }

  async dispose(): Promise<void> {
    const gradient = this.gradient;
    this.gradient = undefined;
    await Promise.all([this.forward.release(), gradient?.then((g) => g.release(), () => {})]);
  }
}
