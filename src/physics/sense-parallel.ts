/**
 * The SENSE normal operator spread over CPU cores. AᴴA x = Σ_c S_cᴴ Fᴴ M² F S_c x
 * is a sum of independent per-coil terms, so the (sample, coil) pairs of a batch
 * are dealt round-robin to the calling thread and a pool of worker threads,
 * each accumulating into its own partial image in shared memory.
 *
 * CG calls the operator synchronously, so the main thread signals the workers
 * and waits for them with Atomics on a small shared control block rather than
 * with messages; the one message per batch (`bind`, carrying the shared maps
 * and masks) is read by the workers with receiveMessageOnPort when they wake.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { startWorker } from '../util/workers.js';
import { SenseBatch, SenseOp } from './sense.js';

/** Slots of the shared Int32 control block (eigenFailed: 1 + the first pixel of a part whose eigen-decomposition failed). */
export const CTRL = { seq: 0, done: 1, bind: 2, stop: 3, missing: 4, ready: 5, failed: 6, eigenFailed: 7 } as const;

/** What a worker needs to rebuild a batch of SENSE operators on shared memory. */
export interface BindMessage {
  type: 'bind';
  id: number;
  H: number; W: number;
  /** Coils of each sample (samples may differ). */
  coils: number[];
  /** ESPIRiT map sets, the same for every sample. */
  sets: number;
  maps: SharedArrayBuffer; // the samples' [S, C_b, H, W] complex maps, one after another
  masks: SharedArrayBuffer; // [B, H, W] real (ones where a sample has no mask)
  x: SharedArrayBuffer; // [B, S, H, W] complex input
  partials: SharedArrayBuffer; // [workers, B, S, H, W] complex outputs
}

/**
 * ESPIRiT's per-pixel eigenvectors (espirit-pixel.ts) on the same threads: each
 * takes one of `parts` contiguous pixel ranges of the packed operator.
 */
export interface EigenBindMessage {
  type: 'bind-eigen';
  id: number;
  C: number;
  npix: number;
  maps: number;
  g: SharedArrayBuffer; // [C(C+1)/2, npix] complex
  vectors: SharedArrayBuffer; // [maps, C, npix] complex
  values: SharedArrayBuffer; // [maps, npix]
}

let physicsThreads = availableParallelism();

/** Threads (including the caller) used by the SENSE normal operator; 1 disables the pool. */
export function setPhysicsThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`physics threads must be a positive integer, got ${n}`);
  physicsThreads = n;
}

export function getPhysicsThreads(): number {
  return physicsThreads;
}

class SensePool {
  readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * 8));
  readonly ports: MessagePort[] = [];
  private readonly workers: Worker[] = [];
  private nextId = 1;
  private started = false;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const { port1, port2 } = new MessageChannel();
      const w = startWorker(new URL('./sense-worker.js', import.meta.url), {
        workerData: { ctrl: this.ctrl.buffer, port: port2, index: i, count: size + 1 },
        transferList: [port2],
      });
      w.unref();
      port1.unref();
      this.workers.push(w);
      this.ports.push(port1);
    }
  }

  /** Waits (without the event loop) until every worker has started, so a broken start fails loudly. */
  private awaitStart(): void {
    const deadline = Date.now() + 60_000;
    for (let r = Atomics.load(this.ctrl, CTRL.ready); r < this.size; r = Atomics.load(this.ctrl, CTRL.ready)) {
      if (Date.now() > deadline) {
        this.stop();
        throw new Error(`SENSE worker threads did not start (${r} of ${this.size} ready after 60 s)`);
      }
      Atomics.wait(this.ctrl, CTRL.ready, r, 1000);
    }
    this.started = true;
  }

  /** Ends the workers (when the thread count changes). */
  stop(): void {
    Atomics.store(this.ctrl, CTRL.stop, 1);
    Atomics.add(this.ctrl, CTRL.seq, 1);
    Atomics.notify(this.ctrl, CTRL.seq);
  }

  newId(): number {
    return this.nextId++;
  }

  /** Starts job `bindId` on every worker; returns once all of them have finished. */
  run(bindId: number, mainShare: () => void): void {
    if (!this.started) this.awaitStart();
    const ctrl = this.ctrl;
    Atomics.store(ctrl, CTRL.bind, bindId);
    Atomics.store(ctrl, CTRL.done, 0);
    Atomics.add(ctrl, CTRL.seq, 1);
    Atomics.notify(ctrl, CTRL.seq);
    mainShare();
    for (let d = Atomics.load(ctrl, CTRL.done); d < this.size; d = Atomics.load(ctrl, CTRL.done)) {
      Atomics.wait(ctrl, CTRL.done, d, 60_000);
    }
    if (Atomics.exchange(ctrl, CTRL.missing, 0)) throw new Error(`SENSE worker had no operators bound for job ${bindId}`);
    if (Atomics.load(ctrl, CTRL.failed)) throw new Error('a SENSE worker thread failed (see its error above)');
  }
}

let pool: SensePool | null = null;

function getPool(workers: number): SensePool {
  if (pool && pool.size !== workers) pool.stop();
  if (!pool || pool.size !== workers) pool = new SensePool(workers);
  return pool;
}

/** Starts the worker threads without waiting for them: their start (~50 ms) overlaps the caller's work. */
export function startPhysicsThreads(): void {
  if (physicsThreads > 1) getPool(physicsThreads - 1);
}

