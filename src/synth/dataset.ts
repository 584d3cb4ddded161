/**
 * Reading a synthetic dataset back for training: random access by global
 * slice index, one slice read from its shard at a time, and a deterministic
 * train/validation split.
 */
import { join } from 'node:path';
import { readFastmri } from '../io/hdf5.js';
import { fileError, ModlError } from '../util/errors.js';
import { Rng } from '../util/random.js';
import { MANIFEST, readManifest, type Manifest, type ShardRecord, type SliceRecord } from './manifest.js';
import type { TrainingPair } from './simulate.js';

export interface SliceLocation {
  shard: ShardRecord;
  /** Slice index inside the shard file. */
  slice: number;
}

export interface SynthDataset {
  dir: string;
  manifest: Manifest;
  /** Number of slices (training pairs) available. */
  length: number;
  /** Which shard and slice hold pair i. */
  locate(i: number): SliceLocation;
  /** Manifest record of pair i (no file access). */
  meta(i: number): SliceRecord & { coils: number };
  /** Pair i, read from disk. */
  load(i: number): Promise<TrainingPair>;
}

/**
 * Opens a dataset written by `modl synth`. An interrupted dataset is refused
 * unless `allowIncomplete`, in which case its finished shards are used.
 */
export function openDataset(dir: string, opts: { allowIncomplete?: boolean } = {}): SynthDataset {
  const manifest = readManifest(dir);
  if (!manifest) throw fileError(join(dir, MANIFEST), 'no manifest: not a dataset written by modl synth');
  if (!manifest.complete && !opts.allowIncomplete) {
    throw new ModlError(`${dir}: dataset incomplete (${manifest.shards.length} of ${manifest.plannedShards} shards); run modl synth again with the same arguments to finish it`);
  }
  const shards = [...manifest.shards].sort((a, b) => a.index - b.index);
  const starts: number[] = [];
  let length = 0;
  for (const s of shards) {
    starts.push(length);
    length += s.slices;
  }
  const locate = (i: number): SliceLocation => {
    if (!(Number.isInteger(i) && i >= 0 && i < length)) throw new RangeError(`pair index ${i} outside the dataset's ${length} pairs`);
    let lo = 0, hi = shards.length - 1;
    while (lo < hi) { // last shard starting at or before i
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return { shard: shards[lo]!, slice: i - starts[lo]! };
  };
  return {
    dir, manifest, length, locate,
    meta(i) {
      const { shard, slice } = locate(i);
      return { ...shard.sliceRecords[slice]!, coils: shard.coils };
    },
    async load(i) {
      const { shard, slice } = locate(i);
      const path = join(dir, shard.file);
      const f = await readFastmri(path, { slices: [slice, slice + 1] });
      const target = f.extra.target, maps = f.extra.maps;
      if (!target || !('complex' in target) || !maps || !('complex' in maps) || !f.mask) {
        throw fileError(path, 'is not a modl synth shard (needs target, maps and mask datasets)');
      }
      const [, C, H, W] = f.kspace.shape as [number, number, number, number];
      return {
        target: { data: target.complex.data, shape: [H, W] },
        kspace: { data: f.kspace.data, shape: [C, H, W] },
        maps: { data: maps.complex.data, shape: [C, H, W] },
        mask: f.mask.data,
        meta: { ...shard.sliceRecords[slice]!, coils: C },
      };
    },
  };
}

export interface SplitOptions {
  /** Fraction of pairs (or shards) for validation (default 0.1). */
  validationFraction?: number;
  /** 'shard' keeps each shard whole on one side; 'index' splits single pairs (default 'shard'). */
  by?: 'shard' | 'index';
  seed?: number;
}

/** A deterministic train/validation split of pair indices (each list sorted). */
export function splitDataset(ds: Pick<SynthDataset, 'length' | 'locate'>, opts: SplitOptions = {}): { train: number[]; validation: number[] } {
  const fraction = opts.validationFraction ?? 0.1;
  if (!(fraction >= 0 && fraction < 1)) throw new ModlError(`validation fraction ${fraction} must be in [0, 1)`);
  const rng = new Rng(opts.seed ?? 0);
  const isValidation = new Uint8Array(ds.length);
  if ((opts.by ?? 'shard') === 'index') {
    const order = rng.permutation(ds.length);
    const nVal = Math.round(fraction * ds.length);
    for (let k = 0; k < nVal; k++) isValidation[order[k]!] = 1;
  } else {
    const shardOf = Array.from({ length: ds.length }, (_, i) => ds.locate(i).shard.index);
    const shardIds = [...new Set(shardOf)].sort((a, b) => a - b);
    const order = rng.permutation(shardIds.length);
    const nVal = Math.round(fraction * shardIds.length);
    const chosen = new Set(Array.from({ length: nVal }, (_, k) => shardIds[order[k]!]!));
    shardOf.forEach((s, i) => { if (chosen.has(s)) isValidation[i] = 1; });
  }
  const train: number[] = [], validation: number[] = [];
  isValidation.forEach((v, i) => (v ? validation : train).push(i));
  return { train, validation };
}
