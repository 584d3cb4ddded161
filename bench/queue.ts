/**
 * The job queue (pipelines/queue.ts) on this machine: a local Redis, a synth
 * dataset of QUEUE_SHARDS shards (default 16, 8 phantom slices of 192×192,
 * 8 coils each) run by 1 and then 2 workers, against `modl synth` on all
 * cores in one process. Needs `redis-server`; skipped without it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseQueueUrl, queueSummary, startQueueWorker, submitSynth } from '../pipelines/queue.js';
import type { SynthParameters } from '../src/synth/manifest.js';
import { synthesize } from '../src/synth/synthesize.js';
import { row } from './util.js';

export default async function queueBench(): Promise<void> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.log('redis-server is not installed (apt-get install redis-server): skipped');
    return;
  }
  const port = 20000 + Math.floor(Math.random() * 20000);
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const root = mkdtempSync(join(tmpdir(), 'modl-bench-queue-'));
  const shards = Number(process.env.QUEUE_SHARDS ?? 16), shardSize = 8;
  const parameters: SynthParameters = {
    generator: { name: 'phantom', options: {} }, count: shards * shardSize, size: [192, 192], coils: [8, 8],
    accelerations: [4], masks: ['random'], snrDb: [30, 30], shardSize, seed: 1, phaseRms: 1,
  };
  try {
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await synthesize({ dir: join(root, 'local'), parameters, workers: availableParallelism() });
    const local = (performance.now() - t0) / 1000;
    row(`modl synth, ${availableParallelism()} worker threads: ${shards} shards of ${shardSize} slices`, (shards / local).toFixed(2), 'shards/s');
    for (const n of [1, 2]) {
      const address = parseQueueUrl(`redis://127.0.0.1:${port}/bench${n}`);
      await submitSynth(address, join(root, `queued${n}`), parameters);
      const t1 = performance.now();
      const workers = Array.from({ length: n }, () => startQueueWorker(address));
      while ((await queueSummary(address)).counts.completed! < shards + 1) await new Promise((r) => setTimeout(r, 200));
      const s = (performance.now() - t1) / 1000;
      await Promise.all(workers.map((w) => w.close()));
      row(`queue, ${n} worker(s)`, (shards / s).toFixed(2), `shards/s (${(s / local).toFixed(2)}× the local run's time)`);
    }
  } finally {
    redis.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
}
