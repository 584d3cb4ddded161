/**
 * MoDL inference on any number of slices: batches of slices of one size go
 * through the network together (the DC step's CG and the SENSE operator run
 * per sample, spread over the CPU cores), with the same intensity
 * normalisation as in training. The denoiser passes run on ONNX Runtime where
 * it is available (backend/onnx-runtime.ts), otherwise on tfjs; with precision
 * 'int8', its hidden convolutions in 8-bit integers (nn/denoiser-int8.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CArray } from '../physics/complex.js';
import { symmetries, transformImage, transformScan, type SymmetrySetting } from '../physics/symmetry.js';
import { prepareBatch, unbatch, type ReconSample } from './batch.js';
import { loadCheckpoint, readInt8Calibration, type CheckpointMeta } from './checkpoint.js';
import type { Modl } from './modl.js';
import { adaptToScan, type AdaptOptions, type AdaptReport } from './adapt.js';
import { OnnxDenoiser } from './denoiser-onnx.js';
import { Int8Calibrator, Int8Denoiser, type Int8Calibration } from './denoiser-int8.js';
import type { Precision } from './precision.js';
import { unrolledForward, type DenoiserPass } from './modl-onnx.js';
import { withSymmetries } from './grow.js';
import { resolveCheckpoint } from '../util/fs.js';

export interface ReconstructOptions {
  /** Slices per network batch (default 4). */
  batchSize?: number;
  /**
   * Self-ensemble: the mean of the network's reconstructions of 1 (default), 2,
   * 4 or 8 exact symmetries of each scan (physics/symmetry.ts), at as many
   * times the run time.
   */
  ensemble?: number;
  /** Called after each batch with the number of slices done. */
  onBatch?: (done: number) => void;
}

type DenoiserOnOnnx = DenoiserPass & { dispose(): Promise<void> };

export interface LoadOptions extends SymmetrySetting {
  /**
   * 'int8': the denoiser's hidden convolutions in 8-bit integers on ONNX Runtime,
   * with the activation ranges stored in the checkpoint (int8.json) or, where it
   * has none for these weights, calibrated on the first batch reconstructed.
   */
  precision?: Precision;
}

export class ModlReconstructor {
  /** The denoiser on ONNX Runtime; null: tfjs; undefined: not chosen yet (or weights changed since). */
  private onnx: Promise<DenoiserOnOnnx | null> | undefined;
  /** int8 only: the activation ranges (null: to be calibrated on the first batch). */
  private calibration: Int8Calibration | null = null;

  private constructor(readonly model: Modl, readonly meta: CheckpointMeta, readonly path: string, readonly precision: Precision) {
    this.readCalibration();
  }

  /** int8: the activation ranges stored beside the checkpoint's weights, if any. */
  private readCalibration(): void {
    if (this.precision === 'int8') this.calibration = readInt8Calibration(this.path);
  }

  /**
   * Loads a checkpoint folder, or the latest checkpoint of a training run folder.
   * `symmetries` (1, 2, 4, 8) and `symmetryPlan` replace the checkpoint's
   * (DenoiserConfig): the same weights, their denoiser averaged as they say.
   */
  static load(dir: string, o: LoadOptions = {}): ModlReconstructor {
    const path = resolveCheckpoint(dir);
    const { model, meta } = loadCheckpoint(path);
    return new ModlReconstructor(withSymmetries(model, o), meta, path, o.precision ?? 'float32');
  }

  /**
   * The largest value of each hidden activation of the denoiser, per stage,
   * over the network's passes on these samples (the float32 network): what
   * int8 inference quantises with (checkpoint.ts writeInt8Calibration stores it).
   */
  async calibrateInt8(samples: ReconSample[], o: Pick<ReconstructOptions, 'batchSize'> = {}): Promise<Int8Calibration> {
    const calibrator = await Int8Calibrator.create(this.model.denoiser);
    try {
      const batchSize = o.batchSize ?? 4;
      for (let i = 0; i < samples.length; i += batchSize) await this.variants(samples.slice(i, i + batchSize), 1, calibrator);
      return calibrator.calibration();
    } finally {
      await calibrator.dispose();
    }
  }

