/**
 * `modl synth` as a function: plans the shards, resumes what an earlier run
 * left, and makes the missing shards on worker threads (each worker a whole
 * shard, written by the worker itself), recording each finished shard in the
 * manifest as it lands. Memory stays bounded: a worker holds one shard, and
 * at most one shard per worker is in flight.
 *
 * Resuming: a shard file appears only complete (temp name, then rename) and
 * counts as done only once the manifest records it with its size; leftover
 * temp files are deleted, and a shard file the manifest does not record is
 * made again (to the same content, every random choice being seeded).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { CArray } from '../physics/complex.js';
import { ModlError } from '../util/errors.js';
import { ProgressBar } from '../util/progress.js';
import { startWorker } from '../util/workers.js';
import { coilMapsFromKspace, type CoilMapSet } from './coil-bank.js';
import { createGenerator, generatorEntry, sampleImages, type ImageGenerator, type SampleInfo } from '../images/generator.js';
import {
  checkSameParameters, MANIFEST, planShards, readManifest, SHARD_DIR, SNR_DEFINITION, writeManifest,
  type Manifest, type ShardJob, type ShardRecord, type SynthParameters,
} from './manifest.js';
import { makeShard, type ShardContext } from './shard.js';
import type { ShardWorkerData } from './shard-worker.js';
import { checkOutputLocation, ensureDir, removeStaleTempsIn } from '../util/fs.js';

export interface SynthesizeOptions {
  dir: string;
  parameters: SynthParameters;
  /** Worker threads (default: the CPU count); 0 runs everything on this thread. */
  workers?: number;
  /** Delete this folder's dataset (manifest and shards) first instead of resuming it. */
  overwrite?: boolean;
  /** Progress bar on stderr (default false). */
  progress?: boolean;
  /** Stop after this many shards finished in this run, abandoning shards in flight (an interruption, for tests). */
  stopAfterShards?: number;
  /** Notes for the user (resume status); default: none. */
  log?: (line: string) => void;
}

export interface SynthesizeResult {
  manifest: Manifest;
  shardsMade: number;
  slicesMade: number;
  shardsKept: number;
  seconds: number;
}

const VERSION = '0.1.0';

/** A dataset's coil maps from files (if any) and its shard plan. */
export async function planDataset(p: SynthParameters): Promise<{ coilMapSets: CoilMapSet[]; jobs: ShardJob[] }> {
  const [H, W] = p.size;
  const coilMapSets = await Promise.all((p.mapsFrom ?? []).map((f) => coilMapsFromKspace(f, H, W)));
  return { coilMapSets, jobs: planShards(p, coilMapSets.map((s) => ({ coils: s.maps.shape[0]! }))) };
}

/** The manifest of a dataset before any shard is made. */
export function newManifest(p: SynthParameters, plannedShards: number): Manifest {
  return {
    format: 'modl-synth', version: 1, createdAt: new Date().toISOString(), updatedAt: '', modl: VERSION,
    parameters: p, generator: { name: p.generator.name, provenance: {} }, snrDefinition: SNR_DEFINITION,
    plannedShards, shards: [], complete: false,
  };
}

/** About a shard's size on disk (uncompressed: k-space, maps and target complex64, mask and RSS float32, HDF5 headers). */
export function shardBytes(job: ShardJob, [H, W]: [number, number]): number {
  return job.count * H * W * (16 * job.coils + 16) + 16 * 1024;
}

