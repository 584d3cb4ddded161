/**
 * Reconstruction and synthesis jobs on a BullMQ queue (Redis), for sites that
 * outgrow one process:
 *
 *   modl submit recon|synth … --queue redis://HOST:PORT/NAME   enqueue
 *   modl worker --queue redis://HOST:PORT/NAME                 run jobs
 *   modl jobs --queue redis://HOST:PORT/NAME                   progress, failures
 *
 * A job's payload is the configuration the local pipelines take (a ReconJob,
 * or the SynthParameters and one shard index), so a queued job and a local
 * run give identical outputs. A synth dataset is a BullMQ flow: one child job
 * per shard, and a parent that writes the manifest once every shard is done.
 *
 * Delivery is at least once, made safe:
 *  - job ids are hashes of the inputs, so a study or shard submitted twice is
 *    one job (completed jobs are kept, so a later resubmission stays a no-op);
 *  - every output reaches its final name by a rename (a recon job writes its
 *    folder beside the final one and renames it; shards are written under a
 *    temporary name), so a worker killed mid-job leaves nothing half-written;
 *  - jobs run in a child process (BullMQ's sandbox), so the worker keeps
 *    renewing its lock however long the computation; when a worker dies its
 *    lock lapses, BullMQ moves the job back, and another worker redoes it;
 *  - a failing job is retried a bounded number of times, then kept as failed
 *    with its error.
 */
import { createHash } from 'node:crypto';
import { availableParallelism, freemem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlowProducer, Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { ModlError } from '../src/util/errors.js';
import { checkSameParameters, readManifest, type SynthParameters } from '../src/synth/manifest.js';
import type { ReconJob } from './recon.js';

export type QueuedJob =
  | { kind: 'recon'; job: ReconJob }
  | { kind: 'synth-shard'; dir: string; parameters: SynthParameters; shard: number }
  | { kind: 'synth-manifest'; dir: string; parameters: SynthParameters };

export interface QueueAddress { connection: ConnectionOptions; name: string; url: string }

/** redis://HOST:PORT/NAME → connection and queue name. */
export function parseQueueUrl(url: string): QueueAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ModlError(`--queue: '${url}' is not a URL (redis://HOST:PORT/NAME)`);
  }
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (u.protocol !== 'redis:' || !u.hostname || !/^[\w.-]+$/.test(name)) {
    throw new ModlError(`--queue: '${url}' must be redis://HOST:PORT/NAME, NAME of letters, digits, '.', '_' or '-'`);
  }
  const connection = { host: u.hostname, port: u.port ? Number(u.port) : 6379, ...(u.password ? { password: decodeURIComponent(u.password) } : {}) };
  return { connection, name, url };
}

/** Retries per job before it is kept as failed, with exponential back-off from 1 s. */
export const JOB_ATTEMPTS = 3;
const JOB_OPTIONS = { attempts: JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: false, removeOnFail: false } as const;

