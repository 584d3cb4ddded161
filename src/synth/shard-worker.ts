/**
 * Worker thread of `modl synth`: makes whole shards, one at a time, and writes
 * them itself (h5wasm is one WebAssembly instance per thread, so workers write
 * in parallel without sharing state). Messages:
 *   in:  { type: 'job', job, images? }          images when sampled on the main thread
 *   out: { type: 'ready', provenance? } once, { type: 'slice' } per slice,
 *        { type: 'done', record } or { type: 'error', name, message, stack } per job
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CArray } from '../physics/complex.js';
import { createGenerator, type ImageGenerator, type SampleInfo } from '../images/generator.js';
import type { ShardJob, SynthParameters } from './manifest.js';
import { makeShard } from './shard.js';

export interface ShardWorkerData {
  dir: string;
  parameters: SynthParameters;
  coilMaps?: CArray[];
  /** Create the generator here (else images come with each job). */
  sampleHere: boolean;
}

const port = parentPort!;
const data = workerData as ShardWorkerData;

const reportError = (e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  port.postMessage({ type: 'error', name: err.name, message: err.message, stack: err.stack });
};

let generator: ImageGenerator | null = null;
try {
  if (data.sampleHere) generator = await createGenerator(data.parameters.generator.name, data.parameters.generator.options);
  port.postMessage({ type: 'ready', provenance: generator?.provenance });
} catch (e) {
  reportError(e);
}

port.on('message', (msg: { type: 'job'; job: ShardJob; images?: { images: Float32Array[]; info: SampleInfo[] } }) => {
  if (msg.type !== 'job') return;
  const source = msg.images ?? generator;
  if (!source) {
    reportError(new Error('shard worker has neither a generator nor images for the job'));
    return;
  }
  makeShard(msg.job, { dir: data.dir, parameters: data.parameters, coilMaps: data.coilMaps }, source, () => port.postMessage({ type: 'slice' }))
    .then((record) => port.postMessage({ type: 'done', record }), reportError);
});
