/** The synthetic-data path: image generators, the k-space simulation, datasets. */
export { registerGenerator, createGenerator, listGenerators, sampleImages } from './generator.js';
export type { ImageGenerator, GeneratorFactory, GeneratorOptions, SampleInfo } from './generator.js';
export { simulatePair, objectMean } from './simulate.js';
export type { SimulationOptions, TrainingPair, PairMeta } from './simulate.js';
export { synthesize } from './synthesize.js';
export type { SynthesizeOptions, SynthesizeResult } from './synthesize.js';
export { openDataset, splitDataset } from './dataset.js';
export type { SynthDataset, SplitOptions } from './dataset.js';
export { SNR_DEFINITION, planShards, mixSeed } from './manifest.js';
export type { Manifest, ShardRecord, SliceRecord, SynthParameters } from './manifest.js';
export { PhantomGenerator } from './phantom-generator.js';
export { brainAnatomy, renderContrast, dominantTissue } from './phantom.js';
export { CONTRASTS, TISSUES, relaxation, signal, parseSequence } from './tissue.js';
export { ImageFolderGenerator } from './images.js';
export { coilMapsFromKspace, resizeMaps } from './coil-bank.js';
