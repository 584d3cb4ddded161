/**
 * The MoDL CNN denoiser D_w (Aggarwal et al., 2019): a residual stack of 3×3
 * convolutions on the image's real and imaginary parts,
 *
 *   D(x) = x + N(x),   N = conv → BN → ReLU, (depth−2)× [conv → BN → ReLU], conv → BN
 *
 * with channels 2 → width → … → width → 2. Input and output are NHWC
 * [B, H, W, 2] (real, imag): the interleaved complex layout of the physics code.
 *
 * Built on core tfjs ops with tf.variable weights (no tfjs-layers), so that
 * training loops, custom gradients (batch norm, data consistency) and weight
 * sharing across MoDL's unrolled iterations stay plain function calls.
 * Weights are saved in tfjs's weights format: model.json (weightsManifest) +
 * weights.bin.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { batchNormInfer, batchNormTrain } from '../backend/batch-norm.js';
import { symmetrised } from './denoiser-symmetry.js';
import { SYMMETRY_PLANS, symmetries, symmetryCosets, type Symmetry, type SymmetryPlan, type SymmetrySetting } from '../physics/symmetry.js';
import { fileError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { Rng } from '../util/random.js';

export interface DenoiserConfig {
  /** Number of conv layers (MoDL: 5). */
  depth: number;
  /** Feature channels of the hidden layers (MoDL: 64). */
  width: number;
  /** Running-statistics momentum: running ← (1−m)·running + m·batch (PyTorch's convention). */
  momentum: number;
  epsilon: number;
  /**
   * Variants averaged over at every pass (1, 2, 4 or 8; nn/denoiser-symmetry.ts):
   * more than 1 makes D exactly equivariant to flips (and conjugation), at that
   * many passes. Absent (as in networks saved before it): 1.
   */
  symmetries?: number;
  /**
   * 'fixed' (absent: as in networks saved before it): every stage averages over
   * the same symmetries(n). 'cycled': stage k averages over the k-th of
   * symmetryCosets(n), cyclically, so that the stages together see all eight
   * symmetries at n passes each; no stage is then exactly equivariant, but each
   * stage's variance differs from the last, and the unrolled iterations average it.
   */
  symmetryPlan?: SymmetryPlan;
}

export const DEFAULT_DENOISER: DenoiserConfig = { depth: 5, width: 64, momentum: 0.1, epsilon: 1e-5, symmetries: 1, symmetryPlan: 'fixed' };

interface Layer {
  kernel: tf.Variable<tf.Rank.R4>;
  gamma: tf.Variable<tf.Rank.R1>;
  beta: tf.Variable<tf.Rank.R1>;
  /** Running statistics, one set per slot (see setStatsSlots). */
  runningMean: tf.Variable<tf.Rank.R1>[];
  runningVariance: tf.Variable<tf.Rank.R1>[];
}

const FORMAT = 'modl-denoiser';

/** One layer with its batch norm folded in (Denoiser.foldedLayers). */
export interface FoldedLayer {
  /** w·s, [cout, cin, 3, 3] (OIHW). */
  weight: Float32Array;
  /** β − μ·s, [cout]. */
  bias: Float32Array;
  cin: number;
  cout: number;
  /** The layer's own kernel w, [3, 3, cin, cout] (tfjs's HWIO). */
  kernel: Float32Array;
  /** The slot's running mean μ, 1/√(σ² + ε) and s = γ/√(σ² + ε), [cout]. */
  mean: Float32Array;
  invStd: Float32Array;
  scale: Float32Array;
}

interface ApplyOptions {
  /** Fold training-mode batch statistics into the running averages (default true). */
  updateRunningStats?: boolean;
  /** The unrolled stage: its set of running statistics, and its symmetries where they cycle. */
  slot?: number;
}

interface RecomputeOptions {
  slot?: number;
  /** Normalise with batch statistics (default true); false uses the slot's running statistics, frozen. */
  batchStats?: boolean;
}

export class Denoiser {
  readonly config: DenoiserConfig;
  private readonly layers: Layer[];

