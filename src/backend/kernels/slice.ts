/**
 * Slice without the whole-input copy. tfjs's wasm Slice first reads the entire
 * input out of the wasm heap (`readSync`, a full copy) and then copies the
 * slice; here the slice is copied straight from heap view to heap view, in the
 * longest contiguous runs the slice allows.
 *
 * SplitV and Unpack are replaced too: tfjs's versions call its Slice function
 * directly, not through the registry.
 */
import * as tf from '@tensorflow/tfjs-core';
import { slice_util, util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { originalWasmKernel, type WasmKernelArgs } from './registry.js';

export function sliceKernel(args: WasmKernelArgs): TensorInfo {
  const { inputs: { x }, attrs, backend } = args;
  const input = x!;
  const [begin, size] = slice_util.parseSliceParams(input as tf.Tensor, attrs['begin'] as number[], attrs['size'] as number[]);
  if (input.dtype === 'string' || util.sizeFromShape(size) === 0) return originalWasmKernel('Slice')(args) as TensorInfo;

  // Allocate first: a heap growth would invalidate views taken before it.
  const out = backend.makeOutput(size, input.dtype);
  const src = backend.typedArrayFromHeap(input);
  const dst = backend.typedArrayFromHeap(out);
  copySlice(src, input.shape, dst, begin, size);
  return out;
}

/** Copies the box `begin`+`size` of a row-major array of `shape` into `dst`. */
export function copySlice(
  src: { subarray(a: number, b: number): ArrayLike<number> }, shape: number[],
  dst: { set(a: ArrayLike<number>, offset: number): void }, begin: number[], size: number[],
): void {
  const rank = shape.length;
  const strides = util.computeStrides(shape);
  const stride = (axis: number) => (axis === rank - 1 ? 1 : strides[axis]!);
  // Trailing axes taken whole are contiguous with the last partial one: one run.
  let runAxis = rank - 1;
  while (runAxis > 0 && size[runAxis] === shape[runAxis]) runAxis--;
  const runLength = size[runAxis]! * (runAxis === rank - 1 ? 1 : strides[runAxis]!);

  const index = new Array<number>(runAxis).fill(0); // odometer over the outer axes
  let base = 0;
  for (let a = 0; a <= runAxis; a++) base += begin[a]! * stride(a);
  let outOffset = 0;
  for (;;) {
    let offset = base;
    for (let a = 0; a < runAxis; a++) offset += index[a]! * stride(a);
    dst.set(src.subarray(offset, offset + runLength), outOffset);
    outOffset += runLength;
    let a = runAxis - 1;
    while (a >= 0 && ++index[a]! === size[a]) index[a--] = 0;
    if (a < 0) break;
  }
}

/** tf.split: one Slice per piece. */
export const splitVKernel = (args: WasmKernelArgs): TensorInfo[] => {
  const { inputs: { x }, attrs } = args;
  const input = x!;
  const axis = util.parseAxisParam(attrs['axis'] as number, input.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(input as tf.Tensor, attrs['numOrSizeSplits'] as number | number[], axis);
  const begin = new Array<number>(input.shape.length).fill(0);
  return sizes.map((s) => {
    const size = input.shape.slice();
    size[axis] = s;
    const piece = sliceKernel({ ...args, attrs: { begin: begin.slice(), size } });
    begin[axis] += s;
    return piece;
  });
};

/** tf.unstack: slices along `axis`, without that axis. */
export const unpackKernel = (args: WasmKernelArgs): TensorInfo[] => {
  const { inputs: { value }, attrs } = args;
  const input = value!;
  const axis = util.parseAxisParam(attrs['axis'] as number, input.shape)[0]!;
  const outShape = input.shape.filter((_, i) => i !== axis);
  const size = input.shape.slice();
  size[axis] = 1;
  return Array.from({ length: input.shape[axis]! }, (_, i) => {
    const begin = new Array<number>(input.shape.length).fill(0);
    begin[axis] = i;
    const piece = sliceKernel({ ...args, inputs: { x: input }, attrs: { begin, size } });
    return { ...piece, shape: outShape };
  });
};

