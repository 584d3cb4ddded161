/**
 * 'ModlTapWindows' (wasm only, used by the filter gradient): the input windows
 * of all filter taps for one chunk of output positions, gathered in one copy
 * into the operand of a single matrix product (an im2col of the chunk).
 *
 * x is the zero-padded conv input of one batch, channels-first [C, N, Hp, Wp]
 * or channels-last [N, Hp, Wp, C]. Output position p = i·rowLength + j reads,
 * for tap (a, b), pixel (i·s + a, j·s + b). The result is
 *   channels-first: [taps·C, length], row (t, c);   channels-last: [length, taps·C].
 * With stride 1 and rowLength = Wp each channel-first row is one contiguous
 * run of x (positions past a row's end wrap into the next row; the caller
 * zeroes their dy).
 */
import { getKernel, registerKernel } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmKernelArgs } from './registry.js';

export const TAP_WINDOWS = 'ModlTapWindows';

export interface TapWindowsAttrs {
  batchIndex: number;
  /** First output position of the chunk, and the chunk's length. */
  start: number;
  length: number;
  /** Output positions per output row. */
  rowLength: number;
  stride: number;
  /** Taps as [a0, b0, a1, b1, ...]. */
  taps: number[];
  channelsFirst: boolean;
}

function tapWindowsKernel({ inputs: { x }, attrs, backend }: WasmKernelArgs): TensorInfo {
  const input = x!;
  const { batchIndex: n, start, length, rowLength, stride: s, taps, channelsFirst } = attrs as unknown as TapWindowsAttrs;
  const tapCount = taps.length / 2;
  const [channels, batch, height, width] = channelsFirst ? input.shape : [input.shape[3]!, ...input.shape.slice(0, 3)];
  const out = backend.makeOutput(channelsFirst ? [tapCount * channels, length] : [length, tapCount * channels], 'float32');
  const src = backend.typedArrayFromHeap(input) as Float32Array; // views after the allocation: it may grow the heap
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const plane = height! * width!;

  for (let t = 0; t < tapCount; t++) {
    const [a, b] = [taps[2 * t]!, taps[2 * t + 1]!];
    if (channelsFirst && s === 1 && rowLength === width) {
      for (let c = 0; c < channels!; c++) {
        const from = (c * batch! + n) * plane + a * width! + b + start;
        dst.set(src.subarray(from, from + length), (t * channels! + c) * length);
      }
      continue;
    }
    // row by row: the positions of one output row are equally spaced in x
    for (let p = start; p < start + length;) {
      const i = Math.floor(p / rowLength);
      const j0 = p % rowLength;
      const run = Math.min(rowLength - j0, start + length - p);
      const pixel0 = (i * s + a) * width! + j0 * s + b;
      const k0 = p - start;
      if (channelsFirst) {
        for (let c = 0; c < channels!; c++) {
          const from = (c * batch! + n) * plane + pixel0;
          const to = (t * channels! + c) * length + k0;
          for (let j = 0; j < run; j++) dst[to + j] = src[from + j * s]!;
        }
      } else {
        const rowOut = tapCount * channels!;
        for (let j = 0; j < run; j++) {
          const from = (n * plane + pixel0 + j * s) * channels!;
          const to = (k0 + j) * rowOut + t * channels!;
          for (let c = 0; c < channels!; c++) dst[to + c] = src[from + c]!;
        }
      }
      p += run;
    }
  }
  return out;
}

export function registerTapWindows(): void {
  if (!getKernel(TAP_WINDOWS, 'wasm')) {
    registerKernel({ kernelName: TAP_WINDOWS, backendName: 'wasm', kernelFunc: tapWindowsKernel as unknown as KernelFunc });
  }
}
