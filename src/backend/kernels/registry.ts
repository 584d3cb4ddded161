/**
 * Replacing tfjs wasm kernels through the public kernel registry, keeping the
 * originals callable as fallbacks (and their setup functions, which bind the
 * C++ entry points when the backend starts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type WasmKernelArgs = { inputs: NamedTensorInfoMap; attrs: NamedAttrMap; backend: BackendWasm };
export type WasmKernelFunc = (args: WasmKernelArgs) => TensorInfo | TensorInfo[];

const originals = new Map<string, KernelConfig | null>();

/** Registers `kernelFunc` as the wasm kernel `name`, replacing tfjs's one. */
export function overrideWasmKernel(name: string, kernelFunc: WasmKernelFunc): void {
  if (!originals.has(name)) originals.set(name, tf.getKernel(name, 'wasm') ?? null);
  const original = originals.get(name);
  if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: kernelFunc as unknown as KernelFunc,
    setupFunc: original?.setupFunc,
    disposeFunc: original?.disposeFunc,
  });
}

/** tfjs's own wasm kernel `name` (for cases our replacement does not handle). */
export function originalWasmKernel(name: string): WasmKernelFunc {
  const config = originals.has(name) ? originals.get(name) : tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`tfjs has no wasm kernel ${name}`);
  return config.kernelFunc as unknown as WasmKernelFunc;
}

/**
 * A kernel written with ordinary tf ops: its inputs arrive as Tensors, every
 * intermediate is disposed, and the result goes back to the engine as a Tensor
 * (which the engine accepts as a kernel output). Nested ops are not taped: the
 * engine records only the outer kernel, whose gradient tfjs already defines.
 */
export function opKernel<A>(fn: (inputs: Record<string, tf.Tensor>, attrs: A) => tf.Tensor): WasmKernelFunc {
  return ({ inputs, attrs }) => tf.tidy(() => {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [key, info] of Object.entries(inputs)) if (info) tensors[key] = asTensor(info);
    const out = fn(tensors, attrs as unknown as A);
    // never hand an input back as the output: the engine would then own it twice
    return Object.values(tensors).includes(out) ? tf.clone(out) : out;
  });
}

function asTensor(info: TensorInfo): tf.Tensor {
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}

/** A TensorInfo view of the same data with another shape (no copy, no ownership). */
export function reshapedInfo(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}
