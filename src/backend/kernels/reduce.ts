/**
 * Reductions over leading axes (sum over N,H,W of an NHWC tensor: every bias
 * gradient, every per-channel statistic). tfjs's wasm reductions only reduce
 * trailing axes and first move the reduced axes there with their own internal
 * (slow, not registry-routed) transpose; we do that move with the blocked
 * transpose and hand tfjs's kernel the layout it wants.
 */
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { originalWasmKernel, type WasmKernelArgs, type WasmKernelFunc } from './registry.js';
import { transposeKernel } from './transpose.js';

/** Kernels with attrs { axis, keepDims } that tfjs implements by transposing. */
export const REDUCTIONS = ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'All', 'Any'] as const;

export function reductionKernel(name: string): WasmKernelFunc {
  return (args: WasmKernelArgs): TensorInfo => {
    const { inputs: { x }, attrs, backend } = args;
    const input = x!;
    const plain = originalWasmKernel(name);
    const axes = util.parseAxisParam(attrs['axis'] as number | number[], input.shape);
    const perm = backend_util.getAxesPermutation(axes, input.shape.length);
    if (perm == null || input.dtype === 'string') return plain(args) as TensorInfo;

    const moved = transposeKernel({ inputs: { x: input }, attrs: { perm }, backend });
    const innermost = backend_util.getInnerMostAxes(axes.length, input.shape.length);
    const out = plain({ inputs: { x: moved }, attrs: { axis: innermost, keepDims: false }, backend }) as TensorInfo;
    backend.disposeData(moved.dataId);
    return attrs['keepDims'] ? { ...out, shape: backend_util.expandShapeToKeepDim(out.shape, axes) } : out;
  };
}