  private constructor(config: DenoiserConfig, layers: Layer[]) {
    this.config = config;
    this.layers = layers;
  }

  /** A fresh network: He-normal conv weights from `seed`, γ = 1, β = 0, running stats 0 / 1. */
  static create(seed: number, config: Partial<DenoiserConfig> = {}): Denoiser {
    const cfg = { ...DEFAULT_DENOISER, ...config };
    if (!Number.isInteger(cfg.depth) || cfg.depth < 2) throw new Error(`denoiser depth must be an integer ≥ 2, got ${cfg.depth}`);
    if (!Number.isInteger(cfg.width) || cfg.width < 1) throw new Error(`denoiser width must be a positive integer, got ${cfg.width}`);
    symmetries(cfg.symmetries ?? 1); // throws on a count other than 1, 2, 4, 8
    if (cfg.symmetryPlan !== undefined && !SYMMETRY_PLANS.includes(cfg.symmetryPlan)) throw new Error(`denoiser symmetry plan must be one of ${SYMMETRY_PLANS.join(', ')}, got ${cfg.symmetryPlan}`);
    const rng = new Rng(seed);
    const layers = channelPlan(cfg).map(([cin, cout]) => {
      const std = Math.sqrt(2 / (9 * cin)); // He: fan-in = 3·3·cin
      const w = Float32Array.from({ length: 9 * cin * cout }, () => std * rng.normal());
      return makeLayer(w, cin, cout);
    });
    return new Denoiser(cfg, layers);
  }

  /**
   * Keeps `n` sets of batch-norm running statistics (new sets start as copies
   * of the first). An unrolled network applies this one denoiser at K stages
   * whose inputs have different statistics (aliased Aᴴy first, nearly clean
   * images later); averaging them into one set makes inference-mode batch norm
   * wrong at every stage, so MoDL keeps one set per stage while the conv
   * weights, γ and β stay shared.
   */
  setStatsSlots(n: number): void {
    for (const l of this.layers) {
      while (l.runningMean.length < n) {
        l.runningMean.push(tf.variable(l.runningMean[0]!.clone(), false));
        l.runningVariance.push(tf.variable(l.runningVariance[0]!.clone(), false));
      }
      tf.dispose([...l.runningMean.splice(Math.max(1, n)), ...l.runningVariance.splice(Math.max(1, n))]);
    }
  }

  /** Scales the residual N(x) by `factor` (the last layer's γ and β; no ReLU follows them). */
  dampResidual(factor: number): void {
    const last = this.layers[this.layers.length - 1]!;
    tf.tidy(() => {
      last.gamma.assign(tf.mul(last.gamma, factor));
      last.beta.assign(tf.mul(last.beta, factor));
    });
  }

  get statsSlots(): number {
    return this.layers[0]!.runningMean.length;
  }

  /** The statistics slot of stage `slot`: stages past the last slot share it. */
  statsSlotOf(slot: number): number {
    return Math.min(Math.max(0, slot), this.statsSlots - 1);
  }

  /**
   * D(x) for x [B, H, W, 2]. In training mode batch statistics are used and
   * (unless `updateRunningStats` is false) folded into the running averages of
   * `slot`; in inference mode that slot's running averages are used.
   */
  apply(x: tf.Tensor4D, training: boolean, options: ApplyOptions = {}): tf.Tensor4D {
    const params = this.trainableVariables();
    return symmetrised(x, this.groupAt(options.slot ?? 0), (v) => this.applyWith(params, v, training, options));
  }

  /** How D averages over symmetries, the config's fields read with their defaults (absent: 1, 'fixed', as saved before them). */
  get symmetrySetting(): Required<SymmetrySetting> {
    return { symmetries: this.config.symmetries ?? 1, symmetryPlan: this.config.symmetryPlan ?? 'fixed' };
  }

  /** The flips and conjugations D averages over at unrolled stage `stage` (identity alone unless config.symmetries > 1). */
  groupAt(stage: number): Symmetry[] {
    const { symmetries: n, symmetryPlan } = this.symmetrySetting;
    if (symmetryPlan === 'fixed') return symmetries(n);
    const cosets = symmetryCosets(n);
    return cosets[stage % cosets.length]!;
  }

