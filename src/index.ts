/**
 * modl as a library: `import { … } from 'modl'`.
 *
 *   await initBackend();                                   // native → wasm → cpu
 *   const study = loadStudy('scan.h5');                    // any supported input
 *   const images = await reconstruct(study.samples, 'modl'); // or 'cgsense', 'zero-filled'
 *
 * The same functions the `modl` commands are built from, one floor per group:
 * file formats, physics (operators, masks, maps, solvers, metrics), synthetic
 * data, the network and its training, and the study-level reconstruction.
 */
import './generative/generators.js';

export { initBackend, currentBackend, type BackendInfo } from './backend/index.js';
export { BACKEND_CHOICES, type BackendChoice, type BackendOptions } from './backend/options.js';
export { ModlError } from './util/errors.js';
export { resolveCheckpoint } from './util/fs.js';

// file formats
export { readCfl, writeCfl, loadCflSlice } from './io/cfl.js';
export { loadKspace, writeKspaceNifti, type KspaceVolume } from './io/kspace.js';
export { detectFormat, loadImageVolumes } from './io/detect.js';
export type { ImageVolume } from './io/volume.js';

// physics
export type { CArray } from './physics/complex.js';
export { cabs } from './physics/complex.js';
export { fft2c, ifft2c } from './physics/fft.js';
export { SenseOp, SenseBatch, maskFromKspace, maskKspace, type LinearOperator, type NormalOperator } from './physics/sense.js';
export { senseBatch } from './physics/sense-parallel.js';
export { symmetries, transformScan, transformImage, type Symmetry } from './physics/symmetry.js';
export { makeMask, randomMask1d, equispacedMask1d, poissonDiscMask2d, type MaskKind, type MaskOptions, type SamplingMask } from './physics/masks.js';
export { espiritMaps, type EspiritOptions, type EspiritResult } from './physics/espirit.js';
export { birdcageMaps, type BirdcageOptions } from './physics/coils.js';
export { cgSense, zeroFilledSense, zeroFilledRss, rss, reconMagnitude, CG_SENSE_DEFAULTS, type CgSenseOptions } from './physics/classical.js';
export { imageMetrics, psnr, ssim, nmse, mse, type Metrics } from './physics/metrics.js';

// synthetic data
export { simulatePair, type SimulationOptions, type TrainingPair } from './synth/simulate.js';
export { synthesize, type SynthesizeOptions, type SynthesizeResult } from './synth/synthesize.js';
export { openDataset, splitDataset, type SynthDataset } from './synth/dataset.js';
export { registerGenerator, createGenerator, listGenerators, type ImageGenerator } from './images/generator.js';
export { PhantomGenerator } from './images/phantom-generator.js';
export { ImageFolderGenerator } from './images/images.js';

// the network
export { Modl, DEFAULT_MODL_CONFIG, type ModlConfig, type ModlMode } from './nn/modl.js';
export { ModlReconstructor, type LoadOptions, type ReconstructOptions } from './nn/infer.js';
export { loadCheckpoint, readInt8Calibration, saveCheckpoint, writeInt8Calibration, type CheckpointMeta } from './nn/checkpoint.js';
export { type Int8Calibration } from './nn/denoiser-int8.js';
export { PRECISIONS, type Precision } from './nn/precision.js';
export { train, type TrainOptions, type PairSource, type EpochInfo } from './nn/train.js';
export { imageLoss, IMAGE_LOSSES, type ImageLoss } from './nn/loss.js';
export type { ReconSample } from './nn/batch.js';
export { splitSampling, kspaceLoss, selfSupervisedBatch, type SamplingSplit } from './nn/ssdu.js';
export { adaptToScan, type AdaptOptions, type AdaptReport } from './nn/adapt.js';
export { simulatedSource, SHIPPED_RECIPE } from './nn/simulated-source.js';
export { trainGenerator } from './generative/train.js';

// studies
export { loadStudy, type Study, type StudyOptions } from './study/study.js';
export { reconstruct, METHODS, type ReconMethod, type MethodSettings } from './study/methods.js';
export { loadRealCase } from './nn/real-validation.js';
export { evaluateRealCase, realCaseTable } from './study/real-case.js';
export { shippedCheckpoint } from './util/paths.js';
