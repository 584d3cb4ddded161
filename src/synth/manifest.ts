/**
 * The dataset manifest (DIR/manifest.json) and the deterministic shard plan.
 *
 * Every random choice of a dataset follows from (seed, shard index, slice
 * index) through mixSeed, never from the order in which workers finish, so a
 * run gives the same files whatever the worker count, and a resumed run
 * regenerates exactly the shards that are missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MaskKind } from '../physics/masks.js';
import { fileError, ModlError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { Rng } from '../util/random.js';
import type { SampleInfo } from '../images/image-generator.js';
import type { PairMeta } from './simulate.js';

export const MANIFEST = 'manifest.json';
/** Shards live in their own folder so fastMRI's SliceDataset can be pointed at it (it opens every file). */
export const SHARD_DIR = 'data';

/** Everything that determines a dataset's content. */
export interface SynthParameters {
  generator: { name: string; options: Record<string, unknown> };
  count: number;
  size: [number, number];
  /** Coil count range [lo, hi] (lo = hi for a fixed count); chosen per shard. Ignored with coil maps from files. */
  coils: [number, number];
  accelerations: number[];
  masks: MaskKind[];
  /** SNR range in dB [lo, hi]; Infinity for noiseless data. */
  snrDb: [number, number];
  shardSize: number;
  seed: number;
  /** 1D masks: fully sampled centre fraction (default: fastMRI's 0.32/R). */
  centerFraction?: number;
  /** Poisson masks: calibration square side (default 24). */
  calib?: number;
  /** RMS of the smooth random phase, radians. */
  phaseRms: number;
  /** k-space files whose ESPIRiT maps replace the simulated birdcage maps. */
  mapsFrom?: string[];
}

export interface SliceRecord extends Omit<PairMeta, 'coils'> {
  /** What the generator says about this image (contrast, source slice, ...). */
  source?: SampleInfo;
  /** Which coil map set (index into manifest.coilMaps) when maps come from files. */
  coilMapSet?: number;
}

export interface ShardRecord {
  index: number;
  /** Relative to the dataset folder. */
  file: string;
  firstSlice: number;
  slices: number;
  coils: number;
  seed: number;
  bytes: number;
  /** fastMRI attrs: max and L2 norm of reconstruction_rss over the shard. */
  max: number;
  norm: number;
  sliceRecords: SliceRecord[];
}

export interface Manifest {
  format: 'modl-synth';
  version: 1;
  createdAt: string;
  updatedAt: string;
  modl: string;
  parameters: SynthParameters;
  generator: { name: string; provenance: Record<string, unknown> };
  coilMaps?: { source: string; coils: number }[];
  snrDefinition: string;
  plannedShards: number;
  shards: ShardRecord[];
  complete: boolean;
}

export const SNR_DEFINITION =
  'SNR_dB = 20 log10(s / sigma): s = mean |target| over pixels above 10% of its 99.5th percentile; ' +
  'sigma^2 = E|n|^2 of the complex noise per k-space sample (unitary FFT, sum_c |S_c|^2 = 1, so sigma is also ' +
  'the noise std of each coil image and of the coil-combined image)';

/** One shard's work, fully determined by the parameters and its index. */
export interface ShardJob {
  index: number;
  file: string;
  firstSlice: number;
  count: number;
  coils: number;
  seed: number;
  /** Seed for the generator's sample() call. */
  imageSeed: number;
  sliceSeeds: number[];
  /** Index of the coil map set (maps from files). */
  coilMapSet?: number;
}

/** A 32-bit seed from integers (murmur3's finaliser over a running hash). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const STREAM = { shard: 1, images: 2, slice: 3 } as const;

export function shardFileName(index: number): string {
  return `${SHARD_DIR}/shard-${String(index).padStart(5, '0')}.h5`;
}

export function planShards(p: SynthParameters, coilMapSets: { coils: number }[] = []): ShardJob[] {
  const jobs: ShardJob[] = [];
  const planned = Math.ceil(p.count / p.shardSize);
  for (let index = 0; index < planned; index++) {
    const firstSlice = index * p.shardSize;
    const count = Math.min(p.shardSize, p.count - firstSlice);
    const seed = mixSeed(p.seed, STREAM.shard, index);
    const rng = new Rng(seed);
    const [lo, hi] = p.coils;
    let coils = lo + rng.int(hi - lo + 1);
    let coilMapSet: number | undefined;
    if (coilMapSets.length > 0) {
      coilMapSet = rng.int(coilMapSets.length);
      coils = coilMapSets[coilMapSet]!.coils;
    }
    jobs.push({
      index, file: shardFileName(index), firstSlice, count, coils, seed,
      imageSeed: mixSeed(p.seed, STREAM.images, index),
      sliceSeeds: Array.from({ length: count }, (_, j) => mixSeed(p.seed, STREAM.slice, firstSlice + j)),
      coilMapSet,
    });
  }
  return jobs;
}

/** Per-slice choices drawn from the slice seed: acceleration, mask kind, SNR. */
export function sliceChoices(p: SynthParameters, sliceSeed: number): { acceleration: number; mask: MaskKind; snrDb: number } {
  const rng = new Rng(mixSeed(sliceSeed, 0x5c));
  const acceleration = p.accelerations[rng.int(p.accelerations.length)]!;
  const mask = p.masks[rng.int(p.masks.length)]!;
  const [lo, hi] = p.snrDb;
  const snrDb = lo === hi ? lo : rng.uniform(lo, hi);
  return { acceleration, mask, snrDb };
}

export function readManifest(dir: string): Manifest | null {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return null;
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'), (_, v) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as Manifest;
  } catch (e) {
    throw fileError(path, `not a valid manifest (${(e as Error).message})`);
  }
  if (m.format !== 'modl-synth' || !Array.isArray(m.shards) || !m.parameters) throw fileError(path, 'not a modl synthetic-dataset manifest');
  return m;
}

export function writeManifest(dir: string, m: Manifest): void {
  m.updatedAt = new Date().toISOString();
  m.shards.sort((a, b) => a.index - b.index);
  // JSON has no Infinity: noiseless SNRs are written as the string "Infinity"
  writeFileAtomic(join(dir, MANIFEST), JSON.stringify(m, (_, v) => (v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v), 1) + '\n');
}

/** Parameters as compared between runs (JSON, keys sorted). */
export function canonicalParameters(p: SynthParameters): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys)
      : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]))
        : v === Infinity ? 'Infinity' : v;
  return JSON.stringify(sortKeys(p));
}

/** Throws a ModlError listing what differs when a folder holds a dataset made with other parameters. */
export function checkSameParameters(dir: string, existing: SynthParameters, wanted: SynthParameters): void {
  if (canonicalParameters(existing) === canonicalParameters(wanted)) return;
  const a = JSON.parse(canonicalParameters(existing)) as Record<string, unknown>;
  const b = JSON.parse(canonicalParameters(wanted)) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  const diffs = keys.map((k) => `${k}: ${JSON.stringify(a[k])} there, ${JSON.stringify(b[k])} now`);
  throw new ModlError(`${dir} holds a dataset made with other parameters (${diffs.join('; ')}); use another --out, the same arguments to resume, or --overwrite`);
}
