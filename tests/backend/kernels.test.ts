/**
 * Every replaced wasm kernel against tfjs's cpu backend on random inputs:
 * odd sizes, batch > 1, 'same' and 'valid', strides 1 and 2.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { wasmVsCpu } from './compare.js';

const TOL = 1e-4;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2 });
});

describe('Slice, SplitV, Unpack', () => {
  it.each([
    [[7, 5, 3], [1, 2, 0], [4, 3, 3]],
    [[7, 5, 3], [0, 0, 1], [7, 5, 1]],
    [[2, 9, 11, 6], [1, 2, 3, 1], [1, 5, 7, 4]],
    [[2, 9, 11, 6], [0, 3, 0, 0], [2, 4, 11, 6]],
    [[13], [4], [6]],
    [[3, 4, 5, 6, 7], [1, 0, 2, 1, 3], [2, 4, 2, 5, 3]],
  ])('slice of %j at %j size %j is exact', async (shape, begin, size) => {
    expect(await wasmVsCpu([{ shape, seed: 1 }], (x) => tf.slice(x!, begin, size))).toBe(0);
  });

  it('split and unstack are exact', async () => {
    expect(await wasmVsCpu([{ shape: [3, 10, 7], seed: 2 }], (x) => tf.split(x!, [2, 5, 3], 1))).toBe(0);
    expect(await wasmVsCpu([{ shape: [3, 10, 7], seed: 3 }], (x) => tf.unstack(x!, 2))).toBe(0);
  });
});

describe('Transpose', () => {
  it.each([
    [[4096, 64], [1, 0]], // blocked 2-D path, power-of-two sizes
    [[1, 37, 29, 64], [3, 0, 1, 2]], // NHWC → CNHW, collapses to 2-D
    [[3, 2048, 33], [0, 2, 1]], // batched blocked path
    [[1000, 256], [1, 0]], // blocked with 50-row tiles
    [[1009, 256], [1, 0]], // prime row count: no tile size, plain kernel
    [[8192, 4], [1, 0]], // too narrow for tiles
    [[8191, 5], [1, 0]], // not cache-aliased: plain kernel
    [[2, 3, 4, 5], [2, 0, 3, 1]],
    [[5, 1, 7], [2, 1, 0]],
  ])('%j by %j is exact', async (shape, perm) => {
    expect(await wasmVsCpu([{ shape, seed: 4 }], (x) => tf.transpose(x!, perm))).toBe(0);
  });
});

describe('reductions over leading axes', () => {
  it.each([
    ['sum', [0, 1, 2], false],
    ['mean', [0, 1, 2], true],
    ['max', [0, 2], false],
    ['min', [1], true],
  ] as const)('%s over %j (keepDims %s)', async (op, axes, keepDims) => {
    const err = await wasmVsCpu([{ shape: [2, 33, 17, 5], seed: 5 }], (x) => tf[op](x!, axes as unknown as number[], keepDims));
    expect(err).toBeLessThan(TOL);
  });
});

describe('BatchMatMul', () => {
  it.each([
    [[17, 29], [29, 13], false, false],
    [[29, 17], [29, 13], true, false],
    [[17, 29], [13, 29], false, true],
    [[29, 17], [13, 29], true, true],
    [[3, 17, 29], [3, 29, 13], false, false],
    [[3, 29, 17], [3, 13, 29], true, true],
    [[3, 17, 29], [1, 29, 13], false, false], // shared right-hand side
    [[1, 17, 29], [4, 13, 29], false, true], // shared left-hand side
  ] as const)('%j × %j (transposes %s, %s)', async (aShape, bShape, ta, tb) => {
    const err = await wasmVsCpu([{ shape: [...aShape], seed: 6 }, { shape: [...bShape], seed: 7 }],
      (a, b) => tf.matMul(a!, b!, ta, tb));
    expect(err).toBeLessThan(TOL);
  });

  it('both gradients of matMul', async () => {
    const err = await wasmVsCpu([{ shape: [23, 31], seed: 8 }, { shape: [31, 19], seed: 9 }, { shape: [23, 19], seed: 10 }],
      (a, b, dy) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q), dy!)))([a!, b!]));
    expect(err).toBeLessThan(TOL);
  });
});

/** conv configurations: input [N,H,W,C], filter [kh,kw,C,O], stride, padding */
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
const CONVS: [number[], number[], number, Pad][] = [
  [[2, 9, 11, 3], [3, 3, 3, 5], 1, 'same'],
  [[2, 9, 11, 3], [3, 3, 3, 5], 1, 'valid'],
  [[2, 9, 11, 4], [3, 3, 4, 6], 2, 'same'],
  [[2, 10, 13, 4], [3, 3, 4, 6], 2, 'valid'],
  [[1, 12, 12, 2], [4, 4, 2, 3], 2, 'same'], // even kernel: asymmetric 'same' padding
  [[3, 7, 8, 5], [1, 1, 5, 4], 2, 'valid'], // 1×1 taps, some phases empty
  [[2, 11, 9, 2], [5, 5, 2, 64], 1, 'same'], // few input channels: x windows packed
  [[2, 11, 9, 64], [3, 3, 64, 2], 1, 2], // few output channels, explicit padding
  [[1, 16, 15, 3], [3, 3, 3, 4], 3, 'same'],
  [[2, 11, 10, 2], [3, 3, 2, 32], 2, 'same'], // strided, x windows packed
  [[2, 10, 9, 3], [3, 3, 3, 5], 1, [[0, 0], [2, 0], [1, 3], [0, 0]]], // explicit, asymmetric padding
  [[2, 11, 10, 3], [3, 3, 3, 5], 2, [[0, 0], [0, 1], [2, 1], [0, 0]]],
  [[2, 130, 131, 3], [3, 3, 3, 4], 1, 'same'], // > 16k positions per image: chunked, dy packed
  [[1, 129, 140, 2], [3, 3, 2, 32], 1, 'valid'], // chunked, x windows packed
];

