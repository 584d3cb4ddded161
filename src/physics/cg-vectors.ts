/**
 * The vector updates of conjugate gradient, fused (three passes over the
 * vectors per iteration instead of five), in WebAssembly SIMD (wasm/vec.c)
 * where it runs and in TypeScript otherwise. Products and sums are taken in
 * float64 in both. Each works on a range [off, off + n) of floats.
 */
import { WASM_BASE64 } from './wasm/vec-wasm-bytes.js';
import { ensureMemory, heapStart, kernelModule, requestedEngine, type KernelEngine, type KernelExports } from './wasm-module.js';

export interface CgVectors {
  readonly engine: KernelEngine;
  /**
   * `count` zeroed vectors of n floats. With WebAssembly they live in the
   * module's memory and stay valid until the next alloc on this thread, so a
   * solver copies out what it returns.
   */
  alloc(count: number, n: number): Float32Array[];
  /** out += λ v; returns Re⟨v, out⟩. */
  addScaledDot(out: Float32Array, v: Float32Array, lam: number, off: number, n: number): number;
  /** x += α p, r −= α Ap; returns ‖r‖². */
  stepAndNorm(x: Float32Array, r: Float32Array, p: Float32Array, Ap: Float32Array, alpha: number, off: number, n: number): number;
  /** p = r + β p. */
  newDirection(p: Float32Array, r: Float32Array, beta: number, off: number, n: number): void;
}

const jsVectors: CgVectors = {
  engine: 'js',
  alloc: (count, n) => Array.from({ length: count }, () => new Float32Array(n)),
  addScaledDot(out, v, lam, off, n) {
    let s = 0;
    for (let i = off; i < off + n; i++) {
      out[i] += lam * v[i]!;
      s += v[i]! * out[i]!;
    }
    return s;
  },
  stepAndNorm(x, r, p, Ap, alpha, off, n) {
    let s = 0;
    for (let i = off; i < off + n; i++) {
      x[i] += alpha * p[i]!;
      r[i] -= alpha * Ap[i]!;
      s += r[i]! * r[i]!;
    }
    return s;
  },
  newDirection(p, r, beta, off, n) {
    for (let i = off; i < off + n; i++) p[i] = r[i]! + beta * p[i]!;
  },
};

interface VecExports extends KernelExports {
  addScaledDot(out: number, v: number, lam: number, n: number): number;
  stepAndNorm(x: number, r: number, p: number, Ap: number, alpha: number, n: number): number;
  newDirection(p: number, r: number, beta: number, n: number): void;
}

const vecModule = kernelModule<VecExports>(WASM_BASE64);

function wasmVectors(): CgVectors {
  const wasm = vecModule.instantiate();
  const base = heapStart(wasm);
  // the byte address of element `off` of a view on the module's memory
  const at = (a: Float32Array, off: number) => {
    if (a.buffer !== wasm.memory.buffer) throw new Error('CG vectors must come from alloc() (the module\'s memory)');
    return a.byteOffset + 4 * off;
  };
  return {
    engine: 'wasm',
    alloc(count, n) {
      const stride = (4 * n + 15) & ~15;
      ensureMemory(wasm.memory, base + count * stride);
      const views = Array.from({ length: count }, (_, i) => new Float32Array(wasm.memory.buffer, base + i * stride, n));
      for (const v of views) v.fill(0);
      return views;
    },
    addScaledDot: (out, v, lam, off, n) => wasm.addScaledDot(at(out, off), at(v, off), lam, n),
    stepAndNorm: (x, r, p, Ap, alpha, off, n) => wasm.stepAndNorm(at(x, off), at(r, off), at(p, off), at(Ap, off), alpha, n),
    newDirection: (p, r, beta, off, n) => wasm.newDirection(at(p, off), at(r, off), beta, n),
  };
}

let wasmInstance: CgVectors | undefined;

/** This thread's vector kernels: WebAssembly SIMD unless MODL_KERNELS=js or it cannot run here. */
export function cgVectors(): CgVectors {
  if (requestedEngine() === 'js' || !vecModule.available()) return jsVectors;
  return (wasmInstance ??= wasmVectors());
}

/** The TypeScript kernels (the reference of the tests). */
export const referenceCgVectors = jsVectors;