/** A job id from its inputs: the same study or shard, submitted twice, is one job. */
export function jobId(job: QueuedJob): string {
  const key = JSON.stringify(job, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v));
  return `${job.kind}-${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
}

/** Names outputs by absolute path, so that a worker started elsewhere writes to the same place. */
function absoluteRecon(job: ReconJob): ReconJob {
  return { ...job, input: resolve(job.input), outDir: resolve(job.outDir), ...(job.maps ? { maps: resolve(job.maps) } : {}), ...(job.checkpoint ? { checkpoint: resolve(job.checkpoint) } : {}) };
}

/** Producers and `modl jobs` fail at once when Redis cannot be reached, instead of retrying forever (workers do retry). */
function oneShot(address: QueueAddress): ConnectionOptions {
  return { ...address.connection, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5000 } as ConnectionOptions;
}

async function withConnection<T>(address: QueueAddress, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (e) {
    if (e instanceof ModlError) throw e;
    throw new ModlError(`queue ${address.url}: ${(e as Error).message}`);
  }
}

/** Enqueues one recon job per study; returns the job ids (existing ones are not added again). */
export async function submitRecon(address: QueueAddress, jobs: ReconJob[]): Promise<string[]> {
  const queue = new Queue(address.name, { connection: oneShot(address) });
  try {
    return await withConnection(address, async () => {
      const payloads: QueuedJob[] = jobs.map((j) => ({ kind: 'recon', job: absoluteRecon(j) }));
      const added = await queue.addBulk(payloads.map((data) => ({ name: data.kind, data, opts: { ...JOB_OPTIONS, jobId: jobId(data) } })));
      return added.map((j) => j.id!);
    });
  } finally {
    await queue.close();
  }
}

/** Enqueues a synthetic dataset as a flow (one job per shard, then the manifest); returns the manifest job's id. */
export async function submitSynth(address: QueueAddress, dirIn: string, parameters: SynthParameters): Promise<{ id: string; shards: number }> {
  const dir = resolve(dirIn);
  const existing = readManifest(dir);
  if (existing) checkSameParameters(dir, existing.parameters, parameters);
  const { planDataset } = await import('../src/synth/synthesize.js');
  const { jobs } = await planDataset(parameters);
  const parent: QueuedJob = { kind: 'synth-manifest', dir, parameters };
  const flow = new FlowProducer({ connection: oneShot(address) });
  try {
    return await withConnection(address, async () => {
      const children = jobs.map((j) => {
        const data: QueuedJob = { kind: 'synth-shard', dir, parameters, shard: j.index };
        return { name: data.kind, queueName: address.name, data, opts: { ...JOB_OPTIONS, jobId: jobId(data) } };
      });
      const node = await flow.add({ name: parent.kind, queueName: address.name, data: parent, opts: { ...JOB_OPTIONS, jobId: jobId(parent) }, children });
      return { id: node.job.id!, shards: jobs.length };
    });
  } finally {
    await flow.close();
  }
}

export interface WorkerOptions {
  /** Jobs run at once (default 1; at most the cores and one per GiB of free memory). */
  concurrency?: number;
  /** How long a job's lock lasts without renewal: a dead worker's job is redone after about this long (default 30 s). */
  lockSeconds?: number;
  log?: (line: string) => void;
}

/** The jobs one worker runs at once: asked for, bounded by the cores and by free memory (1 GiB a job). */
export function workerConcurrency(asked = 1): number {
  return Math.max(1, Math.min(asked, availableParallelism(), Math.floor(freemem() / 2 ** 30)));
}

/** Starts a worker; it runs until close() (SIGINT/SIGTERM in the CLI). */
export function startQueueWorker(address: QueueAddress, o: WorkerOptions = {}): { worker: Worker; close(): Promise<void> } {
  const log = o.log ?? (() => {});
  const lockDuration = 1000 * (o.lockSeconds ?? 30);
  // beside this module, compiled or not (the sandbox's child process inherits tsx's --import when run from sources)
  const processor = fileURLToPath(import.meta.url).replace(/queue\.(js|ts)$/, 'queue-processor.$1');
  const worker = new Worker(address.name, processor, {
    connection: address.connection,
    concurrency: workerConcurrency(o.concurrency),
    lockDuration,
    stalledInterval: Math.max(1000, lockDuration / 2),
    maxStalledCount: JOB_ATTEMPTS,
  });
  worker.on('active', (job: Job) => log(`${job.id}: started (attempt ${job.attemptsMade + 1})`));
  worker.on('completed', (job: Job) => log(`${job.id}: done`));
  worker.on('failed', (job: Job | undefined, e: Error) => log(`${job?.id ?? '?'}: failed: ${e.message}`));
  worker.on('error', (e: Error) => log(`worker: ${e.message}`));
  return { worker, close: () => worker.close() };
}

/** Runs one job's work (in the sandbox); `progress` takes 0–100. */
export async function runQueuedJob(data: QueuedJob, progress: (pct: number) => Promise<void>, childValues: () => Promise<Record<string, unknown>>): Promise<unknown> {
  if (data.kind === 'recon') {
    const { runReconJob } = await import('./recon.js');
    const job = data.job;
    const { results } = await runReconJob(job); // written beside its final name and renamed when complete
    const metrics = results.map((r) => ({ method: r.method, metrics: r.metrics ?? null }));
    await progress(100);
    return metrics;
  }
  const { makeShardOf, finishManifest } = await import('./queue-synth.js');
  if (data.kind === 'synth-shard') return makeShardOf(data.dir, data.parameters, data.shard);
  const values = await childValues();
  return finishManifest(data.dir, data.parameters, Object.values(values));
}

export interface QueueSummary { counts: Record<string, number>; active: { id: string; progress: unknown }[]; failed: { id: string; attempts: number; reason: string }[] }

/** What `modl jobs` shows: counts by state, the active jobs' progress, the failed jobs' errors. */
export async function queueSummary(address: QueueAddress): Promise<QueueSummary> {
  const queue = new Queue(address.name, { connection: oneShot(address) });
  try {
    return await withConnection(address, async () => {
      const counts = await queue.getJobCounts('waiting', 'waiting-children', 'active', 'delayed', 'completed', 'failed');
      const active = (await queue.getActive()).map((j) => ({ id: j.id!, progress: j.progress }));
      const failed = (await queue.getFailed()).map((j) => ({ id: j.id!, attempts: j.attemptsMade, reason: j.failedReason }));
      return { counts, active, failed };
    });
  } finally {
    await queue.close();
  }
}
