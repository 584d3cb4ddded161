/**
 * The denoiser's inference pass with its hidden convolutions in 8-bit integers
 * on ONNX Runtime (static post-training quantisation, as ONNX Runtime's
 * quantize_static writes it, in QLinearConv form):
 *
 *   x → Conv₀ (float) → ReLU → h₁ → quantise → [QLinearConv → ReLU]×(depth−2) → dequantise → h_{d−1} → Conv_{d−1} (float) → + x
 *
 * The hidden activations h_i (i = 1…depth−1) follow a ReLU, so each is stored
 * as uint8 with zero point 0 and scale max_i/255, where max_i is the largest
 * value it took on calibration data (Int8Calibration; per stage slot, since
 * each slot folds its own batch-norm statistics into the weights). A uint8
 * output with zero point 0 clamps at 0, which is the ReLU. Weights are int8 per
 * output channel, symmetric, in ±63 rather than ±127 (ONNX Runtime's
 * "reduce range"): on x86 CPUs without VNNI, MLAS sums pairs of u8·s8 products
 * in 16 bits, which 255·127·2 would overflow and 255·63·2 does not. The first
 * layer (2 input channels, signed) and the last (the residual, no ReLU) stay
 * float32; they are 2 % of the pass's arithmetic (5×64).
 */
import { onnxRuntime, type OnnxRuntime, type OnnxSession, type OnnxTensor } from '../backend/onnx-runtime.js';
import { floatTensor, floatValue, int32Tensor, int8Tensor, node, onnxModel, uint8Tensor, type OnnxNode, type OnnxTensorProto } from '../backend/onnx-graph.js';
import { ModlError } from '../util/errors.js';
import { denoiserNodes } from './denoiser-onnx.js';
import type { Denoiser, FoldedLayer } from './denoiser.js';
import { overVariants } from './denoiser-symmetry.js';
import type { DenoiserPass } from './modl-onnx.js';

/** Activation ranges for int8 inference of one set of weights. */
export interface Int8Calibration {
  /** Per stage slot, the largest value of each hidden activation h₁…h_{depth−1} over the calibration passes. */
  activationMax: number[][];
}

/** Weight levels each side of zero (7 bits: see the header). */
const WEIGHT_LEVELS = 63;
const CONV = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] };

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Per-output-channel symmetric int8 weights w ≈ q·scale[o] of a folded layer. */
export function quantiseWeights(l: FoldedLayer): { q: Int8Array; scale: Float32Array } {
  const per = l.cin * 9, q = new Int8Array(l.weight.length), scale = new Float32Array(l.cout);
  for (let o = 0; o < l.cout; o++) {
    let m = 0;
    for (let k = 0; k < per; k++) m = Math.max(m, Math.abs(l.weight[o * per + k]!));
    scale[o] = m > 0 ? m / WEIGHT_LEVELS : 1;
    for (let k = 0; k < per; k++) q[o * per + k] = Math.round(l.weight[o * per + k]! / scale[o]!);
  }
  return { q, scale };
}

function int8Model(layers: FoldedLayer[], activationMax: number[]): Uint8Array {
  const depth = layers.length;
  const scale = (i: number) => Math.max(activationMax[i - 1]!, 1e-6) / 255; // of h_i
  const inits: OnnxTensorProto[] = [uint8Tensor('zero_point', [], new Uint8Array(1))];
  for (const i of range(depth - 1)) inits.push(floatTensor(`s${i + 1}`, [], Float32Array.of(scale(i + 1))));
  const floatLayer = (i: number, input: string, output: string): OnnxNode => {
    inits.push(floatTensor(`w${i}`, [layers[i]!.cout, layers[i]!.cin, 3, 3], layers[i]!.weight), floatTensor(`b${i}`, [layers[i]!.cout], layers[i]!.bias));
    return node('Conv', [input, `w${i}`, `b${i}`], output, CONV);
  };
  const nodes: OnnxNode[] = [
    node('Transpose', ['x'], 'h0', { perm: [0, 3, 1, 2] }),
    floatLayer(0, 'h0', 'a0'), node('Relu', ['a0'], 'h1'),
    node('QuantizeLinear', ['h1', 's1', 'zero_point'], 'q1'),
  ];
  for (let i = 1; i < depth - 1; i++) {
    const l = layers[i]!, w = quantiseWeights(l);
    const bias = Int32Array.from(l.bias, (b, o) => Math.round(b / (scale(i) * w.scale[o]!)));
    inits.push(int8Tensor(`wq${i}`, [l.cout, l.cin, 3, 3], w.q), floatTensor(`ws${i}`, [l.cout], w.scale),
      int8Tensor(`wz${i}`, [l.cout], new Int8Array(l.cout)), int32Tensor(`bq${i}`, [l.cout], bias));
    nodes.push(node('QLinearConv', [`q${i}`, `s${i}`, 'zero_point', `wq${i}`, `ws${i}`, `wz${i}`, `s${i + 1}`, 'zero_point', `bq${i}`], `q${i + 1}`, CONV));
  }
  const last = depth - 1;
  nodes.push(
    node('DequantizeLinear', [`q${last}`, `s${last}`, 'zero_point'], `h${last}`),
    floatLayer(last, `h${last}`, 'residual_nchw'),
    node('Transpose', ['residual_nchw'], 'residual', { perm: [0, 2, 3, 1] }), node('Add', ['x', 'residual'], 'y'),
  );
  // the weights are constants: ONNX Runtime packs them once per session
  return onnxModel({ name: 'modl-denoiser-int8', nodes, initializers: inits, inputs: [floatValue('x')], outputs: [floatValue('y')] });
}