  /**
   * Training-mode D(x) that keeps only its input for the backward pass and
   * recomputes its activations there (gradient checkpointing). An unrolled
   * network otherwise holds every stage's activations at once: K=10 stages of
   * 5×64 channels at 230×180 need more than wasm's 4 GB heap. The cost is one
   * more denoiser forward pass per stage in the backward pass.
   */
  applyRecomputed(x: tf.Tensor4D, { slot, batchStats = true }: RecomputeOptions = {}): tf.Tensor4D {
    const params = this.trainableVariables();
    const options: ApplyOptions = { slot };
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const inputs = args as tf.Tensor[];
      // ops inside a custom gradient's forward are not taped: its activations are freed here
      const value = this.applyWith(inputs.slice(1), inputs[0] as tf.Tensor4D, batchStats, options);
      save(inputs);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const f = (...xs: tf.Tensor[]) => tf.sum(tf.mul(this.applyWith(xs.slice(1), xs[0] as tf.Tensor4D, batchStats, { ...options, updateRunningStats: false }), dy));
          // A nested tf.grads replaces the engine's active tape and clears it when done; the
          // outer backward pass still needs it (tfjs 4.22 engine), so it is put back.
          const engine = tf.engine();
          const outer = engine.state.activeTape;
          try {
            return tf.grads(f)(saved);
          } finally {
            engine.state.activeTape = outer;
          }
        },
      };
    });
    return symmetrised(x, this.groupAt(slot ?? 0), (v) => op(v, ...params) as tf.Tensor4D);
  }

  /** D(x) with the given [kernel, γ, β] per layer (the order of trainableVariables()). */
  private applyWith(params: tf.Tensor[], x: tf.Tensor4D, training: boolean, options: ApplyOptions): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== 2) throw new Error(`denoiser input must be [B, H, W, 2], got [${x.shape.join(', ')}]`);
    const update = training && options.updateRunningStats !== false;
    const slot = this.statsSlotOf(options.slot ?? 0);
    return tf.tidy(() => {
      let h: tf.Tensor4D = x;
      this.layers.forEach((layer, i) => {
        const [kernel, gamma, beta] = params.slice(3 * i, 3 * i + 3) as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
        const z = tf.conv2d(h, kernel, 1, 'same');
        let normalised: tf.Tensor4D;
        if (training) {
          const count = z.size / z.shape[3];
          normalised = batchNormTrain(z, gamma, beta, {
            epsilon: this.config.epsilon,
            onBatchStats: update ? (mean, variance) => this.foldIntoRunningStats(layer, slot, mean, variance, count) : undefined,
          });
        } else {
          normalised = batchNormInfer(z, gamma, beta, layer.runningMean[slot]!, layer.runningVariance[slot]!, this.config.epsilon);
        }
        h = i < this.layers.length - 1 ? tf.relu(normalised) : normalised;
      });
      return tf.add(x, h);
    });
  }

  /**
   * Re-estimates the running statistics ("precise BN"): while `run` feeds
   * batches through in training mode, each slot's statistics become the plain
   * average over those batches instead of a momentum blend. Stages added by
   * growing K start as copies of stage 1 and would otherwise need many steps of
   * momentum updates before inference-mode batch norm is right for them.
   */
  async recalibrateStats(run: () => Promise<void>): Promise<void> {
    this.cumulative = new Array<number>(this.statsSlots).fill(0);
    try {
      await run();
    } finally {
      this.cumulative = null;
    }
  }

  /**
   * Folds a training-mode pass run elsewhere (nn/denoiser-onnx.ts) into
   * slot `slot`'s running statistics: each layer's batch mean and biased
   * variance over `count` values, as a pass of apply(x, true) would.
   */
  foldBatchStats(slot: number, stats: readonly { mean: Float32Array; variance: Float32Array }[], count: number): void {
    const s = this.statsSlotOf(slot);
    this.layers.forEach((layer, i) => tf.tidy(() => {
      this.foldIntoRunningStats(layer, s, tf.tensor1d(stats[i]!.mean), tf.tensor1d(stats[i]!.variance), count);
    }));
  }

  /** Batches folded into each slot during recalibrateStats (null otherwise). */
  private cumulative: number[] | null = null;

  /** running ← (1−m)·running + m·batch, with the unbiased batch variance. */
  private foldIntoRunningStats(layer: Layer, slot: number, mean: tf.Tensor1D, variance: tf.Tensor1D, count: number): void {
    // while recalibrating, the first layer counts this slot's batches: m = 1/n averages them
    if (this.cumulative && layer === this.layers[0]) this.cumulative[slot]!++;
    const m = this.cumulative ? 1 / this.cumulative[slot]! : this.config.momentum;
    const unbiased = count > 1 ? count / (count - 1) : 1;
    const rm = layer.runningMean[slot]!, rv = layer.runningVariance[slot]!;
    tf.tidy(() => {
      rm.assign(tf.add(tf.mul(rm, 1 - m), tf.mul(mean, m)));
      rv.assign(tf.add(tf.mul(rv, 1 - m), tf.mul(variance, m * unbiased)));
    });
  }

  /**
   * The inference-mode network of statistics slot `slot` as plain convolutions
   * with bias (batch norm folded in: w·s, β − μ·s with s = γ/√(σ² + ε)), each
   * weight [cout, cin, 3, 3] (ONNX's OIHW); ReLU follows every layer but the last.
   * Also what the chain rule back to the layer's own weights needs (FoldedLayer).
   */
  foldedLayers(slot: number): FoldedLayer[] {
    const s = this.statsSlotOf(slot);
    return this.layers.map((l) => {
      const [, , cin, cout] = l.kernel.shape;
      const kernel = l.kernel.dataSync() as Float32Array, gamma = l.gamma.dataSync(), beta = l.beta.dataSync();
      const mean = l.runningMean[s]!.dataSync() as Float32Array, variance = l.runningVariance[s]!.dataSync();
      const invStd = Float32Array.from(variance, (v) => 1 / Math.sqrt(v + this.config.epsilon));
      const scale = Float32Array.from(gamma, (g, o) => g * invStd[o]!);
      const weight = new Float32Array(cout * cin * 9);
      for (let t = 0; t < 9; t++) {
        for (let i = 0; i < cin; i++) {
          for (let o = 0; o < cout; o++) weight[(o * cin + i) * 9 + t] = kernel[(t * cin + i) * cout + o]! * scale[o]!;
        }
      }
      const bias = Float32Array.from(beta, (b, o) => b - mean[o]! * scale[o]!);
      return { weight, bias, cin, cout, kernel, mean, invStd, scale };
    });
  }

  /** The variables a training step updates (conv kernels, γ, β). */
  trainableVariables(): tf.Variable[] {
    return this.layers.flatMap((l) => [l.kernel, l.gamma, l.beta]);
  }

  /**
   * Every weight by name, running statistics included (the saved set). The
   * first statistics slot is `bnN/running_mean`, slot s > 0 `bnN/running_mean/slotS`.
   */
  namedWeights(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    this.layers.forEach((l, i) => {
      out[`conv${i + 1}/kernel`] = l.kernel;
      out[`bn${i + 1}/gamma`] = l.gamma;
      out[`bn${i + 1}/beta`] = l.beta;
      l.runningMean.forEach((v, s) => { out[statName(i, 'running_mean', s)] = v; });
      l.runningVariance.forEach((v, s) => { out[statName(i, 'running_variance', s)] = v; });
    });
    return out;
  }

  /**
   * Assigns weights from a map with the names of `namedWeights()` (shapes
   * checked). Every weight is required, except the statistics of slots past the
   * first: a slot the map lacks (a checkpoint of fewer stages) starts from slot 0's.
   */
  setWeights(weights: tf.NamedTensorMap): void {
    const own = this.namedWeights();
    const source = (name: string) => weights[name] ?? weights[name.replace(/\/slot\d+$/, '')];
    for (const [name, variable] of Object.entries(own)) {
      const w = source(name);
      if (!w) throw new Error(`missing weight '${name}'`);
      if (!tf.util.arraysEqual(w.shape, variable.shape)) {
        throw new Error(`weight '${name}' has shape [${w.shape}], expected [${variable.shape}]`);
      }
    }
    for (const [name, variable] of Object.entries(own)) (variable as tf.Variable).assign(source(name)!);
  }

  /** Writes `dir/model.json` and `dir/weights.bin` (tfjs weights format). */
  async save(dir: string): Promise<void> {
    const { data, specs } = await tf.io.encodeWeights(this.namedWeights());
    const modelJson = {
      format: FORMAT,
      generatedBy: 'modl',
      config: this.config,
      weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    };
    writeFileAtomic(join(dir, 'weights.bin'), new Uint8Array(data));
    writeFileAtomic(join(dir, 'model.json'), JSON.stringify(modelJson, null, 1));
  }

  /** Loads a network saved by `save`. Errors name the file and the problem. */
  static load(dir: string): Denoiser {
    const modelPath = join(dir, 'model.json');
    const binPath = join(dir, 'weights.bin');
    let model: { format?: string; config?: Partial<DenoiserConfig>; weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
    try {
      model = JSON.parse(readFileSync(modelPath, 'utf8'));
    } catch (e) {
      throw fileError(modelPath, `cannot read the denoiser description: ${(e as Error).message}`);
    }
    if (model.format !== FORMAT || !model.config || !model.weightsManifest?.[0]?.weights) {
      throw fileError(modelPath, `not a ${FORMAT} model.json (format, config or weightsManifest missing)`);
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(binPath);
    } catch (e) {
      throw fileError(binPath, `cannot read the weights: ${(e as Error).message}`);
    }
    const specs = model.weightsManifest[0].weights;
    const expected = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
    if (bytes.length !== expected) throw fileError(binPath, `holds ${bytes.length} bytes, model.json describes ${expected}`);
    let net: Denoiser;
    try {
      net = Denoiser.create(0, model.config);
    } catch (e) {
      throw fileError(modelPath, (e as Error).message);
    }
    const weights = tf.io.decodeWeights(new Uint8Array(bytes).buffer, specs);
    try {
      net.setStatsSlots(statsSlotsIn(weights));
      net.setWeights(weights);
    } catch (e) {
      net.dispose();
      throw fileError(modelPath, (e as Error).message);
    } finally {
      tf.dispose(weights);
    }
    return net;
  }

  dispose(): void {
    tf.dispose(Object.values(this.namedWeights()));
  }
}

