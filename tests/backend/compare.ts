/**
 * Runs the same computation on the wasm backend (with our kernels) and on the
 * pure-JS cpu backend from the same seeded inputs, and measures the difference.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/util/random.js';

export interface InputSpec {
  shape: number[];
  seed: number;
}

function values(spec: InputSpec): Float32Array {
  const rng = new Rng(spec.seed);
  return Float32Array.from({ length: spec.shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

/** fn's outputs on `backend`, read back as arrays. */
export async function runOn(backend: string, specs: InputSpec[], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    let arrays: Float32Array[] = [];
    tf.tidy(() => {
      const out = fn(...specs.map((s) => tf.tensor(values(s), s.shape)));
      arrays = (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
    });
    return arrays;
  } finally {
    await tf.setBackend(previous);
  }
}

/** Relative L2 error ‖a − b‖ / ‖b‖ (float64). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** The largest relative error over fn's outputs, wasm against cpu. */
export async function wasmVsCpu(specs: InputSpec[], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<number> {
  const wasm = await runOn('wasm', specs, fn);
  const cpu = await runOn('cpu', specs, fn);
  if (wasm.length !== cpu.length) return Infinity;
  return Math.max(...wasm.map((w, i) => relError(w, cpu[i]!)));
}