/** The denoiser's inference passes with int8 hidden convolutions, one session per stage slot. */
export class Int8Denoiser implements DenoiserPass {
  private constructor(private readonly denoiser: Denoiser, private readonly sessions: OnnxSession[], private readonly ort: OnnxRuntime) {}

  static async create(denoiser: Denoiser, calibration: Int8Calibration): Promise<Int8Denoiser> {
    const ort = await requireOnnxRuntime();
    const { depth } = denoiser.config;
    if (depth < 3) throw new ModlError(`int8 inference needs a denoiser of at least 3 layers, this one has ${depth}`);
    if (calibration.activationMax.length !== denoiser.statsSlots || calibration.activationMax.some((m) => m.length !== depth - 1)) {
      throw new ModlError(`the int8 calibration is for another network (${calibration.activationMax.length} stage slots; this one has ${denoiser.statsSlots} of ${depth - 1} activations)`);
    }
    const sessions: OnnxSession[] = [];
    try {
      for (const slot of range(denoiser.statsSlots)) sessions.push(await ort.session(int8Model(denoiser.foldedLayers(slot), calibration.activationMax[slot]!), { runsOnce: true }));
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw e;
    }
    return new Int8Denoiser(denoiser, sessions, ort);
  }

  apply(x: Float32Array, shape: readonly number[], slot: number): Promise<Float32Array> {
    const session = this.sessions[this.denoiser.statsSlotOf(slot)]!;
    return overVariants(x, shape, this.denoiser.groupAt(slot), async (data, dims) => (await session.run({ x: this.ort.tensor(data, dims) })).y!.data);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}

/**
 * The float32 inference pass that also records, per stage slot, the largest
 * value of each hidden activation: run the network over calibration scans with
 * it, then `calibration()`.
 */
export class Int8Calibrator implements DenoiserPass {
  private readonly max: number[][];
  /** Each slot's folded weights as graph inputs (the weights do not change while it runs). */
  private readonly weights: Record<string, OnnxTensor>[];

  private constructor(private readonly denoiser: Denoiser, private readonly session: OnnxSession, private readonly ort: OnnxRuntime) {
    this.max = range(denoiser.statsSlots).map(() => new Array<number>(denoiser.config.depth - 1).fill(0));
    this.weights = range(denoiser.statsSlots).map((s) => Object.fromEntries(denoiser.foldedLayers(s).flatMap((l, i) => [
      [`w${i}`, ort.tensor(l.weight, [l.cout, l.cin, 3, 3])], [`b${i}`, ort.tensor(l.bias, [l.cout])],
    ])));
  }

  static async create(denoiser: Denoiser): Promise<Int8Calibrator> {
    const ort = await requireOnnxRuntime();
    const { depth } = denoiser.config;
    const nodes = denoiserNodes(depth);
    const hidden = range(depth - 1).map((i) => `h${i + 1}`);
    nodes.push(...hidden.map((h) => node('ReduceMax', [h], `max_${h}`, { keepdims: 0 })));
    const inputs = [floatValue('x'), ...range(depth).flatMap((i) => [floatValue(`w${i}`), floatValue(`b${i}`)])];
    const model = onnxModel({ name: 'modl-denoiser-calibration', nodes, inputs, outputs: [floatValue('y'), ...hidden.map((h) => floatValue(`max_${h}`))] });
    return new Int8Calibrator(denoiser, await ort.session(model), ort);
  }

  apply(x: Float32Array, shape: readonly number[], slot: number): Promise<Float32Array> {
    const s = this.denoiser.statsSlotOf(slot), max = this.max[s]!;
    return overVariants(x, shape, this.denoiser.groupAt(slot), async (data, dims) => {
      const out = await this.session.run({ ...this.weights[s]!, x: this.ort.tensor(data, dims) });
      max.forEach((m, i) => { max[i] = Math.max(m, out[`max_h${i + 1}`]!.data[0]!); });
      return out.y!.data;
    });
  }

  calibration(): Int8Calibration {
    if (this.max.some((m) => m.every((v) => v === 0))) throw new ModlError('int8 calibration: some stage never ran (calibrate on at least one scan)');
    return { activationMax: this.max.map((m) => [...m]) };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

async function requireOnnxRuntime(): Promise<OnnxRuntime> {
  const ort = await onnxRuntime();
  if (!ort) throw new ModlError('int8 inference runs on ONNX Runtime, which is not available here (onnxruntime-node not installed, MODL_DENOISER=tfjs, or a native TensorFlow backend)');
  return ort;
}
