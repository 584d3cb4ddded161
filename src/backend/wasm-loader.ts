/**
 * Loads tfjs's WebAssembly backend under Node, with real multi-threading.
 *
 * tfjs-backend-wasm 4.22.0 ships a threaded SIMD binary but never uses it under
 * Node: its WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired to false there, and
 * its loader hands emscripten the pthread worker as a Blob URL, which Node's
 * worker_threads cannot start. Its C++ also caps the thread pool at half of
 * emscripten_num_logical_cores() (it assumes hyper-threading), so a 2-core
 * machine gets 1 thread. We therefore instantiate the emscripten module
 * ourselves from the package's `wasm-out/` files:
 *  - the pthread worker script (shipped as a JS string) is written once to a real
 *    `.cjs` file, which emscripten's Node path starts with worker_threads;
 *  - the `emscripten_num_logical_cores` import reports twice the wanted count, so
 *    tfjs's cap lands exactly on `threads`;
 * and register tfjs's own `BackendWasm` class on that module under the name
 * 'wasm', so every tfjs wasm kernel (and ours, see kernels/) runs unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { writeFileAtomic } from '../util/fs.js';

const require = createRequire(import.meta.url);
const WASM_OUT = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js'));
/** tfjs registers its wasm backend with this priority; we keep it. */
const WASM_PRIORITY = 2;

// Importing the package registered tfjs's own (single-threaded, async) wasm
// loader as the preferred backend; drop it so that merely importing this module
// leaves tfjs's default (cpu) alone until activateWasmBackend is called.
if ('wasm' in tf.engine().registryFactory && !tf.engine().registry['wasm']) tf.removeBackend('wasm');

/** The parts of an emscripten module that this loader touches. */
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => unknown;
  wasmMemory?: { buffer: ArrayBufferLike };
  PThread?: { runningWorkers: { unref(): void }[]; unusedWorkers: { unref(): void }[] };
  [key: string]: unknown;
}
type EmscriptenFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;
/** The WebAssembly global (this project compiles without the DOM typings that declare it). */
const WebAssemblyApi = (globalThis as unknown as {
  WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: object; module: object }> };
}).WebAssembly;

export interface WasmLoadResult {
  /** Threads XNNPACK actually runs with. */
  threads: number;
  simd: boolean;
  /** Why fewer threads than requested run, if so. */
  threadsUnavailable?: string;
}

/** How long the module (and its pthread workers) may take to start. */
const START_TIMEOUT_MS = 60_000;

let active: { requested: number; result: WasmLoadResult } | null = null;

/**
 * Makes 'wasm' the active tfjs backend with `threads` threads (1: the plain SIMD
 * build, no workers). Replaces any earlier 'wasm' backend, including tfjs's own
 * default registration; a wasm backend we started with the same thread count
 * is reused. A running wasm backend that still holds tensors is never replaced
 * (its tensors would die with it): choose the threads before creating tensors.
 */