/** How many statistics slots a saved weight map holds. */
export function statsSlotsIn(weights: tf.NamedTensorMap): number {
  return 1 + Math.max(0, ...Object.keys(weights).map((k) => Number(/\/slot(\d+)$/.exec(k)?.[1] ?? 0)));
}

/** The saved name of a layer's (0-based) running statistic in one stage slot. */
export function statName(layer: number, stat: 'running_mean' | 'running_variance', slot: number): string {
  return `bn${layer + 1}/${stat}${slot === 0 ? '' : `/slot${slot}`}`;
}

/** [in, out] channels per layer: 2 → width → … → width → 2. */
function channelPlan({ depth, width }: DenoiserConfig): [number, number][] {
  return Array.from({ length: depth }, (_, i) => [i === 0 ? 2 : width, i === depth - 1 ? 2 : width]);
}

function makeLayer(kernel: Float32Array, cin: number, cout: number): Layer {
  // tidy frees the initial values; the variables hold their own references
  return tf.tidy(() => ({
    kernel: tf.variable(tf.tensor4d(kernel, [3, 3, cin, cout])),
    gamma: tf.variable(tf.ones([cout])),
    beta: tf.variable(tf.zeros([cout])),
    runningMean: [tf.variable(tf.zeros([cout]), false)],
    runningVariance: [tf.variable(tf.ones([cout]), false)],
  }) as unknown as tf.TensorContainer) as unknown as Layer;
}
