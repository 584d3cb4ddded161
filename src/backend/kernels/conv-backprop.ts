/**
 * The two conv2d gradients, composed of fast XNNPACK kernels.
 *
 * For a conv y[n,i,j,o] = Σ_{a,b,c} x[n, i·s+a−pt, j·s+b−pl, c] · w[a,b,c,o]:
 *
 * Conv2DBackpropInput (also the forward pass of conv2dTranspose):
 *   dx[n,q,r,c] = Σ dy[n,i,j,o] · w[a,b,c,o] over i·s+a−pt = q, j·s+b−pl = r.
 *   For stride 1 that is a conv of dy with the flipped filter, in/out channels
 *   swapped. For stride s the outputs split into s² phases (q mod s, r mod s);
 *   each phase is a stride-1 conv of dy with the taps of w that reach it (every
 *   s-th tap), and a pixel shuffle (reshape + transpose) interleaves the
 *   phases: no zero-stuffing, the FLOP count of the direct sum. tfjs's wasm
 *   kernel is a scalar C++ loop.
 *
 * Conv2DBackpropFilter (missing from tfjs's wasm backend):
 *   dw[a,b,c,o] = Σ_{n,i,j} x[n, i·s+a−pt, j·s+b−pl, c] · dy[n,i,j,o],
 *   one matrix product per tap (a,b) over the positions (n,i,j): [C, P]·[P, O].
 *   XNNPACK repacks the right-hand operand of each product (2-7 ns/element),
 *   so whichever of dy or the x windows has fewer elements goes there.
 *   Positions are taken in chunks of ~8k, so that each packed block stays in
 *   cache (packing a 16 MB operand costs 3× more per element), and all taps'
 *   windows of a chunk are gathered from zero-padded x in one copy
 *   (tap-windows.ts) for a single product. For stride 1 the positions run over
 *   whole padded rows of width Wp = Ow+kw−1: each window is then one
 *   contiguous run of x, and dy padded with zero columns to Wp cancels the
 *   positions that wrap into the next row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { opKernel, originalWasmKernel, type WasmKernelArgs, type WasmKernelFunc } from './registry.js';
import { TAP_WINDOWS } from './tap-windows.js';

type ConvAttrs = {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

function strideOf(strides: number | [number, number]): [number, number] {
  return typeof strides === 'number' ? [strides, strides] : strides;
}

/** Our kernels cover NHWC with equal strides; tfjs's handle the rest, slowly. */
function withFallback(name: string, kernel: WasmKernelFunc): WasmKernelFunc {
  return (args: WasmKernelArgs) => {
    const attrs = args.attrs as unknown as ConvAttrs;
    const [sh, sw] = strideOf(attrs.strides);
    if (attrs.dataFormat === 'NCHW' || sh !== sw) return originalWasmKernel(name)(args);
    return kernel(args);
  };
}

// ------------------------------------------------------------ backprop input

export const conv2dBackpropInputKernel = withFallback('Conv2DBackpropInput',
  opKernel<ConvAttrs & { inputShape: [number, number, number, number] }>(({ dy, filter }, attrs) =>
    conv2dBackpropInput(dy as tf.Tensor4D, filter as tf.Tensor4D, attrs.inputShape, strideOf(attrs.strides)[0], attrs.pad, attrs.dimRoundingMode)));

/** The rows (or columns) of dy that one output phase reads, and its padding. */
interface Phase {
  /** First filter tap of this phase (taps rho, rho+s, ...). */
  rho: number;
  taps: number;
  /** dy index range [from, from+length) and zero rows before/after it. */
  from: number;
  length: number;
  padBefore: number;
  padAfter: number;
}

/**
 * Phase j of a stride-s axis: outputs q = s·m + j, m = 0..planeLength-1.
 * q + pad − a must be a multiple of s, so the taps are a ≡ (j+pad) mod s and
 * output m reads dy[m + c − t] for tap index t, c = ⌊(j+pad)/s⌋.
 */
function phase(j: number, pad: number, s: number, k: number, dyLength: number, planeLength: number): Phase {
  const rho = (j + pad) % s;
  const c = Math.floor((j + pad) / s);
  const taps = rho < k ? Math.ceil((k - rho) / s) : 0;
  const first = c - (taps - 1); // dy index read by plane row 0 with the last tap
  const last = c + planeLength - 1; // dy index read by the last plane row with tap 0
  const from = Math.max(0, first);
  const to = Math.min(dyLength, last + 1);
  return { rho, taps, from, length: to - from, padBefore: Math.max(0, -first), padAfter: Math.max(0, last + 1 - dyLength) };
}

