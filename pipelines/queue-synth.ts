/**
 * The synth side of the queue (pipelines/queue.ts): one shard of a dataset
 * made exactly as `modl synth` makes it, and the manifest written once every
 * shard is done. A worker process keeps the generator and the coil maps of the
 * dataset it last served, since consecutive shards mostly share them.
 */
import { join } from 'node:path';
import type { CArray } from '../src/physics/complex.js';
import { createGenerator, type ImageGenerator } from '../src/images/generator.js';
import { SHARD_DIR, writeManifest, type ShardRecord, type SynthParameters } from '../src/synth/manifest.js';
import { makeShard } from '../src/synth/shard.js';
import { newManifest, planDataset } from '../src/synth/synthesize.js';
import { ensureDir, removeStaleTemps } from '../src/util/fs.js';

export interface ShardResult { record: ShardRecord; provenance?: Record<string, unknown> }

let cached: { key: string; generator: ImageGenerator; coilMaps: CArray[]; plan: Awaited<ReturnType<typeof planDataset>>['jobs'] } | null = null;

async function datasetContext(p: SynthParameters): Promise<NonNullable<typeof cached>> {
  const key = JSON.stringify(p);
  if (cached?.key !== key) {
    await cached?.generator.dispose?.();
    const { coilMapSets, jobs } = await planDataset(p);
    cached = { key, generator: await createGenerator(p.generator.name, p.generator.options), coilMaps: coilMapSets.map((s) => s.maps), plan: jobs };
  }
  return cached;
}

export async function makeShardOf(dir: string, p: SynthParameters, index: number): Promise<ShardResult> {
  const ctx = await datasetContext(p);
  const job = ctx.plan.find((j) => j.index === index);
  if (!job) throw new Error(`shard ${index} is not in the dataset's plan of ${ctx.plan.length}`);
  ensureDir(join(dir, SHARD_DIR));
  // what an attempt killed while writing this shard left (others' shards may be in progress: only this one's)
  removeStaleTemps(join(dir, job.file));
  const record = await makeShard(job, { dir, parameters: p, coilMaps: ctx.coilMaps }, ctx.generator);
  return { record, provenance: ctx.generator.provenance };
}

export async function finishManifest(dir: string, p: SynthParameters, shards: unknown[]): Promise<{ shards: number }> {
  const { coilMapSets, jobs } = await planDataset(p);
  const results = (shards as ShardResult[]).sort((a, b) => a.record.index - b.record.index);
  if (results.length !== jobs.length) throw new Error(`${results.length} of ${jobs.length} shards reported`);
  const m = newManifest(p, jobs.length);
  m.shards = results.map((r) => r.record);
  m.generator.provenance = results[0]?.provenance ?? {};
  if (coilMapSets.length) m.coilMaps = coilMapSets.map((s) => ({ source: s.source, coils: s.maps.shape[0]! }));
  m.complete = true;
  writeManifest(dir, m);
  return { shards: results.length };
}
