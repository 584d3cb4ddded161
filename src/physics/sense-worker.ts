/**
 * Worker thread of the parallel SENSE normal operator (see sense-parallel.ts):
 * waits on the shared control block, then accumulates its round-robin share of
 * the (sample, coil) terms of AᴴA x into its own partial image, or computes its
 * part of ESPIRiT's per-pixel eigenvectors.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { pixelEigenvectorsPart } from './espirit-pixel.js';
import { CTRL, type BindMessage, type EigenBindMessage } from './sense-parallel.js';
import { SenseOp } from './sense.js';

interface Bound {
  ops: SenseOp[];
  x: Float32Array;
  partial: Float32Array;
  n2: number;
  /** (sample, coil) terms, dealt round-robin over the threads. */
  items: [number, number][];
}

const { ctrl: ctrlBuf, port, index, count } = workerData as { ctrl: SharedArrayBuffer; port: MessagePort; index: number; count: number };
const ctrl = new Int32Array(ctrlBuf);
interface EigenJob {
  C: number; npix: number; maps: number;
  g: Float32Array; vectors: Float32Array; values: Float32Array;
}

const bound = new Map<number, Bound>();
const eigenJobs = new Map<number, EigenJob>();

function bind(m: BindMessage): void {
  const n = m.H * m.W;
  const maps = new Float32Array(m.maps), masks = new Float32Array(m.masks);
  let offset = 0;
  const S = m.sets;
  const ops = m.coils.map((C, b) => {
    const shape = S === 1 ? [C, m.H, m.W] : [S, C, m.H, m.W];
    const op = new SenseOp({ data: maps.subarray(offset, offset + 2 * S * C * n), shape }, masks.subarray(b * n, (b + 1) * n));
    offset += 2 * S * C * n;
    return op;
  });
  const stride = 2 * m.coils.length * S * n;
  bound.set(m.id, {
    ops, x: new Float32Array(m.x), n2: 2 * S * n,
    items: m.coils.flatMap((C, b) => Array.from({ length: C }, (_, c) => [b, c] as [number, number])),
    partial: new Float32Array(m.partials).subarray(index * stride, (index + 1) * stride),
  });
}

function drainMessages(): void {
  for (let msg = receiveMessageOnPort(port); msg; msg = receiveMessageOnPort(port)) {
    const m = msg.message as BindMessage | EigenBindMessage | { type: 'unbind'; id: number };
    if (m.type === 'bind') bind(m);
    else if (m.type === 'bind-eigen') {
      eigenJobs.set(m.id, { C: m.C, npix: m.npix, maps: m.maps, g: new Float32Array(m.g), vectors: new Float32Array(m.vectors), values: new Float32Array(m.values) });
    } else {
      bound.delete(m.id);
      eigenJobs.delete(m.id);
    }
  }
}

function serve(): void {
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, CTRL.seq, seen);
    seen = Atomics.load(ctrl, CTRL.seq);
    if (Atomics.load(ctrl, CTRL.stop)) return;
    drainMessages();
    const id = Atomics.load(ctrl, CTRL.bind);
    const job = bound.get(id), eigen = eigenJobs.get(id);
    if (eigen) {
      const error = pixelEigenvectorsPart(eigen.g, eigen.C, eigen.npix, eigen.maps, index + 1, count, eigen.vectors, eigen.values);
      if (error !== null) Atomics.compareExchange(ctrl, CTRL.eigenFailed, 0, error + 1);
    } else if (!job) Atomics.store(ctrl, CTRL.missing, 1);
    else {
      job.partial.fill(0);
      // items index + 1, index + 1 + T, … (the caller's thread takes 0, T, …)
      for (let i = index + 1; i < job.items.length; i += count) {
        const [b, c] = job.items[i]!;
        job.ops[b]!.accumulateNormalCoil(job.x.subarray(b * job.n2, (b + 1) * job.n2), c, job.partial.subarray(b * job.n2, (b + 1) * job.n2));
      }
    }
    Atomics.add(ctrl, CTRL.done, 1);
    Atomics.notify(ctrl, CTRL.done);
  }
}

Atomics.add(ctrl, CTRL.ready, 1);
Atomics.notify(ctrl, CTRL.ready);
try {
  serve();
} catch (e) {
  // never leave the caller waiting: flag the failure and count this worker as done
  console.error('modl SENSE worker:', e);
  Atomics.store(ctrl, CTRL.failed, 1);
  Atomics.add(ctrl, CTRL.done, 1);
  Atomics.notify(ctrl, CTRL.done);
}