export function conv2dBackpropInput(
  dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: [number, number, number, number], s: number,
  pad: ConvAttrs['pad'], dimRoundingMode?: ConvAttrs['dimRoundingMode'],
): tf.Tensor4D {
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape, s, 1, pad, dimRoundingMode);
  const [batch, height, width, inChannels] = inputShape;
  const { filterHeight: kh, filterWidth: kw } = info;
  const planeH = Math.ceil(height / s);
  const planeW = Math.ceil(width / s);
  const planes: tf.Tensor4D[] = [];
  for (let jy = 0; jy < s; jy++) {
    for (let jx = 0; jx < s; jx++) {
      const py = phase(jy, info.padInfo.top, s, kh, info.outHeight, planeH);
      const px = phase(jx, info.padInfo.left, s, kw, info.outWidth, planeW);
      if (py.taps === 0 || px.taps === 0 || py.length <= 0 || px.length <= 0) {
        planes.push(tf.zeros([batch, planeH, planeW, inChannels]));
        continue;
      }
      // this phase's taps, flipped, with input/output channels swapped
      const taps = s === 1 ? filter
        : tf.stridedSlice(filter, [py.rho, px.rho, 0, 0], [kh, kw, filter.shape[2], filter.shape[3]], [s, s, 1, 1]) as tf.Tensor4D;
      const kernel = tf.transpose(tf.reverse(taps, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      const window = py.from === 0 && py.length === dy.shape[1] && px.from === 0 && px.length === dy.shape[2] ? dy
        : tf.slice(dy, [0, py.from, px.from, 0], [batch, py.length, px.length, dy.shape[3]]);
      planes.push(tf.conv2d(window, kernel, 1, [[0, 0], [py.padBefore, py.padAfter], [px.padBefore, px.padAfter], [0, 0]]));
    }
  }
  const interleaved = s === 1 ? planes[0]! : pixelShuffle(tf.concat(planes, 3), s);
  return interleaved.shape[1] === height && interleaved.shape[2] === width ? interleaved
    : tf.slice(interleaved, [0, 0, 0, 0], [batch, height, width, inChannels]);
}

/** [N, H, W, s·s·C] → [N, H·s, W·s, C], channel (jy·s + jx)·C + c to pixel (s·h + jy, s·w + jx) (tf.depthToSpace). */
function pixelShuffle(x: tf.Tensor4D, s: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const blocks = tf.reshape(x, [n, h, w, s, s, c / (s * s)]);
  return tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [n, h * s, w * s, c / (s * s)]);
}

// ----------------------------------------------------------- backprop filter

export const conv2dBackpropFilterKernel = withFallback('Conv2DBackpropFilter',
  opKernel<ConvAttrs & { filterShape: [number, number, number, number] }>(({ x, dy }, attrs) =>
    conv2dBackpropFilter(x as tf.Tensor4D, dy as tf.Tensor4D, attrs.filterShape, strideOf(attrs.strides)[0], attrs.pad, attrs.dimRoundingMode)));

export function conv2dBackpropFilter(
  x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], s: number,
  pad: ConvAttrs['pad'], dimRoundingMode?: ConvAttrs['dimRoundingMode'],
): tf.Tensor4D {
  const info = backend_util.computeConv2DInfo(x.shape, filterShape, s, 1, pad, dimRoundingMode);
  const [kh, kw, inChannels, outChannels] = filterShape;
  const [batch, height, width] = x.shape;
  const { outHeight: oh, outWidth: ow, padInfo } = info;
  // Stride 1: positions over whole padded rows (each window one contiguous run),
  // one spare row for the last tap's overhang. Stride s: exactly the outputs.
  const rowLength = s === 1 ? ow + kw - 1 : ow;
  const hp = s === 1 ? oh + kh : (oh - 1) * s + kh;
  const wp = s === 1 ? rowLength : (ow - 1) * s + kw;
  const xp = padOrCrop(x, padInfo.top, hp - padInfo.top - height, padInfo.left, wp - padInfo.left - width);
  const dyp = rowLength === ow ? dy : tf.pad(dy, [[0, 0], [0, 0], [0, rowLength - ow], [0, 0]]);
  const runLength = oh * rowLength; // positions per image
  const chunks = Math.ceil(runLength / CHUNK);
  const chunkLength = Math.ceil(runLength / chunks);
  const dyPacked = outChannels <= kh * kw * inChannels; // else the x windows are packed

  // A: windows [taps·C, L] · dy chunk [L, O];  B: dyᵀ chunk [O, L] · windows [L, taps·C]
  const xWindows = dyPacked ? tf.transpose(xp, [3, 0, 1, 2]) : xp;
  const dyFlat = dyPacked ? tf.reshape(dyp, [batch, runLength, outChannels])
    : tf.reshape(tf.transpose(dyp, [3, 0, 1, 2]), [outChannels, batch, runLength]);
  const taps: number[] = [];
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) taps.push(a, b);
  let sum: tf.Tensor | null = null;
  for (let n = 0; n < batch; n++) {
    for (let start = 0; start < runLength; start += chunkLength) {
      const len = Math.min(chunkLength, runLength - start);
      const previous: tf.Tensor | null = sum;
      sum = tf.tidy(() => {
        const attrs = { batchIndex: n, start, length: len, rowLength, stride: s, taps, channelsFirst: dyPacked };
        const windows = tf.engine().runKernel(TAP_WINDOWS, { x: xWindows }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
        const product = dyPacked
          ? tf.matMul(windows, tf.reshape(tf.slice(dyFlat, [n, start, 0], [1, len, outChannels]), [len, outChannels]))
          : tf.matMul(tf.reshape(tf.slice(dyFlat, [0, n, start], [outChannels, 1, len]), [outChannels, len]), windows);
        return previous ? tf.add(previous, product) : product;
      });
      previous?.dispose();
    }
  }
  return tf.reshape(dyPacked ? sum! : tf.transpose(sum!), filterShape);
}

/** Positions per matrix product: [8k, 64] operands pack and stream from cache (measured best of 4k–64k). */
const CHUNK = 8192;

/** Zero-pads (positive amounts) or crops (negative) the two spatial axes. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cropped = bottom < 0 || right < 0 ? tf.slice(x, [0, 0, 0, 0], [n, h + Math.min(0, bottom), w + Math.min(0, right), c]) : x;
  return tf.pad(cropped, [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]]);
}
