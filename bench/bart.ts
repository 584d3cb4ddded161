import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Whether Debian's `bart` is on the PATH (benchmarks compare against it when it is). */
export function hasBart(): boolean {
  return spawnSync('bart', ['version'], { stdio: 'ignore' }).status === 0;
}

/** Median wall time (ms) of a bart command, including its process start and file I/O. */
export function timeBart(args: string[], reps = 5): number {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    execFileSync('bart', args, { stdio: 'ignore' });
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}
