/**
 * Where training pairs come from, all behind the PairSource interface:
 * - modl synth datasets (fastMRI-layout shards with target, maps and mask);
 * - fully sampled k-space files (fastMRI HDF5, BART .cfl, complex NIfTI):
 *   ESPIRiT maps and the SENSE-combined target are computed per slice, and a
 *   seeded retrospective mask is drawn per slice;
 * plus combinators to subset, concatenate and re-mask sources.
 */
import { makeMask, type MaskKind, type PhaseEncodeAxis } from '../physics/masks.js';
import { isFullySampled, kspaceSample, type KspaceSample } from '../physics/sample.js';
import { loadKspace, type KspaceVolume } from '../io/kspace.js';
import { openDataset, splitDataset, type SynthDataset } from '../synth/dataset.js';
import { ModlError } from '../util/errors.js';
import type { ReconSample } from './batch.js';
import type { PairSource } from './train.js';

/** A random draw of mask kind and acceleration per slice, seeded by (seed, slice index). */
export interface MaskPlan {
  kinds: MaskKind[];
  accelerations: number[];
  seed: number;
}

export function drawMask(plan: MaskPlan, index: number, H: number, W: number, phaseEncode: PhaseEncodeAxis = 'W'): Float32Array {
  const seed = plan.seed * 100_003 + index;
  const kind = plan.kinds[seed % plan.kinds.length]!;
  const acceleration = plan.accelerations[Math.floor(seed / plan.kinds.length) % plan.accelerations.length]!;
  return makeMask(kind, H, W, { acceleration, seed, phaseEncode }).mask;
}

/** Pairs of a modl synth dataset, split deterministically into train and validation by shard. */
export function datasetSources(dir: string, validationFraction = 0.1, seed = 0): { train: PairSource; validation: PairSource; dataset: SynthDataset } {
  const dataset = openDataset(dir);
  const split = splitDataset(dataset, { validationFraction, seed });
  if (split.train.length === 0) throw new ModlError(`${dir}: no training pairs after holding out ${validationFraction} for validation`);
  const of = (indices: number[], part: string): PairSource => ({
    length: indices.length,
    load: async (i) => {
      const p = await dataset.load(indices[i]!);
      return { kspace: p.kspace, maps: p.maps, mask: p.mask, target: p.target };
    },
    describe: () => ({ kind: 'modl-synth', dir, part, pairs: indices.length, manifest: { generator: dataset.manifest.generator, parameters: dataset.manifest.parameters } }),
  });
  return { train: of(split.train, 'train'), validation: of(split.validation, 'validation'), dataset };
}

/**
 * Fully sampled k-space files as training pairs: each slice with its mask drawn
 * from `masks`, then the one sample policy (physics/sample.ts: maps by ESPIRiT of
 * the masked k-space, target = SENSE combination of the full data).
 */
export async function kspaceFileSource(paths: string[], masks: MaskPlan): Promise<PairSource> {
  const index: { path: string; slice: number }[] = [];
  for (const path of paths) {
    const vol = await loadKspace(path);
    for (let s = 0; s < vol.kspace.shape[0]!; s++) index.push({ path, slice: s });
  }
  let cached: { path: string; vol: KspaceVolume } | null = null;
  // each pair keeps its mask (a seeded draw by index), so its maps and target are computed once
  const samples = new Map<number, KspaceSample>();
  return {
    length: index.length,
    async load(i) {
      const { path, slice } = index[i]!;
      if (cached?.path !== path) cached = { path, vol: await loadKspace(path) };
      const [, C, H, W] = cached.vol.kspace.shape as [number, number, number, number];
      const n = 2 * C * H * W;
      const kspace = { data: cached.vol.kspace.data.subarray(slice * n, (slice + 1) * n), shape: [C, H, W] };
      let sample = samples.get(i);
      if (!sample) {
        if (!isFullySampled(kspace)) throw new ModlError(`${path}: slice ${slice} is undersampled; training and evaluation need fully sampled k-space`);
        sample = kspaceSample(kspace, { mask: drawMask(masks, i, H, W, cached.vol.phaseEncode) });
        samples.set(i, sample);
      }
      return { ...sample, target: sample.target! };
    },
    describe: () => ({ kind: 'kspace-files', paths, slices: index.length, masks }),
  };
}

/** Replaces each pair's mask by a seeded draw from `plan` (more mask variety than the dataset holds). */
export function remask(source: PairSource, plan: MaskPlan): PairSource {
  return {
    length: source.length,
    async load(i) {
      const p = await source.load(i);
      const [, H, W] = p.kspace.shape as [number, number, number];
      return { ...p, mask: drawMask(plan, i, H, W) };
    },
    describe: () => ({ ...(source.describe() as object), remasked: plan }),
  };
}

/** The first `n` pairs (or all). */
export function limit(source: PairSource, n: number): PairSource {
  const length = Math.min(n, source.length);
  return { length, load: (i) => source.load(i), describe: () => ({ ...(source.describe() as object), limitedTo: length }) };
}

/** Several sources one after another. */
export function concat(sources: PairSource[]): PairSource {
  const starts: number[] = [];
  let length = 0;
  for (const s of sources) { starts.push(length); length += s.length; }
  return {
    length,
    async load(i): Promise<ReconSample> {
      let k = sources.length - 1;
      while (starts[k]! > i) k--;
      return sources[k]!.load(i - starts[k]!);
    },
    describe: () => sources.map((s) => s.describe()),
  };
}