  /** Reconstructs every sample (in input order); [H, W] images, or [S, H, W] with S map sets. */
  async reconstruct(samples: ReconSample[], o: ReconstructOptions = {}): Promise<CArray[]> {
    const batchSize = o.batchSize ?? 4;
    const out: CArray[] = [];
    for (let i = 0; i < samples.length; i += batchSize) {
      out.push(...(await this.variants(samples.slice(i, i + batchSize), o.ensemble ?? 1)).map(meanImage));
      o.onBatch?.(Math.min(samples.length, i + batchSize));
    }
    return out;
  }

  /**
   * The reconstructions of the first `n` symmetries (1, 2, 4 or 8) of each
   * sample, each transformed back, per sample: the terms of the self-ensemble
   * (the first is the plain reconstruction). In int8 without stored activation
   * ranges, the first call calibrates them on its samples.
   */
  async variants(samples: ReconSample[], n: number, denoiser?: DenoiserPass): Promise<CArray[][]> {
    if (!denoiser && this.precision === 'int8' && !this.calibration) this.calibration = await this.calibrateInt8(samples);
    const perSample: CArray[][] = samples.map(() => []);
    for (const s of symmetries(n)) {
      (await this.run(samples.map((x) => transformScan(x, s)), denoiser)).forEach((x, b) => perSample[b]!.push(transformImage(x, s)));
    }
    return perSample;
  }

  /** Where the denoiser passes run: 'onnx' (ONNX Runtime) or 'tfjs'. */
  async denoiserEngine(): Promise<'onnx' | 'tfjs'> {
    if (this.precision === 'int8') return 'onnx'; // int8 runs there or not at all
    return (await this.onnxDenoiser()) ? 'onnx' : 'tfjs';
  }

  private onnxDenoiser(): Promise<DenoiserOnOnnx | null> {
    if (this.precision === 'int8' && !this.calibration) throw new Error('int8 inference before calibration (variants() calibrates first)');
    this.onnx ??= this.precision === 'int8'
      ? Int8Denoiser.create(this.model.denoiser, this.calibration!)
      : OnnxDenoiser.where(this.model.denoiser, 'frozen');
    return this.onnx;
  }

  /** Forgets the ONNX Runtime copy of the weights (after they change). */
  private dropOnnx(): void {
    // a denoiser that failed to start has already reported its error to the pass that awaited it
    void this.onnx?.then((d) => d?.dispose(), () => {});
    this.onnx = undefined;
  }

  /** One pass of the network over one batch (with `denoiser`, if given, for the denoiser's passes). */
  private async run(group: ReconSample[], denoiser?: DenoiserPass): Promise<CArray[]> {
    const batch = prepareBatch(group.map(({ kspace, maps, mask }) => ({ kspace, maps, mask })));
    try {
      const onnx = denoiser ?? await this.onnxDenoiser();
      const x = onnx
        ? tf.tensor4d((await unrolledForward(this.model, onnx, batch.aty, batch.problem)).output, batch.aty.shape)
        : tf.tidy(() => this.model.apply(batch.aty, batch.problem, 'infer'));
      const images = unbatch(x, batch.scales, batch.sets);
      x.dispose();
      return images;
    } finally {
      batch.dispose();
    }
  }

  /** Fine-tunes the network on these slices' own k-space (zero-shot SSDU, nn/adapt.ts); reset() undoes it. */
  async adapt(samples: ReconSample[], options: AdaptOptions): Promise<AdaptReport> {
    this.dropOnnx();
    this.calibration = null; // the stored ranges are for the checkpoint's weights
    return adaptToScan(this.model, samples.map(({ kspace, maps, mask }) => ({ kspace, maps, mask })), options);
  }

  /** Puts the checkpoint's weights back. */
  reset(): void {
    this.dropOnnx();
    this.readCalibration();
    const { model } = loadCheckpoint(this.path);
    this.model.setWeights(model.namedWeights());
    model.dispose();
  }

  dispose(): void {
    this.dropOnnx();
    this.model.dispose();
  }
}

/** The mean of images of one shape. */
export function meanImage(images: CArray[]): CArray {
  const out = new Float32Array(images[0]!.data);
  for (const x of images.slice(1)) for (let j = 0; j < out.length; j++) out[j] += x.data[j]!;
  if (images.length > 1) for (let j = 0; j < out.length; j++) out[j] /= images.length;
  return { data: out, shape: images[0]!.shape };
}
