/**
 * Identity as a shared reference. tfjs's wasm Identity copies the whole
 * tensor, and the engine clones (Identity) every tensor it saves for a
 * gradient: a full copy of each conv input, activation and BN output per
 * training step. Tensors are immutable, so sharing the data is safe; the cpu
 * backend does the same.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { originalWasmKernel, type WasmKernelArgs } from './registry.js';

export function identityKernel(args: WasmKernelArgs): TensorInfo {
  const { inputs: { x }, backend } = args;
  const input = x!;
  if (input.dtype === 'string') return originalWasmKernel('Identity')(args) as TensorInfo;
  backend.incRef(input.dataId);
  return { dataId: input.dataId, shape: input.shape, dtype: input.dtype };
}
