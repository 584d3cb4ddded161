/**
 * What a caller may ask of the tfjs backend (backend/index.ts starts it), and
 * the `--backend` / `--threads` options of the commands that compute. Apart from
 * index.ts so that a command's option table does not load tfjs.
 */
import { availableParallelism } from 'node:os';
import { ModlError } from '../util/errors.js';

export type BackendChoice = 'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'];

export interface BackendOptions {
  backend?: BackendChoice;
  /** Threads for wasm and ONNX Runtime (default: all logical cores). */
  threads?: number;
  /**
   * The job only runs networks forward, their denoiser on ONNX Runtime (the caller
   * checked onnxRuntimeLoadable()): tfjs then only holds tensors, so the wasm
   * backend starts without the worker pool its threads need (0.15–0.25 s) and
   * without the op gradients of the tfjs union package (0.1 s); a later request
   * without `inference` loads them.
   */
  inference?: boolean;
}

/** The backend options of every command that computes (entries of src/cli/args.ts option tables). */
export const backendCliOptions = {
  backend: { type: 'string', arg: 'B', choices: BACKEND_CHOICES, help: 'tfjs backend: auto (default: node-gpu, node, wasm, cpu, the first that starts),\nnode-gpu, node, wasm or cpu' },
  threads: { type: 'string', arg: 'N', help: `threads for the wasm backend (default: all ${availableParallelism()} logical cores)` },
} as const;

/** Validates the raw `--backend` / `--threads` strings. */
export function parseBackendOptions(values: { backend?: string; threads?: string }): BackendOptions {
  const out: BackendOptions = {};
  if (values.backend !== undefined) {
    if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) {
      throw new ModlError(`--backend: unknown backend '${values.backend}' (choose ${BACKEND_CHOICES.join(', ')})`);
    }
    out.backend = values.backend as BackendChoice;
  }
  if (values.threads !== undefined) {
    const n = Number(values.threads);
    if (!Number.isInteger(n) || n < 1) throw new ModlError(`--threads: expected a positive integer, got '${values.threads}'`);
    out.threads = n;
  }
  return out;
}
