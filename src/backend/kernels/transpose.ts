/**
 * Transpose, cache-blocked where tfjs's kernel is slow. tfjs's wasm Transpose
 * walks the input with the output's strides; when a dimension is a multiple
 * of a large power of two those strided accesses all land in the same cache
 * sets, and [65536, 64] → [64, 65536] (the layout change of a 256×256×64
 * activation) runs at 0.09 Gelem/s, 30× slower than for 41400 rows. Those
 * cases go in two steps through square-ish tiles, ~7× faster:
 *
 *   [R, C] → [R/b, b, C] → (tiles b×C transposed) [R/b, C, b] → (runs of b moved) [C, R/b, b] = [C, R]
 *
 * Both steps are tfjs's own kernel on shapes it handles well. Any permutation is
 * first reduced to its essential form (size-1 axes dropped, axes that stay
 * neighbours merged), which alone speeds up e.g. NHWC → CNHW; the blocked path
 * covers the 2-D swap and the batched [N, R, C] → [N, C, R].
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { originalWasmKernel, reshapedInfo, type WasmKernelArgs } from './registry.js';

/**
 * When tfjs's kernel is slow for a [rows, cols] swap (measured on shapes from
 * 2^15 to 2^22 elements): large, a side a multiple of 256, and not a short-wide
 * matrix, for which it is already fast.
 */
function aliasesInCache(rows: number, cols: number): boolean {
  return rows * cols >= 1 << 15 && (rows % 256 === 0 || cols % 256 === 0) && (rows >= cols || rows >= 256);
}

export function transposeKernel(args: WasmKernelArgs): TensorInfo {
  const { inputs: { x }, attrs, backend } = args;
  const input = x!;
  const perm = attrs['perm'] as number[];
  const outShape = perm.map((a) => input.shape[a]!);
  const plain = originalWasmKernel('Transpose');
  const { shape, perm: p } = collapsePermutation(input.shape, perm);

  const transposeInfo = (info: TensorInfo, pm: number[]) => plain({ inputs: { x: info }, attrs: { perm: pm }, backend }) as TensorInfo;
  const swap = p.length === 2 ? [1, shape[0]!, shape[1]!] : p.length === 3 && p[0] === 0 && p[1] === 2 ? shape : null;
  let out: TensorInfo;
  if (swap && aliasesInCache(swap[1]!, swap[2]!)) {
    out = blockedSwap(reshapedInfo(input, shape), swap[0]!, swap[1]!, swap[2]!, transposeInfo, backend.disposeData.bind(backend));
  } else {
    out = transposeInfo(reshapedInfo(input, shape), p);
  }
  return { ...out, shape: outShape };
}

/**
 * [N, R, C] → [N, C, R] through b×C tiles, b a divisor of R near 64 (then a
 * tile fits in L1 and the moved runs are 256 bytes). When R has no usable
 * divisor, tfjs's kernel does it directly.
 */
function blockedSwap(
  x: TensorInfo, n: number, rows: number, cols: number,
  transpose: (info: TensorInfo, perm: number[]) => TensorInfo, dispose: (dataId: object) => void,
): TensorInfo {
  const b = tileRows(rows);
  if (b === 0 || cols < 8) return transpose(reshapedInfo(x, [n, rows, cols]), [0, 2, 1]);
  const tiles = transpose(reshapedInfo(x, [n * (rows / b), b, cols]), [0, 2, 1]); // [N·R/b, C, b]
  const out = transpose(reshapedInfo(tiles, [n, rows / b, cols, b]), [0, 2, 1, 3]); // [N, C, R/b, b]
  dispose(tiles.dataId);
  return out;
}

/** A divisor of `rows` in [8, 512], the closest to 64 (0 when there is none). */
export function tileRows(rows: number): number {
  let best = 0;
  for (let d = 8; d <= Math.min(512, rows / 2); d++) {
    if (rows % d === 0 && (best === 0 || Math.abs(Math.log(d / 64)) < Math.abs(Math.log(best / 64)))) best = d;
  }
  return best;
}

/**
 * The essential form of a transpose: size-1 axes removed and runs of axes that
 * stay adjacent and in order merged. E.g. NHWC→CNHW, [N,H,W,C] perm [3,0,1,2],
 * is the 2-D swap [N·H·W, C] → [C, N·H·W].
 */
export function collapsePermutation(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const keptAxes = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const renumbered = new Map(keptAxes.map((a, i) => [a, i]));
  const sizes = keptAxes.map((a) => shape[a]!);
  const order = perm.filter((a) => shape[a] !== 1).map((a) => renumbered.get(a)!);
  // runs of output axes that are also consecutive input axes move as one axis
  const groups: number[][] = [];
  for (const a of order) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] === a - 1) last.push(a);
    else groups.push([a]);
  }
  const byInputOrder = groups.slice().sort((g, h) => g[0]! - h[0]!);
  return {
    shape: byInputOrder.map((g) => g.reduce((n, a) => n * sizes[a]!, 1)),
    perm: groups.map((g) => byInputOrder.indexOf(g)),
  };
}
