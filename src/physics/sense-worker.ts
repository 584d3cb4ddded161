/**
 * Worker thread of the parallel SENSE normal operator (see sense-parallel.ts):
 * waits on the shared control block, then accumulates its round-robin share of
 * the (sample, coil) terms of AᴴA x into its own partial image.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { CTRL, type BindMessage } from './sense-parallel.js';
import { SenseOp } from './sense.js';

interface Bound {
  ops: SenseOp[];
  x: Float32Array;
  partial: Float32Array;
  n2: number;
  items: number;
}

const { ctrl: ctrlBuf, port, index, count } = workerData as { ctrl: SharedArrayBuffer; port: MessagePort; index: number; count: number };
const ctrl = new Int32Array(ctrlBuf);
const bound = new Map<number, Bound>();

function bind(m: BindMessage): void {
  const n = m.H * m.W;
  const maps = new Float32Array(m.maps), masks = new Float32Array(m.masks);
  const ops = Array.from({ length: m.B }, (_, b) => new SenseOp(
    { data: maps.subarray(2 * b * m.C * n, 2 * (b + 1) * m.C * n), shape: [m.C, m.H, m.W] },
    masks.subarray(b * n, (b + 1) * n),
  ));
  const stride = 2 * m.B * n;
  bound.set(m.id, {
    ops, x: new Float32Array(m.x), n2: 2 * n, items: m.B * m.C,
    partial: new Float32Array(m.partials).subarray(index * stride, (index + 1) * stride),
  });
}

function drainMessages(): void {
  for (let msg = receiveMessageOnPort(port); msg; msg = receiveMessageOnPort(port)) {
    const m = msg.message as BindMessage | { type: 'unbind'; id: number };
    if (m.type === 'bind') bind(m);
    else bound.delete(m.id);
  }
}

function serve(): void {
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, CTRL.seq, seen);
    seen = Atomics.load(ctrl, CTRL.seq);
    if (Atomics.load(ctrl, CTRL.stop)) return;
    drainMessages();
    const job = bound.get(Atomics.load(ctrl, CTRL.bind));
    if (!job) Atomics.store(ctrl, CTRL.missing, 1);
    else {
      job.partial.fill(0);
      const C = job.ops[0]!.coils;
      // items index + 1, index + 1 + T, … (the caller's thread takes 0, T, …)
      for (let i = index + 1; i < job.items; i += count) {
        const b = Math.floor(i / C);
        job.ops[b]!.accumulateNormalCoil(job.x.subarray(b * job.n2, (b + 1) * job.n2), i % C, job.partial.subarray(b * job.n2, (b + 1) * job.n2));
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