export async function synthesize(o: SynthesizeOptions): Promise<SynthesizeResult> {
  const t0 = performance.now();
  const p = o.parameters;
  checkParameters(p);
  const log = o.log ?? (() => {});
  if (o.overwrite) removeDataset(o.dir);
  const manifest = readManifest(o.dir);
  if (manifest) checkSameParameters(o.dir, manifest.parameters, p);
  const { coilMapSets, jobs } = await planDataset(p);
  for (const dir of [o.dir, join(o.dir, SHARD_DIR)]) removeStaleTempsIn(dir); // what a killed run was writing
  const kept = (manifest?.shards ?? []).filter((s) => statSync(join(o.dir, s.file), { throwIfNoEntry: false })?.size === s.bytes);
  if (manifest && kept.length < manifest.shards.length) log(`${manifest.shards.length - kept.length} recorded shard(s) missing or changed on disk: making them again`);
  const keptIndex = new Set(kept.map((s) => s.index));
  const pending = jobs.filter((j) => !keptIndex.has(j.index));
  if (manifest && kept.length > 0) log(`resuming: ${kept.length} of ${jobs.length} shards already done`);
  checkOutputLocation(o.dir, 'folder', pending.reduce((sum, j) => sum + shardBytes(j, p.size), 0));
  ensureDir(join(o.dir, SHARD_DIR));

  const entry = generatorEntry(p.generator.name);
  const workers = Math.min(o.workers ?? availableParallelism(), pending.length);
  // the generator lives here when it must (runsIn 'main') or when there are no worker threads
  const local = pending.length > 0 && (entry.runsIn === 'main' || workers === 0)
    ? await createGenerator(p.generator.name, p.generator.options) : null;

  const m: Manifest = manifest ?? newManifest(p, jobs.length);
  m.shards = [...kept];
  if (coilMapSets.length) m.coilMaps = coilMapSets.map((s) => ({ source: s.source, coils: s.maps.shape[0]! }));
  const setProvenance = (prov: Record<string, unknown> | undefined) => {
    if (!prov) return;
    if (manifest && kept.length > 0 && JSON.stringify(manifest.generator.provenance) !== JSON.stringify(prov)) {
      throw new ModlError(`${o.dir}: the generator's inputs changed since the first run (its provenance differs); use another --out or --overwrite`);
    }
    m.generator.provenance = prov;
  };
  setProvenance(local?.provenance);

  const bar = o.progress ? new ProgressBar(p.count, { label: 'synth', initial: kept.reduce((s, r) => s + r.slices, 0), unit: ' pairs/s' }) : null;
  let made = 0, slicesMade = 0;
  const onShard = (record: ShardRecord) => {
    m.shards.push(record);
    made++;
    writeManifest(o.dir, m);
  };
  const onSlice = () => {
    slicesMade++;
    bar?.tick();
  };
  writeManifest(o.dir, m);
  const ctx: ShardContext = { dir: o.dir, parameters: p, coilMaps: coilMapSets.map((s) => s.maps) };
  try {
    if (pending.length > 0 && workers === 0) {
      for (const job of pending) {
        if (o.stopAfterShards !== undefined && made >= o.stopAfterShards) break;
        onShard(await makeShard(job, ctx, local!, onSlice));
      }
    } else if (pending.length > 0) {
      await runOnWorkers(pending, workers, ctx, local, { onShard, onSlice, setProvenance, stopAfter: o.stopAfterShards });
    }
  } finally {
    bar?.finish();
    await local?.dispose?.();
  }
  m.complete = m.shards.length === jobs.length;
  writeManifest(o.dir, m);
  return { manifest: m, shardsMade: made, slicesMade, shardsKept: kept.length, seconds: (performance.now() - t0) / 1000 };
}

interface PoolHooks {
  onShard: (r: ShardRecord) => void;
  onSlice: () => void;
  setProvenance: (p: Record<string, unknown> | undefined) => void;
  stopAfter?: number;
}

interface Deferred<T> { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void }

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void, reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

type WorkerMessage =
  | { type: 'ready'; provenance?: Record<string, unknown> }
  | { type: 'slice' }
  | { type: 'done'; record: ShardRecord }
  | { type: 'error'; name: string; message: string; stack?: string };

/** One worker thread that makes shards on request, one at a time. */
class ShardWorker {
  private readonly worker: Worker;
  /** Settles when the worker has its generator (with the generator's provenance). */
  private readonly started = deferred<Record<string, unknown> | undefined>();
  private current: Deferred<ShardRecord> | null = null;

