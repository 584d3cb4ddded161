/**
 * How the shipped MoDL (checkpoints/modl) is trained, as one resumable job:
 *
 *   1. pairs simulated on the fly from every real volume in ../shared/data/images
 *      (all planes, augmented, head-sized fields of view at 160–320 per side), with
 *      real ESPIRiT coil maps (of `brain_8coil_poisson8x`, placed anew per pair) or
 *      birdcage arrays, real-scan noise levels and the masks users have
 *      (nn/simulated-source.ts; 1D masks train on exact 112-row readout windows);
 *   2. the curriculum below, K=1 then more stages, each stage continuing the last;
 *   3. every epoch: validation on held-out simulated pairs and on the real, fully
 *      sampled case at 4×, 6× and 8× (nn/real-validation.ts; nothing of it is
 *      used for training), kept in each stage's train.jsonl.
 *
 * The run lives in checkpoints/modl-training (weights, Adam moments, step and
 * seed of the newest epoch of each stage, ~2 MB), committed to the repository,
 * so that separate runs on a small CPU add up to one long run:
 *
 *   npm run build && node dist/pipelines/train-shipped.js [--run DIR] [--until-minutes M]
 *
 * continues exactly where the committed state stopped. `--export` writes the
 * newest checkpoint of the last stage reached to checkpoints/modl, with its
 * scores on the real case (`modl eval --real`'s table) in its modl.json; it
 * refuses (unless --force) when MoDL scores below the shipped checkpoint at any
 * acceleration. `--export --from CKPT` exports that checkpoint (with its own
 * record) instead, and `--symmetries N` and `--symmetry-plan fixed|cycled` set
 * how the exported denoiser averages over symmetries (DenoiserConfig; the same weights).
 * The export then calibrates the network for int8 inference on held-out simulated
 * pairs (int8.json beside its weights); `--calibrate-int8` does that alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { onnxRuntime } from '../src/backend/onnx-runtime.js';
import { loadCheckpoint, loadTrainingState, saveCheckpoint, writeInt8Calibration } from '../src/nn/checkpoint.js';
import { DEFAULT_MODL_CONFIG, Modl } from '../src/nn/modl.js';
import { deepened, withSymmetries } from '../src/nn/grow.js';
import { ModlReconstructor } from '../src/nn/infer.js';
import { loadRealCase, realCaseSource } from '../src/nn/real-validation.js';
import { hasBart } from '../src/study/bart.js';
import { evaluateRealCase, realCaseTable } from '../src/study/real-case.js';
import { SHIPPED_RECIPE, simulatedSource, type ScanRecipe } from '../src/nn/simulated-source.js';
import type { ImageLoss } from '../src/nn/loss.js';
import { train, validate, type EpochInfo, type PairSource } from '../src/nn/train.js';
import { resolveCheckpoint } from '../src/util/fs.js';
import { coilMapsFromKspace } from '../src/synth/coil-bank.js';
import { ImageFolderGenerator } from '../src/images/images.js';
import type { AugmentOptions } from '../src/images/augment.js';
import { MixedGenerator } from '../src/images/mixed-generator.js';
import { createGenerator } from '../src/images/generator.js';
import '../src/generative/generators.js';
import { packageRoot } from '../src/util/paths.js';
import { parseSymmetrySetting, type SymmetryPlan, type SymmetrySetting } from '../src/physics/symmetry.js';

export interface CurriculumStage {
  name: string;
  stages: number;
  epochs: number;
  stepsPerEpoch: number;
  learningRate: number;
  /** Anneal: the learning rate falls linearly from learningRate to this over the stage (TrainOptions.finalLearningRate). */
  finalLearningRate?: number;
  batchSize: number;
  /**
   * Grow from the previous stage without damping the residual (Modl.growStages).
   * Damping is for K=1 → K; the K=5 weights run undamped at K=10 already beat
   * themselves at K=5 on the real case (4× 29.79 vs 29.48 dB, 6× 25.73 vs 25.34, 3 seeds).
   */
  undamped?: boolean;
  /** Changes to the data recipe (SHIPPED_RECIPE) for this stage. */
  recipe?: Partial<ScanRecipe>;
  /** Fine-tune with the batch-norm statistics frozen (TrainOptions.frozenStats). */
  frozenStats?: boolean;
  /** Share of training images drawn from the shipped GAN instead of the real volumes (default 0). */
  ganShare?: number;
  /** Image loss (default 'mse'). */
  loss?: ImageLoss;
  /** Grow the denoiser to this many layers before the stage, keeping its function (nn/grow.ts). */
  depth?: number;
  /** Start from this checkpoint (relative to the package root) instead of the previous stage's newest. */
  init?: string;
  /** Average the denoiser over this many flips and conjugations at every pass (DenoiserConfig.symmetries). */
  symmetries?: number;
  /** How the stages take those symmetries (DenoiserConfig.symmetryPlan; default: the initial network's). */
  symmetryPlan?: SymmetryPlan;
  /** A pattern of training volumes left out in this stage, besides the label maps (paths relative to ../shared/data/images). */
  excludeImages?: string;
  /** Changes to how the volumes' slices are augmented (SHIPPED_AUGMENT) for this stage. */
  augment?: Partial<AugmentOptions>;
}

