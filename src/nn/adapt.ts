/**
 * Scan-specific fine-tuning (zero-shot SSDU, Yaman et al., ICLR 2022): before a
 * study is reconstructed, the trained network is fine-tuned on the study's own
 * undersampled k-space with the SSDU objective (nn/ssdu.ts). A third set Γ
 * (HOLDOUT_FRACTION of each slice's sampled locations) never enters training:
 * the network's k-space loss on Γ (with data consistency on Ω∖Γ) decides when
 * to stop and which weights to keep. The reconstruction afterwards uses every sample.
 *
 * Batch norm keeps the trained running statistics (mode 'tune'): one scan's
 * batch statistics would replace what the network was trained with. For 1D
 * masks each step trains on an exact readout window (physics/readout-window.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { isColumnMask, readoutWindow } from '../physics/readout-window.js';
import { maskKspace } from '../physics/sense.js';
import { Rng } from '../util/random.js';
import { Adam, clipByGlobalNorm, tapedGradients } from './adam.js';
import { OnnxDenoiser } from './denoiser-onnx.js';
import { unrolledForward, unrolledGradients } from './modl-onnx.js';
import type { ReconSample } from './batch.js';
import type { Modl } from './modl.js';
import { selfSupervisedBatch, splitSampling, type SamplingSplit } from './ssdu.js';

export interface AdaptOptions {
  /** Most training steps (one slice, one fresh Θ/Λ split each). */
  steps: number;
  /** Adam step size (default ADAPT_LEARNING_RATE). */
  learningRate?: number;
  /** Steps between hold-out evaluations (default 5). */
  evalEvery?: number;
  /** Evaluations without improvement before stopping (default 4). */
  patience?: number;
  /** Share of each step's samples that go to the loss, not to data consistency (default ADAPT_LOSS_FRACTION). */
  lossFraction?: number;
  /** Share of each slice's samples held out for stopping (default HOLDOUT_FRACTION). */
  holdoutFraction?: number;
  /** Rows of the readout window per step for 1D masks (default 96; 0: whole slices). */
  windowRows?: number;
  seed?: number;
  onProgress?(p: AdaptProgress): void;
}

export interface AdaptProgress { step: number; steps: number; loss?: number; holdoutLoss?: number }

export interface AdaptReport {
  /** Steps run, and the step whose weights were kept (0: the network as it came). */
  steps: number;
  bestStep: number;
  /** Hold-out k-space loss before adapting and of the kept weights. */
  holdoutBefore: number;
  holdoutBest: number;
  curve: { step: number; holdoutLoss: number }[];
  seconds: number;
}

/** One line of progress for a terminal. */
export function adaptProgressText(p: AdaptProgress): string {
  return `adapt step ${p.step}/${p.steps}${p.holdoutLoss === undefined ? '' : `, held-out k-space loss ${p.holdoutLoss.toFixed(4)}`}`;
}

/** What a run did, in one sentence. */
export function adaptSummary(a: AdaptReport): string {
  return `${a.steps} steps in ${a.seconds.toFixed(0)} s, kept step ${a.bestStep}, held-out k-space loss ${a.holdoutBefore.toFixed(4)} → ${a.holdoutBest.toFixed(4)}`;
}

/**
 * Measured on the real validation case (20 steps, 3 seeds): 1e-4 gains 0.32 dB at 4× where 1e-5
 * gains 0.07, with the held-out loss still falling at both.
 */
export const ADAPT_LEARNING_RATE = 1e-4;

/**
 * Splits of a scan's samples. The network trains with data consistency on what the loss and the
 * hold-out leave: (1 − 0.1)(1 − 0.2) = 72 % of them, so a 6× scan trains at about 8×, the far end
 * of what it was trained for, not at 12.5× as with SSDU's 40 % loss share and a 20 % hold-out.
 * Measured on the real validation case (3 seeds, 60 steps, patience 4): 4× 31.10 / 0.852 and
 * 6× 26.35 / 0.762 with these, 30.82 / 0.851 and 26.25 / 0.760 (SSIM below the network's own
 * 0.761) with 0.4 and 0.2.
 */
export const ADAPT_LOSS_FRACTION = 0.2;
/** Share of each slice's samples held out for stopping (see ADAPT_LOSS_FRACTION). */
export const HOLDOUT_FRACTION = 0.1;
/** Slices the hold-out loss is evaluated on (evenly spread over the study). */
const HOLDOUT_SLICES = 4;

