/**
 * `npm run bench backend`: 1,000 training steps of a small net with the process
 * memory recorded; then the MoDL denoiser (5 conv layers, 64 filters, 3×3,
 * batch norm) forward and training step (Adam, MSE) per tfjs backend, at
 * 256×256 and 230×180, batch 1 and 4; and the PyTorch peers in the same session.
 *
 * GFLOP/s counts conv FLOPs only: 2·H·W·9·Cin·Cout per layer and image; a
 * training step counts 3× the forward (forward, input and filter gradients).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import type { BackendOptions } from '../src/backend/options.js';
import { Denoiser } from '../src/nn/denoiser.js';
import { convFlops, medianMs, row, sharedPath } from './util.js';
import { packageRoot } from '../src/util/paths.js';

const SIZES: [number, number][] = [[256, 256], [230, 180]];
const BATCHES = [1, 4];
const PYTHON = '/usr/bin/python3';

function trainStep(net: Denoiser, opt: tf.Optimizer, x: tf.Tensor4D, target: tf.Tensor4D): void {
  tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.mean(tf.squaredDifference(net.apply(x, true), target)) as tf.Scalar,
      net.trainableVariables());
    opt.applyGradients(grads);
  });
}

interface Timing { forward: number; train: number }

async function timeDenoiser(h: number, w: number, b: number, reps: number, warmup = 1): Promise<Timing> {
  const net = Denoiser.create(1);
  const opt = tf.train.adam(1e-3);
  const x = tf.randomNormal([b, h, w, 2], 0, 1, 'float32', 1) as tf.Tensor4D;
  const target = tf.randomNormal([b, h, w, 2], 0, 1, 'float32', 2) as tf.Tensor4D;
  // (the tidy must not return the array: tidy walks a returned container element by element)
  const forward = await medianMs(() => tf.tidy(() => { net.apply(x, false).dataSync(); }), reps, warmup);
  const train = await medianMs(() => trainStep(net, opt, x, target), reps, warmup);
  tf.dispose([x, target]);
  opt.dispose();
  net.dispose();
  return { forward, train };
}

function report(label: string, h: number, w: number, b: number, t: Timing): void {
  const gf = convFlops(h, w, b) / 1e6;
  row(`${label} ${h}×${w} b${b} forward`, t.forward, `ms  ${(gf / t.forward).toFixed(1).padStart(6)} GFLOP/s`);
  row(`${label} ${h}×${w} b${b} train step`, t.train, `ms  ${((3 * gf) / t.train).toFixed(1).padStart(6)} GFLOP/s`);
}

function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default async function backendBench(): Promise<void> {
  // first, while the process is small: does memory stay flat over a long run?
  await memoryRun(1000);

  const ours = new Map<string, Timing>(); // `${h}x${w}b${b}` → best tfjs forward and best train step
  const configs: { label: string; options: BackendOptions }[] = [{ label: 'wasm 1 thread', options: { backend: 'wasm', threads: 1 } }];
  const cores = availableParallelism();
  if (cores > 1) configs.push({ label: `wasm ${cores} threads`, options: { backend: 'wasm', threads: cores } });
  for (const native of ['node-gpu', 'node'] as const) {
    try {
      await import(native === 'node' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu');
      configs.push({ label: native, options: { backend: native } });
    } catch {
      console.log(`(${native}: @tensorflow/tfjs-${native} is not installed, skipped)`);
    }
  }

  for (const { label, options } of configs) {
    const info = await initBackend(options);
    console.log(`\n-- backend: ${info.description}`);
    for (const [h, w] of SIZES) {
      for (const b of BATCHES) {
        const t = await timeDenoiser(h, w, b, b === 1 ? 5 : 3);
        report(label, h, w, b, t);
        const key = `${h}x${w}b${b}`;
        const best = ours.get(key) ?? t;
        ours.set(key, { forward: Math.min(best.forward, t.forward), train: Math.min(best.train, t.train) });
      }
    }
  }
  // the pure-JS backend is far slower (its conv gradients most of all): one small case, one run
  const cpu = await initBackend({ backend: 'cpu' });
  console.log(`\n-- backend: ${cpu.description} (32×32 only)`);
  report('cpu', 32, 32, 1, await timeDenoiser(32, 32, 1, 1, 0));

  const root = packageRoot();
  console.log('\n-- PyTorch peers (same session)');
  if (!existsSync(PYTHON) || !hasTorch()) {
    console.log(`skipped: ${PYTHON} with torch not found (apt-get install -y python3-torch)`);
  } else {
    const peer = join(root, 'bench', 'peers', 'torch_denoiser.py');
    for (const [h, w] of SIZES) {
      for (const b of BATCHES) {
        const out = JSON.parse(execFileSync(PYTHON, [peer, String(h), String(w), String(b), String(cores), b === 1 ? '5' : '3'], { encoding: 'utf8' }));
        const t: Timing = { forward: out.forward_ms, train: out.train_ms };
        report(`torch ${out.torch} ${out.threads}t`, h, w, b, t);
        const mine = ours.get(`${h}x${w}b${b}`)!;
        row(`  ratio tfjs/torch ${h}×${w} b${b}`, `${(mine.forward / t.forward).toFixed(2)} / ${(mine.train / t.train).toFixed(2)}`, '(forward / train; < 1: tfjs faster)');
      }
    }
    const modlPeer = sharedPath('bench', 'torch_modl_peer.py');
    if (existsSync(modlPeer)) {
      console.log(`\n${PYTHON} ${modlPeer} 230 180 8`);
      console.log(execFileSync(PYTHON, [modlPeer, '230', '180', '8'], { encoding: 'utf8' }).trim());
    } else {
      console.log(`(${modlPeer} not found, MoDL peer skipped)`);
    }
  }
}

/** 1,000 Adam steps of a small denoiser: rss, wasm heap and tensor count along the way. */
async function memoryRun(steps: number): Promise<void> {
  const info = await initBackend({ backend: 'wasm' });
  console.log(`\n-- memory over ${steps} training steps (5 layers × 32 filters, 2×48×48; ${info.description})`);
  const net = Denoiser.create(2, { width: 32 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomNormal([2, 48, 48, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
  const target = tf.randomNormal([2, 48, 48, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
  const heap = () => (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? 0;
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  const t0 = performance.now();
  for (let step = 0; step <= steps; step++) {
    if (step > 0) trainStep(net, opt, x, target);
    if (step === 1 || step === 10 || step % 250 === 0) {
      row(`step ${step}`, `rss ${mb(process.memoryUsage().rss)} MB`, `wasm heap ${mb(heap())} MB, ${tf.memory().numTensors} tensors`);
    }
  }
  row('time per step', (performance.now() - t0) / steps, 'ms');
  tf.dispose([x, target]);
  opt.dispose();
  net.dispose();
}
