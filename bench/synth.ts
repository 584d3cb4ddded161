/**
 * Synthetic-data benchmarks: the cost of each step for one 256×256, 8-coil
 * pair on one thread, then `modl synth` end to end: SYNTH_COUNT pairs
 * (default 1000) with the phantom generator on all cores, its throughput,
 * peak memory and bytes written. The dataset goes to a temporary folder that
 * is deleted afterwards (about 9 MiB per pair).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PhantomGenerator } from '../src/images/phantom-generator.js';
import { simulatePair } from '../src/synth/simulate.js';
import { ShardBuilder } from '../src/synth/shard.js';
import { synthesize } from '../src/synth/synthesize.js';
import type { SynthParameters } from '../src/synth/manifest.js';
import { medianMs, row } from './util.js';

export default async function synthBench(): Promise<void> {
  const size: [number, number] = [256, 256];
  const gen = new PhantomGenerator({});
  let seed = 0;
  row('phantom image 256x256 (anatomy + contrast)', await medianMs(() => gen.sample(1, seed++, size), 10, 2), 'ms');
  const [image] = await gen.sample(1, 1, size);
  const magnitude = { data: image!, shape: size };
  for (const kind of ['random', 'poisson'] as const) {
    const ms = await medianMs(() => simulatePair(magnitude, seed++, { coils: 8, snrDb: 30, mask: { kind, acceleration: 4 } }), 10, 2);
    row(`simulatePair 256x256x8, ${kind} mask 4x`, ms, 'ms');
  }
  const pair = simulatePair(magnitude, 1, { coils: 8, snrDb: 30, mask: { kind: 'random', acceleration: 4 } });
  const dir = mkdtempSync(join(tmpdir(), 'modl-bench-synth-'));
  try {
    const builder = new ShardBuilder(16, 8, 256, 256);
    row('shard: RSS reference per slice', await medianMs(() => builder.add(0, pair), 10, 2), 'ms');
    for (let j = 1; j < 16; j++) builder.add(j, pair);
    const writeMs = await medianMs(() => builder.write(join(dir, 'one.h5'), {}), 3, 1);
    row('shard: HDF5 write, per slice (16-slice shard)', writeMs / 16, 'ms');

    const count = Number(process.env.SYNTH_COUNT ?? 1000);
    const workers = availableParallelism();
    const parameters: SynthParameters = {
      generator: { name: 'phantom', options: {} }, count, size, coils: [8, 8], accelerations: [4], masks: ['random'],
      snrDb: [30, 30], shardSize: 16, seed: 0, phaseRms: 1,
    };
    const result = await synthesize({ dir: join(dir, 'dataset'), parameters, workers, progress: true });
    const bytes = result.manifest.shards.reduce((s, r) => s + r.bytes, 0);
    row(`modl synth: ${count} pairs 256x256x8, ${workers} workers`, result.seconds, 's');
    row('modl synth: throughput', result.slicesMade / result.seconds, 'pairs/s');
    row('modl synth: peak memory (RSS, all threads)', process.resourceUsage().maxRSS / 1024, 'MiB');
    row('modl synth: written', bytes / 2 ** 30, 'GiB');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
