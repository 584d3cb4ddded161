import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../src/util/paths.js';

/** ../shared beside the project root (real data and peer benchmarks), from sources or from dist/. */
export function sharedPath(...parts: string[]): string {
  return join(packageRoot(), '..', 'shared', ...parts);
}

/** Median wall time in ms of `fn` over `reps` runs after `warmup` runs. */
export async function medianMs(fn: () => unknown, reps = 10, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/** Median ms of each job over `reps` rounds in which the jobs take turns, after one warm-up round. */
export async function interleavedMedians(jobs: Record<string, () => unknown>, reps: number): Promise<Record<string, number>> {
  const t: Record<string, number[]> = Object.fromEntries(Object.keys(jobs).map((k) => [k, []]));
  for (let r = 0; r <= reps; r++) {
    for (const [name, job] of Object.entries(jobs)) {
      const t0 = performance.now();
      await job();
      if (r > 0) t[name]!.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!]));
}

export function row(label: string, value: string | number, unit = ''): void {
  const v = typeof value === 'number' ? value.toFixed(value < 10 ? 3 : 1) : value;
  console.log(`${label.padEnd(48)} ${v.padStart(10)} ${unit}`);
}

/** FLOPs of the denoiser's 3×3 convolutions (2·H·W·9·Cin·Cout per layer, complex image as 2 channels) on b images. */
export function convFlops(h: number, w: number, b: number, depth = 5, width = 64): number {
  let perPixel = 0;
  for (let i = 0; i < depth; i++) perPixel += 9 * (i === 0 ? 2 : width) * (i === depth - 1 ? 2 : width);
  return 2 * h * w * b * perPixel;
}
