/**
 * Picks and starts the tfjs compute backend at run time:
 *
 *   auto:  @tensorflow/tfjs-node-gpu → @tensorflow/tfjs-node → wasm → cpu
 *
 * The native packages are optional dependencies (their install downloads
 * libtensorflow and may fail); when they cannot be imported we fall through.
 * The wasm backend is the one this project makes fast for training: threaded
 * SIMD under Node (wasm-loader.ts) plus replacement kernels (kernels/).
 *
 * `initBackend` is idempotent: calling it again with the same request returns
 * the running backend; a different request switches.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { ModlError } from '../util/errors.js';
import { BACKEND_CHOICES, parseBackendOptions, type BackendChoice, type BackendOptions } from './options.js';
import { registerWasmKernels } from './kernels/index.js';
import { activateWasmBackend } from './wasm-loader.js';


export interface BackendInfo {
  /** The tfjs backend name: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** tfjs's own threads. */
  threads: number;
  /** Threads for ONNX Runtime's passes: those requested, whatever tfjs runs with. */
  computeThreads: number;
  /** e.g. "wasm (SIMD, 2 threads)". */
  description: string;
}

let current: { key: string; info: BackendInfo } | null = null;

export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const choice = options.backend ?? 'auto';
  const threads = options.threads ?? availableParallelism();
  if (!BACKEND_CHOICES.includes(choice)) throw new ModlError(`unknown backend '${choice}' (choose ${BACKEND_CHOICES.join(', ')})`);
  if (!Number.isInteger(threads) || threads < 1) throw new ModlError(`threads must be a positive integer, got ${threads}`);
  const key = `${choice}/${threads}/${options.inference ? 'inference' : 'all'}`;
  if (current?.key === key && tf.getBackend() === current.info.name) return current.info;

  const failures: string[] = [];
  const order: Exclude<BackendChoice, 'auto'>[] = choice === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [choice];
  for (const candidate of order) {
    try {
      const info = await start(candidate, threads, options.inference ?? false);
      current = { key, info };
      return info;
    } catch (e) {
      failures.push(`${candidate}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new ModlError(`no tfjs backend could start (${failures.join('; ')})`);
}

/** The backend started by the last `initBackend`, or null. */
export function currentBackend(): BackendInfo | null {
  return current && tf.getBackend() === current.info.name ? current.info : null;
}

async function start(choice: Exclude<BackendChoice, 'auto'>, threads: number, inference: boolean): Promise<BackendInfo> {
  if (!inference || choice === 'cpu') loadTfjsUnion();
  quietCpuBanner();
  switch (choice) {
    case 'node-gpu':
    case 'node': {
      // Importing the binding registers the 'tensorflow' backend; TensorFlow sizes its own thread pools.
      const pkg = choice === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      await import(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} did not start`);
      const n = availableParallelism();
      return { name: 'tensorflow', threads: n, computeThreads: n, description: `${choice} (native TensorFlow${choice === 'node-gpu' ? ', GPU' : ''}, ${n} threads)` };
    }
    case 'wasm': {
      registerWasmKernels();
      const { threads: actual, simd, threadsUnavailable } = await activateWasmBackend(inference ? 1 : threads);
      const note = threadsUnavailable ? `; threads unavailable: ${threadsUnavailable}` : '';
      const onnx = inference ? `; the network on ONNX Runtime, ${plural(threads, 'thread')}` : '';
      return {
        name: 'wasm', threads: actual, computeThreads: inference ? threads : actual,
        description: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${plural(actual, 'thread')}${note}${onnx})`,
      };
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not start');
      return { name: 'cpu', threads: 1, computeThreads: inference ? threads : 1, description: 'cpu (pure JavaScript, 1 thread)' };
    }
  }
}

/**
 * The union package registers every op's gradient (tfjs-core alone registers
 * none) and the cpu backend. A forward-only job on wasm needs neither, and
 * saves the ~0.1 s it takes to load. Loaded by require: an ESM import would
 * first scan its 1.3 MB CommonJS bundle for export names nothing here uses.
 */
function loadTfjsUnion(): void {
  createRequire(import.meta.url)('@tensorflow/tfjs');
}

/** The cpu backend prints an "install tfjs-node" banner on first use; we print our own backend line. */
function quietCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Parses the options, starts the backend and prints the one-line
 * "backend: wasm (SIMD, 2 threads)" to stderr (stdout stays for results).
 */
export async function initBackendFromCli(values: { backend?: string; threads?: string }, o: Pick<BackendOptions, 'inference'> = {}): Promise<BackendInfo> {
  const info = await initBackend({ ...parseBackendOptions(values), ...o });
  console.error(`backend: ${info.description}`);
  return info;
}