/** Fine-tunes `model` in place on the samples' own k-space; returns the record of the run. */
export async function adaptToScan(model: Modl, samples: ReconSample[], o: AdaptOptions): Promise<AdaptReport> {
  if (!(Number.isInteger(o.steps) && o.steps >= 0)) throw new Error(`adapt: steps must be a non-negative integer, got ${o.steps}`);
  const t0 = performance.now();
  const rng = new Rng(o.seed ?? 0);
  const evalEvery = o.evalEvery ?? 5, patience = o.patience ?? 4, windowRows = o.windowRows ?? 96;
  const slices = samples.map((s) => {
    const [, H, W] = s.kspace.shape as [number, number, number];
    const holdout = splitSampling(s.mask, H, W, o.holdoutFraction ?? HOLDOUT_FRACTION, rng);
    return { sample: s, holdout, train: { kspace: maskKspace(s.kspace, holdout.kept), maps: s.maps, mask: holdout.kept } };
  });
  const scored = [...new Set(Array.from({ length: Math.min(HOLDOUT_SLICES, slices.length) }, (_, i) => Math.floor((i * slices.length) / Math.min(HOLDOUT_SLICES, slices.length))))];
  // the denoiser's passes on ONNX Runtime where it loads (the same function and gradients as tfjs's 'tune' mode)
  const onnx = await OnnxDenoiser.where(model.denoiser, 'frozen');
  const holdoutLoss = async () => {
    let sum = 0;
    for (const i of scored) {
      const b = selfSupervisedBatch([slices[i]!.sample], [slices[i]!.holdout]);
      const out = onnx
        ? tf.tensor4d((await unrolledForward(model, onnx, b.batch.aty, b.batch.problem)).output, b.batch.aty.shape)
        : tf.tidy(() => model.apply(b.batch.aty, b.batch.problem, 'infer'));
      sum += tf.tidy(() => b.loss(out).dataSync()[0]!) / scored.length;
      out.dispose();
      b.dispose();
    }
    return sum;
  };

  const vars = model.trainableVariables;
  const snapshot = () => vars.map((v) => tf.clone(v));
  const before = await holdoutLoss();
  let best = { loss: before, step: 0, weights: snapshot() };
  const curve = [{ step: 0, holdoutLoss: before }];
  o.onProgress?.({ step: 0, steps: o.steps, holdoutLoss: before });
  const adam = new Adam(o.learningRate ?? ADAPT_LEARNING_RATE);
  let step = 0, stale = 0;
  while (step < o.steps && stale < patience) {
    step++;
    const { train } = slices[rng.int(slices.length)]!;
    const [, H, W] = train.kspace.shape as [number, number, number];
    const windowed = windowRows > 0 && windowRows < H && isColumnMask(train.mask, H, W);
    const slice = windowed ? readoutWindow(train, rng.int(H - windowRows + 1), windowRows) : train;
    const split: SamplingSplit = splitSampling(slice.mask, windowed ? windowRows : H, W, o.lossFraction ?? ADAPT_LOSS_FRACTION, rng);
    const b = selfSupervisedBatch([slice], [split]);
    const { loss, grads } = onnx
      ? await unrolledGradients(model, onnx, b.batch.aty, b.batch.problem, (x) => b.loss(x))
      : tapedGradients(vars, () => b.loss(model.apply(b.batch.aty, b.batch.problem, 'tune')));
    const clipped = clipByGlobalNorm(grads, 1);
    adam.step(vars, clipped);
    onnx?.readWeights();
    tf.dispose([grads, clipped]);
    b.dispose();
    if (step % evalEvery === 0 || step === o.steps) {
      const h = await holdoutLoss();
      curve.push({ step, holdoutLoss: h });
      o.onProgress?.({ step, steps: o.steps, loss, holdoutLoss: h });
      if (h < best.loss) {
        tf.dispose(best.weights);
        best = { loss: h, step, weights: snapshot() };
        stale = 0;
      } else stale++;
    } else o.onProgress?.({ step, steps: o.steps, loss });
  }
  vars.forEach((v, i) => v.assign(best.weights[i]!));
  tf.dispose(best.weights);
  adam.dispose();
  await onnx?.dispose();
  return { steps: step, bestStep: best.step, holdoutBefore: before, holdoutBest: best.loss, curve, seconds: (performance.now() - t0) / 1000 };
}