describe('conv2d gradients', () => {
  it.each(CONVS)('input %j filter %j stride %i pad %s: filter gradient', async (xShape, wShape, s, pad) => {
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(wShape) as tf.Tensor4D, s, pad).shape);
    const err = await wasmVsCpu([{ shape: xShape, seed: 11 }, { shape: wShape, seed: 12 }, { shape: outShape, seed: 13 }],
      (x, w, dy) => tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, s, pad), dy!)))(w!));
    expect(err).toBeLessThan(TOL);
  });

  it.each(CONVS)('input %j filter %j stride %i pad %s: input gradient', async (xShape, wShape, s, pad) => {
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(wShape) as tf.Tensor4D, s, pad).shape);
    const err = await wasmVsCpu([{ shape: xShape, seed: 14 }, { shape: wShape, seed: 15 }, { shape: outShape, seed: 16 }],
      (x, w, dy) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(v as tf.Tensor4D, w as tf.Tensor4D, s, pad), dy!)))(x!));
    expect(err).toBeLessThan(TOL);
  });

  it.each([
    [[2, 5, 6, 8], [3, 3, 4, 8], [2, 10, 12, 4], 2, 'same'],
    [[2, 5, 6, 8], [4, 4, 4, 8], [2, 12, 14, 4], 2, 'valid'],
    [[1, 7, 7, 3], [3, 3, 2, 3], [1, 7, 7, 2], 1, 'same'],
  ] as const)('conv2dTranspose of %j with %j to %j, stride %i, %s', async (xShape, wShape, outShape, s, pad) => {
    const err = await wasmVsCpu([{ shape: [...xShape], seed: 17 }, { shape: [...wShape], seed: 18 }],
      (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [...outShape] as [number, number, number, number], s, pad));
    expect(err).toBeLessThan(TOL);
  });
});
