/**
 * BatchMatMul that always reaches XNNPACK. tfjs's wasm kernel uses XNNPACK's
 * fully-connected operator only for batch 1 without transposes; a transposed
 * input (as in both matMul gradients) or a batch > 1 drops it into a scalar
 * triple loop. Here transposes are done explicitly (blocked transpose) and
 * batches are either folded into the rows of `a` (when `b` is shared) or run
 * one XNNPACK call per batch entry.
 */
import { broadcast_util, util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { originalWasmKernel, reshapedInfo, type WasmKernelArgs } from './registry.js';
import { sliceKernel } from './slice.js';
import { transposeKernel } from './transpose.js';

export function batchMatMulKernel(args: WasmKernelArgs): TensorInfo {
  const { inputs, attrs, backend } = args;
  const a = inputs['a']!;
  const b = inputs['b']!;
  const plain = (x: TensorInfo, y: TensorInfo) =>
    originalWasmKernel('BatchMatMul')({ inputs: { a: x, b: y }, attrs: { transposeA: false, transposeB: false }, backend }) as TensorInfo;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(outerA);
  const batchB = util.sizeFromShape(outerB);
  const transposeA = attrs['transposeA'] as boolean;
  const transposeB = attrs['transposeB'] as boolean;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || (!transposeA && !transposeB && batchA === 1 && batchB === 1)) {
    return originalWasmKernel('BatchMatMul')(args) as TensorInfo;
  }

  const temporaries: TensorInfo[] = [];
  const swapLast = (t: TensorInfo): TensorInfo => {
    const perm = t.shape.map((_, i) => i);
    perm.push(...perm.splice(-2).reverse());
    const out = transposeKernel({ inputs: { x: t }, attrs: { perm }, backend });
    temporaries.push(out);
    return out;
  };
  const A = transposeA ? swapLast(a) : a;
  const B = transposeB ? swapLast(b) : b;
  const [m, k] = A.shape.slice(-2) as [number, number];
  const n = B.shape[B.shape.length - 1]!;
  const outOuter = broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  util.assert(k === B.shape[B.shape.length - 2], () => `matMul: inner dimensions ${k} and ${B.shape[B.shape.length - 2]} differ`);

  let out: TensorInfo;
  if (batchB === 1) {
    // one shared right-hand side: all rows of all batch entries of A in one call
    out = plain(reshapedInfo(A, [1, batchA * m, k]), reshapedInfo(B, [1, k, n]));
  } else if (batchA === 1 || util.arraysEqual(outerA, outerB)) {
    out = perBatch(A, B, batchA, batchB, m, k, n, args);
  } else {
    out = originalWasmKernel('BatchMatMul')({ inputs: { a: A, b: B }, attrs: { transposeA: false, transposeB: false }, backend }) as TensorInfo;
  }
  for (const t of temporaries) backend.disposeData(t.dataId);
  return { ...out, shape: [...outOuter, m, n] };
}

/** One XNNPACK product per batch entry, gathered into one output. */
function perBatch(
  A: TensorInfo, B: TensorInfo, batchA: number, batch: number, m: number, k: number, n: number, args: WasmKernelArgs,
): TensorInfo {
  const { backend } = args;
  const entry = (t: TensorInfo, entries: number, i: number, rows: number, cols: number): TensorInfo =>
    sliceKernel({ ...args, inputs: { x: reshapedInfo(t, [entries, rows, cols]) }, attrs: { begin: [i, 0, 0], size: [1, rows, cols] } });
  const out = backend.makeOutput([batch, m, n], 'float32');
  for (let i = 0; i < batch; i++) {
    const ai = batchA === 1 ? reshapedInfo(A, [1, m, k]) : entry(A, batch, i, m, k);
    const bi = entry(B, batch, i, k, n);
    const pi = originalWasmKernel('BatchMatMul')({ inputs: { a: ai, b: bi }, attrs: { transposeA: false, transposeB: false }, backend }) as TensorInfo;
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(pi), i * m * n);
    for (const t of batchA === 1 ? [bi, pi] : [ai, bi, pi]) backend.disposeData(t.dataId);
  }
  return out;
}
