/**
 * Loading modl's own WebAssembly kernels (wasm/*.c, built by
 * scripts/build-wasm.sh into committed base64 bytes): compiled once per
 * thread, on first use, and skipped where the runtime lacks WebAssembly SIMD
 * or MODL_KERNELS=js asks for the TypeScript reference code.
 */

/** The WebAssembly global (this project compiles without the DOM typings that declare it). */
const WebAssemblyApi = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: unknown };
  };
}).WebAssembly;

/** The exports every kernel module has besides its functions. */
export interface KernelExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  __heap_base: { value: number };
}

export type KernelEngine = 'wasm' | 'js';

/** 'js' when MODL_KERNELS=js asks for the TypeScript code everywhere. */
export function requestedEngine(): KernelEngine {
  return process.env.MODL_KERNELS === 'js' ? 'js' : 'wasm';
}

export interface KernelModule<T> {
  /** Whether the module compiles here (WebAssembly SIMD). */
  available(): boolean;
  /** A new instance, with its own memory. */
  instantiate(): T;
}

/** A kernel module from its base64 bytes, compiled on first use. */
export function kernelModule<T extends KernelExports>(base64: string): KernelModule<T> {
  let compiled: object | null | undefined;
  const compile = () => {
    if (compiled === undefined) {
      try {
        compiled = new WebAssemblyApi.Module(Buffer.from(base64, 'base64'));
      } catch {
        compiled = null;
      }
    }
    return compiled;
  };
  return {
    available: () => compile() !== null,
    instantiate: () => {
      const module = compile();
      if (!module) throw new Error('this runtime cannot compile modl\'s WebAssembly SIMD kernels');
      return new WebAssemblyApi.Instance(module, {}).exports as T;
    },
  };
}

/** The first free byte of a module's memory (after its own data and stack), aligned to 16 for SIMD and float64. */
export function heapStart(k: KernelExports): number {
  return (k.__heap_base.value + 15) & ~15;
}

/** Grows `memory` so that it holds `bytes`; true when it grew (views on its buffer must be made again). */
export function ensureMemory(memory: KernelExports['memory'], bytes: number): boolean {
  const pages = Math.ceil((bytes - memory.buffer.byteLength) / 65536);
  if (pages <= 0) return false;
  memory.grow(pages);
  return true;
}
