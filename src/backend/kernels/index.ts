/**
 * Our replacements for tfjs 4.22.0 wasm kernels (see each file for why). They
 * rely on that version's kernels and backend internals, which is why the tfjs
 * packages are pinned to exact versions in package.json.
 */
import { batchMatMulKernel } from './batch-matmul.js';
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel } from './conv-backprop.js';
import { identityKernel } from './identity.js';
import { REDUCTIONS, reductionKernel } from './reduce.js';
import { overrideWasmKernel } from './registry.js';
import { sliceKernel, splitVKernel, unpackKernel } from './slice.js';
import { registerTapWindows } from './tap-windows.js';
import { transposeKernel } from './transpose.js';

let registered = false;

/** Registers the replacement kernels on the 'wasm' backend (idempotent). */
export function registerWasmKernels(): void {
  if (registered) return;
  overrideWasmKernel('Identity', identityKernel);
  overrideWasmKernel('Slice', sliceKernel);
  overrideWasmKernel('SplitV', splitVKernel);
  overrideWasmKernel('Unpack', unpackKernel);
  overrideWasmKernel('Transpose', transposeKernel);
  for (const name of REDUCTIONS) overrideWasmKernel(name, reductionKernel(name));
  overrideWasmKernel('BatchMatMul', batchMatMulKernel);
  overrideWasmKernel('Conv2DBackpropInput', conv2dBackpropInputKernel);
  overrideWasmKernel('Conv2DBackpropFilter', conv2dBackpropFilterKernel);
  registerTapWindows();
  registered = true;
}

/** The kernels replaced on 'wasm' (for reports and tests). */
export const REPLACED_KERNELS = [
  'Identity', 'Slice', 'SplitV', 'Unpack', 'Transpose', ...REDUCTIONS, 'BatchMatMul', 'Conv2DBackpropInput', 'Conv2DBackpropFilter',
] as const;
