/**
 * Backend selection, the CLI option parsing, and threaded wasm: 2 threads must
 * really run 2 XNNPACK threads and give the same numbers as 1 thread.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { currentBackend, initBackend, initBackendFromCli } from '../../src/backend/index.js';
import { parseBackendOptions } from '../../src/backend/options.js';
import { onnxRuntime } from '../../src/backend/onnx-runtime.js';
import { ModlError } from '../../src/util/errors.js';

/** conv forward, both conv gradients and a matMul, read back. */
function workload(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, 33, 27, 16], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 16, 32], 0, 1, 'float32', 2) as tf.Tensor4D;
    const f = (p: tf.Tensor4D, q: tf.Tensor4D) => tf.sum(tf.square(tf.conv2d(p, q, 1, 'same')));
    const [dx, dw] = tf.grads(f)([x, w]);
    const m = tf.matMul(tf.reshape(x, [-1, 16]), tf.reshape(x, [-1, 16]), true, false);
    return [tf.conv2d(x, w, 1, 'same'), dx!, dw!, m].map((t) => t.dataSync() as Float32Array);
  });
}

describe('initBackend', () => {
  it('auto falls through the native bindings (not installed here) to threaded wasm', async () => {
    const info = await initBackend();
    expect(tf.getBackend()).toBe(info.name);
    if (info.name === 'wasm') {
      expect(info.threads).toBe(availableParallelism());
      expect(info.description).toMatch(/^wasm \(SIMD, \d+ threads?\)$/);
    }
    expect(await initBackend()).toBe(info); // idempotent
    expect(currentBackend()).toBe(info);
  });

  it('runs 2 wasm threads with results identical to 1 thread', async () => {
    const two = await initBackend({ backend: 'wasm', threads: 2 });
    expect(two).toMatchObject({ name: 'wasm', threads: 2, description: 'wasm (SIMD, 2 threads)' });
    const threaded = workload();
    const one = await initBackend({ backend: 'wasm', threads: 1 });
    expect(one).toMatchObject({ name: 'wasm', threads: 1, description: 'wasm (SIMD, 1 thread)' });
    const single = workload();
    for (let i = 0; i < threaded.length; i++) expect(Array.from(threaded[i]!)).toEqual(Array.from(single[i]!));
  });

  it('for inference alone, starts wasm without its worker pool and leaves the requested threads to ONNX Runtime', async () => {
    const info = await initBackend({ backend: 'wasm', threads: 2, inference: true });
    expect(info).toMatchObject({ name: 'wasm', threads: 1, computeThreads: 2, description: 'wasm (SIMD, 1 thread; the network on ONNX Runtime, 2 threads)' });
    const ort = await onnxRuntime();
    if (ort) expect(ort.threads).toBe(2);
    expect(await initBackend({ backend: 'wasm', threads: 2 })).toMatchObject({ threads: 2, computeThreads: 2 });
  });

  it('for inference alone, leaves out the op gradients; a later training start loads them', () => {
    // a fresh process: this one's earlier starts have loaded them
    const script = `(async () => {
      const tf = await import('@tensorflow/tfjs-core');
      const { initBackend } = await import('./src/backend/index.ts');
      await initBackend({ backend: 'wasm', threads: 1, inference: true });
      const before = tf.getGradient('Conv2D') !== undefined;
      await initBackend({ backend: 'wasm', threads: 1 });
      const dx = tf.grad((x) => tf.sum(tf.square(x)))(tf.tensor1d([1, -2]));
      console.log(JSON.stringify({ before, dx: Array.from(dx.dataSync()) }));
    })()`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ before: false, dx: [2, -4] });
  });

  it('selects cpu on request and comes back to the same wasm instance, tensors intact', async () => {
    await initBackend({ backend: 'wasm', threads: 2 });
    const kept = tf.tensor1d([1, 2, 3]);
    expect(await initBackend({ backend: 'cpu' })).toMatchObject({ name: 'cpu', threads: 1 });
    expect(tf.getBackend()).toBe('cpu');
    expect((await initBackend({ backend: 'wasm', threads: 2 })).name).toBe('wasm');
    expect(Array.from(kept.dataSync())).toEqual([1, 2, 3]);
    // a new thread count would need a new wasm instance and lose `kept`: refused
    await expect(initBackend({ backend: 'wasm', threads: 1 })).rejects.toThrow(/holds \d+ tensors/);
    kept.dispose();
  });

  it('reports a native binding that is missing instead of falling back', async () => {
    let installed = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      installed = false;
    }
    if (!installed) await expect(initBackend({ backend: 'node' })).rejects.toThrow(ModlError);
  });
});

describe('CLI options', () => {
  it('parses --backend and --threads and rejects bad values with ModlErrors', () => {
    expect(parseBackendOptions({})).toEqual({});
    expect(parseBackendOptions({ backend: 'wasm', threads: '3' })).toEqual({ backend: 'wasm', threads: 3 });
    expect(() => parseBackendOptions({ backend: 'gpu' })).toThrow(/--backend: unknown backend 'gpu'/);
    expect(() => parseBackendOptions({ threads: '0' })).toThrow(ModlError);
    expect(() => parseBackendOptions({ threads: '1.5' })).toThrow(/--threads/);
  });

  it('prints the one-line backend message', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    await initBackendFromCli({ backend: 'wasm', threads: '2' });
    expect(log).toHaveBeenCalledWith('backend: wasm (SIMD, 2 threads)');
    log.mockRestore();
  });
});