export async function activateWasmBackend(threads: number): Promise<WasmLoadResult> {
  const engine = tf.engine();
  const running = engine.registry['wasm'];
  if (active?.requested === threads && running) {
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    return active.result;
  }
  if (running && running.numDataIds() > 0) {
    throw new Error(`the wasm backend already holds ${running.numDataIds()} tensors; `
      + 'a different thread count needs a new wasm instance, so choose it before creating tensors');
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') as boolean;
  let threadsUnavailable: string | undefined;
  if (threads > 1 && !simd) threadsUnavailable = 'no WebAssembly SIMD';
  if (threads > 1 && typeof SharedArrayBuffer === 'undefined') threadsUnavailable = 'no SharedArrayBuffer';
  let threaded = threads > 1 && !threadsUnavailable;
  let module: EmscriptenModule;
  try {
    module = await instantiate(threaded ? threads : 1, simd);
  } catch (e) {
    if (!threaded) throw e;
    // the single-threaded build needs no workers: fall back to it
    threadsUnavailable = (e as Error).message;
    threaded = false;
    module = await instantiate(1, simd);
  }
  // (tf.findBackend would start tfjs's own wasm loader; look in the factory table)
  if ('wasm' in engine.registryFactory) tf.removeBackend('wasm');
  setThreadsCount(threaded ? threads : 1);
  tf.registerBackend('wasm', () => {
    const backend = new BackendWasm(module as never);
    // The pool's threads are started now; emscripten ref()s their workers, which
    // would keep Node alive after main() returns.
    for (const w of module.PThread?.runningWorkers ?? []) w.unref();
    return backend;
  }, WASM_PRIORITY);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  active = { requested: threads, result: { threads: getThreadsCount(), simd, threadsUnavailable } };
  return active.result;
}

async function instantiate(threads: number, simd: boolean): Promise<EmscriptenModule> {
  const threaded = threads > 1;
  const script = threaded ? 'tfjs-backend-wasm-threaded-simd.js' : 'tfjs-backend-wasm.js';
  const binary = threaded ? 'tfjs-backend-wasm-threaded-simd.wasm'
    : simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
  const factory = require(join(WASM_OUT, script)) as EmscriptenFactory;

  let fail: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => { fail = reject; });
  const timer = setTimeout(() => fail(new Error(`the wasm module did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  timer.unref();
  const config: Record<string, unknown> = {
    locateFile: (path: string, prefix: string) => (path.endsWith('.worker.js') ? pthreadWorkerFile() : prefix + path),
    instantiateWasm(imports: { env: Record<string, unknown> }, receive: (instance: object, module: object) => void) {
      if (threaded) imports.env['emscripten_num_logical_cores'] = () => 2 * threads;
      WebAssemblyApi.instantiate(readFileSync(join(WASM_OUT, binary)), imports)
        .then(({ instance, module }) => receive(instance, module), (e: Error) => fail(e));
      return {};
    },
    onAbort: (what: unknown) => fail(new Error(`tfjs wasm module aborted: ${String(what)}`)),
    print: () => {},
  };

  // emscripten installs process-wide handlers that rethrow from inside its
  // minified source (printing a megabyte of it); the default handlers are better.
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = new Map(events.map((e) => [e, process.listeners(e as 'uncaughtException')]));
  let module: EmscriptenModule;
  try {
    module = await Promise.race([factory(config), failed]);
  } finally {
    clearTimeout(timer);
    for (const event of events as 'uncaughtException'[]) {
      for (const l of process.listeners(event)) if (!before.get(event)!.includes(l)) process.removeListener(event, l);
    }
  }
  if (threaded) freshHeapViews(module);
  module['tfjs'] = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return module;
}

/**
 * tfjs reads `module.HEAPF32` etc. directly. With shared memory a growth done by
 * another thread leaves those views on the old, shorter buffer; make them
 * always follow the current one.
 */
function freshHeapViews(module: EmscriptenModule): void {
  const memory = module.wasmMemory;
  if (!memory) return;
  const kinds = {
    HEAP8: Int8Array, HEAPU8: Uint8Array, HEAP16: Int16Array, HEAPU16: Uint16Array,
    HEAP32: Int32Array, HEAPU32: Uint32Array, HEAPF32: Float32Array, HEAPF64: Float64Array,
  } as const;
  for (const [name, View] of Object.entries(kinds) as [string, new (b: ArrayBuffer) => { buffer: ArrayBufferLike }][]) {
    let view = new View(memory.buffer as ArrayBuffer);
    Object.defineProperty(module, name, {
      configurable: true,
      get: () => (view.buffer === memory.buffer ? view : (view = new View(memory.buffer as ArrayBuffer))),
      set: () => {}, // emscripten's own refresh; the getter already follows the memory
    });
  }
}

/** The emscripten pthread worker, written to a real file (once per content). */
function pthreadWorkerFile(): string {
  const { wasmWorkerContents } = require(join(WASM_OUT, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  // The string came from a template literal, which turned its "\n" escapes into
  // real newlines inside string literals; tfjs undoes that the same way.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const file = join(tmpdir(), `modl-tfjs-wasm-pthread-${hash}.cjs`);
  if (!existsSync(file) || statSync(file).size !== Buffer.byteLength(source)) writeFileAtomic(file, source);
  return file;
}