/** Threads (this one included) that a job split into parts may use: 1 where the pool is off. */
export function physicsParts(): number {
  return physicsThreads;
}

/**
 * Runs an ESPIRiT eigenvector job on the worker threads (part index + 1 each)
 * while `mainPart` runs part 0 here. Returns the first pixel of a worker's part
 * whose eigen-decomposition did not converge, or null.
 */
export function runEigenJob(job: Omit<EigenBindMessage, 'type' | 'id'>, mainPart: () => void): number | null {
  const pool = getPool(physicsThreads - 1);
  const id = pool.newId();
  const message: EigenBindMessage = { type: 'bind-eigen', id, ...job };
  for (const port of pool.ports) port.postMessage(message);
  try {
    Atomics.store(pool.ctrl, CTRL.eigenFailed, 0);
    pool.run(id, mainPart);
    const failed = Atomics.exchange(pool.ctrl, CTRL.eigenFailed, 0);
    return failed ? failed - 1 : null;
  } finally {
    for (const port of pool.ports) port.postMessage({ type: 'unbind', id });
  }
}

/** A batch of SENSE operators whose normal operator runs on several threads. */
export class ParallelSenseBatch extends SenseBatch {
  private readonly pool: SensePool;
  private readonly id: number;
  private readonly local: SenseOp[]; // the main thread's operators, on the shared buffers
  private readonly x: Float32Array;
  private readonly partials: Float32Array;
  private readonly threads: number;
  /** The (sample, coil) terms of AᴴA, in the order dealt to threads. */
  private readonly items: [number, number][];

  constructor(ops: SenseOp[]) {
    super(ops);
    const { H, W, sets } = ops[0]!;
    if (ops.some((o) => o.H !== H || o.W !== W || o.sets !== sets)) throw new Error('ParallelSenseBatch: all samples need one image size and map-set count');
    this.items = ops.flatMap((o, b) => Array.from({ length: o.coils }, (_, c) => [b, c] as [number, number]));
    this.pool = getPool(physicsThreads - 1);
    this.threads = this.pool.size + 1;
    const threads = this.threads;
    this.id = this.pool.newId();
    const n = H * W;
    const coils = ops.map((o) => o.coils);
    const mapOffsets = coils.map((_, b) => 2 * sets * n * coils.slice(0, b).reduce((a, c) => a + c, 0));
    const maps = new Float32Array(new SharedArrayBuffer(8 * sets * n * coils.reduce((a, c) => a + c, 0)));
    const masks = new Float32Array(new SharedArrayBuffer(4 * this.batch * n));
    ops.forEach((o, b) => {
      maps.set(o.maps.data, mapOffsets[b]);
      if (o.mask) masks.set(o.mask, b * n);
      else masks.fill(1, b * n, (b + 1) * n);
    });
    this.x = new Float32Array(new SharedArrayBuffer(8 * this.batch * this.sampleSize));
    this.partials = new Float32Array(new SharedArrayBuffer(8 * (threads - 1) * this.batch * this.sampleSize));
    this.local = ops.map((o, b) => new SenseOp(
      { data: maps.subarray(mapOffsets[b], mapOffsets[b]! + 2 * sets * o.coils * n), shape: o.maps.shape },
      masks.subarray(b * n, (b + 1) * n),
    ));
    const msg: BindMessage = {
      type: 'bind', id: this.id, H, W, coils, sets,
      maps: maps.buffer as SharedArrayBuffer, masks: masks.buffer as SharedArrayBuffer,
      x: this.x.buffer as SharedArrayBuffer, partials: this.partials.buffer as SharedArrayBuffer,
    };
    for (const port of this.pool.ports) port.postMessage(msg);
  }

  override normal(x: Float32Array, out: Float32Array): void {
    const n2 = 2 * this.sampleSize;
    this.x.set(x);
    out.fill(0);
    this.pool.run(this.id, () => {
      // the main thread takes items 0, T, 2T, … of the (sample, coil) list
      for (let i = 0; i < this.items.length; i += this.threads) {
        const [b, c] = this.items[i]!;
        this.local[b]!.accumulateNormalCoil(this.x.subarray(b * n2, (b + 1) * n2), c, out.subarray(b * n2, (b + 1) * n2));
      }
    });
    const p = this.partials;
    const stride = this.batch * n2;
    for (let w = 0; w < this.threads - 1; w++) {
      for (let i = 0; i < stride; i++) out[i] += p[w * stride + i]!;
    }
  }

  /** Lets the workers drop their copy of this batch. */
  override dispose(): void {
    for (const port of this.pool.ports) port.postMessage({ type: 'unbind', id: this.id });
  }
}

/** Below this many complex coil-image elements per call, waking threads costs more than it saves. */
const MIN_PARALLEL_WORK = 1 << 16;

/**
 * The SENSE operator of a batch, its normal operator on as many threads as are
 * configured and useful (more than one coil term, and enough work to pay for
 * the hand-off). Dispose it when done.
 */
export function senseBatch(ops: SenseOp[]): SenseBatch {
  const work = ops.reduce((n, o) => n + o.coils * o.sampleSize, 0);
  if (physicsThreads > 1 && work >= MIN_PARALLEL_WORK && ops.length * ops[0]!.coils > 1) return new ParallelSenseBatch(ops);
  return new SenseBatch(ops);
}