/** The shipped recipe's curriculum (MoDL: K=1, then the full network from it). */
export const CURRICULUM: CurriculumStage[] = [
  { name: 'k1', stages: 1, epochs: 12, stepsPerEpoch: 100, learningRate: 1e-3, batchSize: 1 },
  { name: 'k5', stages: 5, epochs: 22, stepsPerEpoch: 50, learningRate: 5e-4, batchSize: 1 },
  { name: 'k10', stages: 10, epochs: 7, stepsPerEpoch: 25, learningRate: 3e-4, batchSize: 1, undamped: true },
  // the real-case curve was flat at 3e-4 after epoch 2 (4× 30.5–30.8 dB, seed 0): a lower rate from there
  { name: 'k10-fine', stages: 10, epochs: 7, stepsPerEpoch: 25, learningRate: 1e-4, batchSize: 1 },
  // flat again at 1e-4: fields of view tighter than the head (two map sets, as the real case needs), batch norm frozen
  {
    name: 'k10-wrap', stages: 10, epochs: 8, stepsPerEpoch: 25, learningRate: 1e-4, batchSize: 1,
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // flat on the real case from epoch 3 (±0.1 dB) while the synthetic score rose: batches of 4 at half the rate
  // (frozen statistics: the denoiser's passes run on ONNX Runtime, 2.5× faster a step)
  {
    name: 'k10-b4', stages: 10, epochs: 2, stepsPerEpoch: 25, learningRate: 5e-5, batchSize: 4,
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // the real case unchanged again (3 seeds 30.42 / 26.18 / 25.48): half the pairs now get the maps a real scan
  // gets, ESPIRiT's two sets from its own k-space, instead of the sensitivities they were simulated with
  {
    name: 'k10-espirit', stages: 10, epochs: 3, stepsPerEpoch: 25, learningRate: 1e-4, batchSize: 4,
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] }, espirit: { share: 0.5 } }, frozenStats: true,
  },
  // unchanged again (30.48 / 26.20 / 25.50): real arrays' noise is correlated between coils, the simulated was white
  {
    name: 'k10-noise', stages: 10, epochs: 3, stepsPerEpoch: 25, learningRate: 1e-4, batchSize: 4,
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] }, espirit: { share: 0.5 }, noiseCorrelation: [0, 0.7] }, frozenStats: true,
  },
  // within 0.05 dB again over three epochs (30.55 / 26.24 / 25.56 at epoch 3, SSIM down): the same data, an L1 loss
  // (as fastMRI's baselines train), which weighs the many small errors over the brain more than MSE does.
  // Flat too (epoch 3: 30.50 / 26.22 / 25.51, SSIM down): the next stage needs more than a change of data or loss
  {
    name: 'k10-l1', stages: 10, epochs: 3, stepsPerEpoch: 25, learningRate: 1e-4, batchSize: 4, loss: 'l1',
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] }, espirit: { share: 0.5 }, noiseCorrelation: [0, 0.7] }, frozenStats: true,
  },
  // data and loss changes since k10-wrap all moved the real case by < 0.1 dB while the synthetic score rose, and the ×2
  // self-ensemble gains as much on synthetic pairs (+0.24 dB) as on the real case (+0.29): the network's own variance.
  // A deeper denoiser (7 layers, two identity layers inserted; frozen statistics keep its function at the start).
  // Flat as well over six epochs (30.47–30.66 / 26.26–26.47 / 25.54–25.72, SSIM down): capacity is not what is missing
  {
    name: 'k10-deep', stages: 10, epochs: 6, stepsPerEpoch: 25, learningRate: 1e-4, batchSize: 4, depth: 7,
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] }, espirit: { share: 0.5 }, noiseCorrelation: [0, 0.7] }, frozenStats: true,
  },
  // MoDL's real-case error is largest at the scalp, yet a fifth of the training slices came from 2–3 mm volumes (IXI,
  // ITK) resampled to 160–320 pixels, smoother than any scan, and half had no skull. From the shipped network
  // (k10-wrap epoch 3): the 1 mm volumes only, without colin27's skull-stripped copy. Down a little instead (3 seeds,
  // epoch 3: 30.43 / 26.18 / 25.49, SSIM 0.005–0.007 lower): the coarse T1 heads were worth more than their blur cost
  {
    name: 'k10-sharp', init: 'checkpoints/modl', stages: 10, epochs: 3, stepsPerEpoch: 25, learningRate: 1e-4, batchSize: 4,
    excludeImages: 'ixi/|itk/|ch2bet', frozenStats: true,
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] }, espirit: { share: 0.5 }, noiseCorrelation: [0, 0.7] },
  },
  // every stage since k10-wrap moved the real case within a ±0.15 dB epoch-to-epoch spread at a constant rate: the
  // shipped network's own recipe, from it, with the rate annealed to nearly 0. Below it at every epoch (epoch 3: 30.48 /
  // 26.20 / 25.49, SSIM 0.002–0.004 lower): the shipped epoch is at the top of its trajectory's spread
  {
    name: 'k10-anneal', init: 'checkpoints/modl', stages: 10, epochs: 3, stepsPerEpoch: 25, learningRate: 1e-4, finalLearningRate: 1e-6,
    batchSize: 4, recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // the denoiser averaged inside every stage over the scan's symmetries gains at inference alone what no stage since
  // k10-wrap gained (the shipped weights: 2 variants 30.80 / 26.36 / 25.60, 3 seeds): the network's own variance.
  // From the shipped network, trained as that exactly equivariant network (2 variants: identity and conjugate).
  // No better than the same weights averaged untrained (epochs 1–5: 30.72–30.80 / 26.35–26.40 / 25.62–25.66, SSIM
  // 0.001–0.003 lower at 6× and 8×): the shipped network is k10-wrap's epoch 3 with 2 variants a stage, cycled through
  // the 8 (--export --from --symmetries 2 --symmetry-plan cycled: 30.93 / 26.44 / 25.65, the fixed pair 30.80 / 26.36 / 25.60)
  {
    name: 'k10-equi', init: 'checkpoints/modl', symmetries: 2, symmetryPlan: 'fixed', stages: 10, epochs: 5, stepsPerEpoch: 25,
    learningRate: 1e-4, finalLearningRate: 1e-5, batchSize: 4, recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // cycling the symmetries through the stages gains more than the fixed pair at no cost. From the shipped network, trained
  // as the cycled network with one variant a stage (a plain step's cost), scored as trained and with 2 variants a stage.
  // PSNR −0.02…+0.07 dB, SSIM 0.001–0.006 lower than untrained (epoch 4, 2 a stage: 30.92 / 26.47 / 25.72): not exported
  {
    name: 'k10-cycle', init: 'checkpoints/modl', symmetries: 1, symmetryPlan: 'cycled', stages: 10, epochs: 5, stepsPerEpoch: 25,
    learningRate: 1e-4, finalLearningRate: 1e-5, batchSize: 4, recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // every MSE or L1 stage since k10-wrap traded real-case SSIM for synthetic PSNR. The k10-cycle run with fastMRI's loss,
  // 1 − SSIM of the magnitude (nn/loss.ts). Synthetic SSIM rose (0.567 → 0.584), the real case's fell with its PSNR (3 seeds,
  // 2 a stage, cycled, epochs 1–3: 30.71–30.82 / 26.26–26.31 / 25.55–25.59, SSIM 0.005–0.009 lower): stopped after epoch 3
  {
    name: 'k10-ssim', init: 'checkpoints/modl', symmetries: 1, symmetryPlan: 'cycled', stages: 10, epochs: 3, stepsPerEpoch: 25,
    learningRate: 1e-4, finalLearningRate: 1e-5, batchSize: 4, loss: 'ssim', recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // k10-equi trained the fixed pair, k10-cycle one variant cycled: neither is the network shipped. Trained as it runs,
  // 2 variants a stage, cycled (a step twice a plain one's cost). Below it at 4× and 6× and in SSIM at every epoch
  // (epoch 3: 30.91 / 0.850, 26.43 / 0.767, 25.68 / 0.750): not exported
  {
    name: 'k10-cycle2', init: 'checkpoints/modl', symmetries: 2, symmetryPlan: 'cycled', stages: 10, epochs: 3, stepsPerEpoch: 25,
    learningRate: 1e-4, finalLearningRate: 1e-5, batchSize: 4, recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // the training targets are far smoother than a real scan: their magnitude spectra fall 7–16× below the real reference's
  // from half of k-space out, because most slices were upsampled from 1–3 mm volumes into 160–320 matrices (nothing above
  // the source's Nyquist frequency) and read by bilinear interpolation. Output pixels of at least 1.25× the source's
  // coarser spacing match the real spectrum from the centre to the edge (pipelines/training-spectra.ts; scores.md)
  {
    name: 'k10-native', init: 'checkpoints/modl', symmetries: 1, symmetryPlan: 'cycled', stages: 10, epochs: 5, stepsPerEpoch: 25,
    learningRate: 1e-4, finalLearningRate: 1e-5, batchSize: 4, augment: { maxUpsample: 0.8 },
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // the first stage since k10-wrap above the shipped network at every acceleration in both measures, still rising at
  // epoch 4 (3 seeds, 2 a stage cycled: 31.08 / 0.853, 26.58 / 0.775, 25.76 / 0.758): more of the same at half the rate.
  // Above it again, levelling off (epoch 4, the shipped network: 31.15 / 0.8535, 26.68 / 0.7754, 25.85 / 0.7586)
  {
    name: 'k10-native2', symmetries: 1, symmetryPlan: 'cycled', stages: 10, epochs: 6, stepsPerEpoch: 25,
    learningRate: 5e-5, finalLearningRate: 5e-6, batchSize: 4, augment: { maxUpsample: 0.8 },
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
  // at maxUpsample 0.8 the targets still fall below the real reference from r = 0.5 out (0.033 / 0.011 / 0.0061 against
  // 0.046 / 0.019 / 0.011); at 0.6 they meet it (0.056 / 0.021 / 0.012; training-spectra.ts). From the shipped network.
  // SSIM up at every acceleration, PSNR not (epoch 6: 31.15 / 0.8538, 26.67 / 0.7765, 25.83 / 0.7594): not exported
  {
    name: 'k10-native3', init: 'checkpoints/modl', symmetries: 1, symmetryPlan: 'cycled', stages: 10, epochs: 6, stepsPerEpoch: 25,
    learningRate: 5e-5, finalLearningRate: 5e-6, batchSize: 4, augment: { maxUpsample: 0.6 },
    recipe: { wrap: { share: 0.35, extent: [0.1, 0.5] } }, frozenStats: true,
  },
];

export const TRAINING_SEED = 2026;
/** Label maps beside the images in ../shared/data/images (ITK's k-means segmentation and skull-strip labels). */
const IMAGE_EXCLUDE = /Segmentation|SkullStrip/;
/** How the shipped recipe augments the real volumes' slices. */
const SHIPPED_AUGMENT: AugmentOptions = { zoom: [0.85, 1.3], rotationDeg: 15, gamma: [0.7, 1.45] };

/** What a stage changes in the training data. */
type StageData = Partial<Pick<CurriculumStage, 'ganShare' | 'excludeImages' | 'augment'>> & { recipe?: ScanRecipe };

/** Distinct simulated training pairs (the data order of every epoch is a seeded permutation of them). */
const TRAIN_PAIRS = 200_000;

export interface TrainShippedOptions {
  runDir: string;
  sharedData: string;
  /** Stop (after the epoch that passes it) once this many minutes have gone by. */
  untilMinutes?: number;
  log?: (line: string) => void;
}

function latestEpoch(dir: string): number {
  const latest = join(dir, 'latest.json');
  return existsSync(latest) ? (JSON.parse(readFileSync(latest, 'utf8')) as { epoch: number }).epoch : 0;
}

/** Training and validation data of the recipe (validation pairs use their own seed). */
export async function shippedData(sharedData: string): Promise<{ train: (stage?: StageData) => Promise<PairSource>; synthValidation: PairSource; heldOut4x: PairSource; real: Record<string, PairSource>; coilMaps: string }> {
  const load = (exclude: RegExp, augment: Partial<AugmentOptions> = {}) => ImageFolderGenerator.load({
    dir: join(sharedData, 'images'),
    planes: 'all',
    exclude,
    augment: { ...SHIPPED_AUGMENT, ...augment },
  });
  const images = await load(IMAGE_EXCLUDE);
  const bankFile = join(sharedData, 'kspace', 'brain_8coil_poisson8x.cfl');
  const bank = await coilMapsFromKspace(bankFile, 180, 230);
  const common = { images, coilMaps: [bank.maps], recipe: SHIPPED_RECIPE };
  const train = async ({ recipe = SHIPPED_RECIPE, ganShare = 0, excludeImages, augment }: StageData = {}) => {
    const stageImages = excludeImages || augment
      ? await load(excludeImages ? new RegExp(`${IMAGE_EXCLUDE.source}|${excludeImages}`) : IMAGE_EXCLUDE, augment)
      : images;
    return simulatedSource({
      ...common, recipe, seed: TRAINING_SEED, length: TRAIN_PAIRS,
      images: ganShare > 0 ? new MixedGenerator([{ generator: stageImages, weight: 1 - ganShare }, { generator: await createGenerator('gan'), weight: ganShare }]) : stageImages,
    });
  };
  const synthValidation = simulatedSource({ ...common, seed: TRAINING_SEED + 1, length: 8 });
  // the exported network's synthetic test: whole slices at 4×, pairs of their own seed
  const heldOut4x = simulatedSource({ ...common, recipe: { ...SHIPPED_RECIPE, acceleration: [4, 4], window: 0 }, seed: TRAINING_SEED + 2, length: 16 });
  const realCase = loadRealCase(join(sharedData, 'kspace'));
  const real = Object.fromEntries([4, 6, 8].map((R) => [`real-${R}x`, realCaseSource(realCase, { accelerations: [R], seeds: [0], mapSets: 2 })]));
  return { train, synthValidation, heldOut4x, real, coilMaps: bank.source };
}

/** Runs (or continues) the curriculum; returns the history of the last stage that ran. */
export async function trainShipped(o: TrainShippedOptions): Promise<EpochInfo[]> {
  const log = o.log ?? console.log;
  const started = Date.now();
  const data = await shippedData(o.sharedData);
  let history: EpochInfo[] = [];
  for (const [s, stage] of CURRICULUM.entries()) {
    const dir = join(o.runDir, stage.name);
    if (latestEpoch(dir) >= stage.epochs) continue;
    const init = stage.init ? join(packageRoot(), stage.init) : s === 0 ? null : join(o.runDir, CURRICULUM[s - 1]!.name);
    let model = init
      ? loadCheckpoint(resolveCheckpoint(init)).model
      : Modl.create({ ...DEFAULT_MODL_CONFIG, stages: 1 }, TRAINING_SEED);
    while (stage.depth && model.denoiser.config.depth < stage.depth) {
      const grown = deepened(model);
      model.dispose();
      model = grown;
    }
    model = withSymmetries(model, { symmetries: stage.symmetries, symmetryPlan: stage.symmetryPlan });
    if (stage.undamped) model.stages = stage.stages;
    let stop = false;
    const source = await data.train({ ...stage, recipe: { ...SHIPPED_RECIPE, ...stage.recipe } });
    const result = await train({
      outDir: dir, train: source, validation: data.synthValidation, validationSets: data.real, frozenStats: stage.frozenStats,
      model, stages: stage.stages, epochs: stage.epochs, stepsPerEpoch: stage.stepsPerEpoch,
      batchSize: stage.batchSize, learningRate: stage.learningRate, finalLearningRate: stage.finalLearningRate, clipNorm: 1, loss: stage.loss ?? 'mse',
      seed: TRAINING_SEED, resume: true, keepCheckpoints: 1,
      trainedOn: { train: source.describe(), coilMaps: data.coilMaps, curriculumStage: stage, init },
      onStep(st) {
        if (st.step % 10 === 0) log(`${stage.name} epoch ${st.epoch} step ${st.step}/${st.stepsPerEpoch} loss ${st.loss.toExponential(3)} λ ${st.lambda.toFixed(4)} lr ${st.learningRate.toExponential(2)} ${st.ms.toFixed(0)} ms`);
      },
      onEpoch(e) {
        const f = (m: { psnr: number; ssim: number }) => `${m.psnr.toFixed(2)}/${m.ssim.toFixed(3)}`;
        const real = Object.entries(e.validationSets ?? {}).map(([k, v]) => `${k} ${f(v.modl)} (zf ${f(v.zeroFilled)})`).join(', ');
        log(`${stage.name} epoch ${e.epoch}/${e.epochs}: loss ${e.trainLoss.toExponential(3)}; synthetic ${f(e.validation.modl)} (zf ${f(e.validation.zeroFilled)}); ${real}; ${e.trainSeconds?.toFixed(0)} s`);
        if (o.untilMinutes !== undefined && (Date.now() - started) / 60_000 > o.untilMinutes) stop = true;
      },
      shouldStop: () => stop,
    });
    history = result.history;
    result.model.dispose();
    if (stop || latestEpoch(dir) < stage.epochs) break;
  }
  return history;
}

/** Each stage's record: steps, wall time and the validation curve (synthetic and real) of every epoch so far. */
export function curriculumRecord(runDir: string, stages: CurriculumStage[] = CURRICULUM): unknown[] {
  return stages.filter((s) => latestEpoch(join(runDir, s.name)) > 0).map((stage) => {
    const state = loadTrainingState(resolveCheckpoint(join(runDir, stage.name)))?.state as { globalStep: number; history: EpochInfo[] } | undefined;
    const history = state?.history ?? [];
    const round = (m: { psnr: number; ssim: number }) => ({ psnr: +m.psnr.toFixed(3), ssim: +m.ssim.toFixed(4) });
    return {
      ...stage,
      epochsDone: history.length,
      steps: state?.globalStep ?? 0,
      trainHours: +(history.reduce((t, e) => t + (e.trainSeconds ?? 0), 0) / 3600).toFixed(2),
      curve: history.map((e) => ({
        epoch: e.epoch,
        synthetic: round(e.validation.modl),
        ...Object.fromEntries(Object.entries(e.validationSets ?? {}).map(([k, v]) => [k, round(v.modl)])),
      })),
    };
  });
}

/** The newest checkpoint of the furthest stage reached. */
export function furthestCheckpoint(runDir: string): string {
  const reached = [...CURRICULUM].reverse().find((s) => latestEpoch(join(runDir, s.name)) > 0);
  if (!reached) throw new Error(`${runDir}: no stage has a checkpoint yet`);
  return resolveCheckpoint(join(runDir, reached.name));
}

/**
 * The record of the stages that made stage `i`'s network: the stage it continued (the one before it),
 * recursively, or, for a stage started from a checkpoint (`init`), that checkpoint's record as it was
 * then (the stages before this one: a later export may have added it), and then the stage itself.
 */
function lineageRecord(runDir: string, i: number): unknown[] {
  const stage = CURRICULUM[i]!, own = curriculumRecord(runDir, [stage]);
  if (!stage.init) return i === 0 ? own : [...lineageRecord(runDir, i - 1), ...own];
  const before = JSON.parse(readFileSync(join(packageRoot(), stage.init, 'modl.json'), 'utf8')) as { trainedOn?: { curriculum?: { name: string }[] } };
  const record = before.trainedOn?.curriculum ?? [];
  const end = record.findIndex((s) => s.name === stage.name);
  return [...(end < 0 ? record : record.slice(0, end)), ...own];
}

/** The curriculum stage whose run folder holds `checkpoint` (-1: none). */
function stageOf(runDir: string, checkpoint: string): number {
  const [first] = relative(runDir, checkpoint).split(sep);
  return CURRICULUM.findIndex((s) => s.name === first);
}

export interface ExportOptions {
  /** The real-case and synthetic scores to record. */
  scores?: object;
  /** Export this checkpoint, with its own record, instead of the furthest stage's newest. */
  from?: string;
  /** How the exported network's denoiser averages over symmetries (default: as the checkpoint's). */
  symmetry?: SymmetrySetting;
}

/**
 * Writes the newest checkpoint of the furthest stage (or `from`) to `to` (the shipped checkpoint), with
 * the record of the stages that made it (a checkpoint from outside the run keeps its own record).
 */
export async function exportShipped(runDir: string, to: string, o: ExportOptions = {}): Promise<string> {
  const from = o.from ?? furthestCheckpoint(runDir);
  const loaded = loadCheckpoint(from), meta = loaded.meta;
  const model = withSymmetries(loaded.model, o.symmetry ?? {});
  const stage = stageOf(runDir, from);
  const trainedOn = stage < 0
    ? meta.trainedOn
    : { ...(meta.trainedOn as object), exportedFrom: relative(packageRoot(), from), pipeline: 'pipelines/train-shipped.ts', curriculum: lineageRecord(runDir, stage) };
  await saveCheckpoint(to, model, { meta: { trainedOn, training: meta.training, validation: { ...(meta.validation as object), ...o.scores } } });
  model.dispose();
  return from;
}

/** Pairs of the synthetic held-out 4× test that the shipped network's int8 activation ranges are calibrated on. */
const INT8_CALIBRATION_PAIRS = 8;

/** Calibrates a checkpoint for int8 inference on held-out simulated pairs (nothing of the real case) and stores it beside its weights. */
export async function calibrateInt8(checkpoint: string, sharedData: string): Promise<void> {
  const { heldOut4x } = await shippedData(sharedData);
  const pairs = await Promise.all(Array.from({ length: INT8_CALIBRATION_PAIRS }, (_, i) => heldOut4x.load(i)));
  const net = ModlReconstructor.load(checkpoint);
  try {
    writeInt8Calibration(checkpoint, await net.calibrateInt8(pairs, { batchSize: 1 }));
  } finally {
    net.dispose();
  }
}

/** The accelerations at which MoDL's real-case PSNR is below the one recorded for the shipped checkpoint. */
function worseThanShipped(shipped: string, real: { acceleration: number; method: string; psnr: number }[]): string[] {
  const record = join(shipped, 'modl.json');
  if (!existsSync(record)) return [];
  const before = ((JSON.parse(readFileSync(record, 'utf8')) as { validation?: { real?: typeof real } }).validation?.real ?? []).filter((r) => r.method === 'MoDL');
  return real.filter((r) => r.method === 'MoDL').flatMap((r) => {
    const old = before.find((b) => b.acceleration === r.acceleration);
    return old && r.psnr < old.psnr ? [`${r.acceleration}×: ${r.psnr.toFixed(2)} vs ${old.psnr.toFixed(2)} dB`] : [];
  });
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'));
if (isMain) {
  const { values } = parseArgs({
    options: {
      run: { type: 'string', default: join(packageRoot(), 'checkpoints', 'modl-training') },
      data: { type: 'string', default: join(packageRoot(), '..', 'shared', 'data') },
      'until-minutes': { type: 'string' },
      export: { type: 'boolean' },
      // --export --from CKPT: that checkpoint instead of the furthest stage's; --symmetries N, --symmetry-plan P: how its
      // denoiser averages over symmetries
      from: { type: 'string' },
      symmetries: { type: 'string' },
      'symmetry-plan': { type: 'string' },
      force: { type: 'boolean' },
      // int8 activation ranges of the shipped checkpoint (--export writes them too)
      'calibrate-int8': { type: 'boolean' },
    },
  });
  const backend = await initBackend({});
  // without ONNX Runtime (a plain `npm ci` drops it on linux/x64: ONNXRUNTIME_NODE_INSTALL=skip) a step takes 2–2.5× as long
  console.log(`backend: ${backend.description}; denoiser passes on ${(await onnxRuntime()) ? 'ONNX Runtime' : 'tfjs (onnxruntime-node not loaded)'}`);
  if (values.export) {
    // the README's protocol and the synthetic 4× test on the network to ship, recorded in its modl.json
    const from = values.from ? resolveCheckpoint(values.from) : undefined;
    const symmetry = parseSymmetrySetting(values);
    const net = ModlReconstructor.load(from ?? furthestCheckpoint(values.run!), symmetry);
    const rows = await evaluateRealCase(loadRealCase(join(values.data!, 'kspace')), { net, bart: hasBart() });
    console.log(realCaseTable(rows));
    const heldOut4x = await validate(net.model, (await shippedData(values.data!)).heldOut4x, net.model.stages, new Map());
    console.log(`synthetic held-out 4× (${heldOut4x.slices} slices): ${JSON.stringify(heldOut4x)}`);
    net.dispose();
    const scores = { real: rows.map(({ acceleration, method, metrics }) => ({ acceleration, method, ...metrics })), syntheticHeldOut4x: heldOut4x };
    const shipped = join(packageRoot(), 'checkpoints', 'modl');
    const worse = worseThanShipped(shipped, scores.real);
    if (worse.length > 0 && !values.force) {
      console.log(`not exported: on the real case it is below the shipped checkpoint (${worse.join('; ')}); --force to export anyway`);
      process.exit(1);
    }
    console.log(`exported ${await exportShipped(values.run!, shipped, { scores, from, symmetry })}`);
    await calibrateInt8(shipped, values.data!);
  } else if (values['calibrate-int8']) {
    await calibrateInt8(join(packageRoot(), 'checkpoints', 'modl'), values.data!);
    console.log('int8 activation ranges written to checkpoints/modl/int8.json');
  } else {
    await trainShipped({ runDir: values.run!, sharedData: values.data!, untilMinutes: values['until-minutes'] ? Number(values['until-minutes']) : undefined });
  }
}