  constructor(data: ShardWorkerData, onSlice: () => void) {
    this.worker = startWorker(new URL('./shard-worker.js', import.meta.url), { workerData: data });
    const fail = (e: Error) => (this.current ?? this.started).reject(e);
    this.worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'slice') onSlice();
      else if (msg.type === 'ready') this.started.resolve(msg.provenance);
      else if (msg.type === 'done') this.current?.resolve(msg.record);
      else fail(workerError(msg.name, msg.message, msg.stack));
    });
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`shard worker exited (code ${code})`)));
  }

  ready(): Promise<Record<string, unknown> | undefined> {
    return this.started.promise;
  }

  async make(job: ShardJob, images?: { images: Float32Array[]; info: SampleInfo[] }): Promise<ShardRecord> {
    this.current = deferred<ShardRecord>();
    const transfer = images ? [...new Set(images.images.map((im) => im.buffer as ArrayBuffer))] : [];
    this.worker.postMessage({ type: 'job', job, images }, transfer);
    try {
      return await this.current.promise;
    } finally {
      this.current = null;
    }
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Deals the jobs to `n` workers; each takes the next job when it finishes one. */
async function runOnWorkers(jobs: ShardJob[], n: number, ctx: ShardContext, local: ImageGenerator | null, hooks: PoolHooks): Promise<void> {
  const queue = [...jobs];
  const data: ShardWorkerData = { dir: ctx.dir, parameters: ctx.parameters, coilMaps: ctx.coilMaps as CArray[], sampleHere: local === null };
  const workers = Array.from({ length: n }, () => new ShardWorker(data, hooks.onSlice));
  const interrupted = deferred<void>();
  let finished = 0;
  let stopped = false;

  const serve = async (w: ShardWorker) => {
    hooks.setProvenance(await w.ready());
    while (queue.length > 0 && !stopped) {
      const job = queue.shift()!;
      const images = local ? await sampleImages(local, job.count, job.imageSeed, ctx.parameters.size) : undefined;
      hooks.onShard(await w.make(job, images));
      if (hooks.stopAfter !== undefined && ++finished >= hooks.stopAfter) {
        stopped = true;
        interrupted.resolve();
      }
    }
  };

  const serving = Promise.all(workers.map(serve));
  try {
    // an interruption (stopAfter) abandons the shards in flight, as a killed process would
    await Promise.race([serving, interrupted.promise]);
  } finally {
    stopped = true;
    serving.catch(() => {}); // workers terminated mid-shard reject; that is expected here
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function workerError(name?: string, message?: string, stack?: string): Error {
  if (name === 'ModlError') return new ModlError(message ?? 'error in a shard worker');
  const e = new Error(`shard worker: ${message}`);
  if (stack) e.stack = stack;
  return e;
}

function checkParameters(p: SynthParameters): void {
  const bad = (what: string) => { throw new ModlError(`synth: ${what}`); };
  const [H, W] = p.size;
  if (!(Number.isInteger(H) && Number.isInteger(W) && H >= 16 && W >= 16 && H <= 1024 && W <= 1024)) bad(`size ${H}x${W} must be 16..1024 per side`);
  if (!(Number.isInteger(p.count) && p.count >= 1)) bad(`count ${p.count} must be a positive integer`);
  if (!(Number.isInteger(p.shardSize) && p.shardSize >= 1)) bad(`shard size ${p.shardSize} must be a positive integer`);
  const [c0, c1] = p.coils;
  if (!(Number.isInteger(c0) && Number.isInteger(c1) && c0 >= 1 && c1 >= c0 && c1 <= 64)) bad(`coils ${c0}-${c1} must be integers 1..64, low ≤ high`);
  if (p.accelerations.length === 0 || p.accelerations.some((a) => !(a >= 1 && a <= 64))) bad(`accelerations [${p.accelerations}] must be in [1, 64]`);
  if (p.masks.length === 0 || p.masks.some((k) => !['random', 'equispaced', 'poisson'].includes(k))) bad(`mask kinds [${p.masks}] must be random, equispaced or poisson`);
  const [s0, s1] = p.snrDb;
  if (Number.isNaN(s0) || Number.isNaN(s1) || s1 < s0) bad(`SNR range ${s0}-${s1} dB is not a range`);
  if (p.centerFraction !== undefined && !(p.centerFraction > 0 && p.centerFraction <= 1)) bad(`center fraction ${p.centerFraction} must be in (0, 1]`);
  if (p.calib !== undefined && !(Number.isInteger(p.calib) && p.calib >= 0)) bad(`calibration size ${p.calib} must be a non-negative integer`);
  if (!(p.phaseRms >= 0)) bad(`phase RMS ${p.phaseRms} must be ≥ 0`);
}

/** Removes this folder's dataset files only: the manifest, shard files and their temp files. */
function removeDataset(dir: string): void {
  rmSync(join(dir, MANIFEST), { force: true });
  const data = join(dir, SHARD_DIR);
  if (!existsSync(data)) return;
  for (const f of readdirSync(data)) {
    if (/^shard-\d+\.h5$/.test(f)) rmSync(join(data, f), { force: true });
  }
}

/** Temp files of shards an interrupted run was writing. */
