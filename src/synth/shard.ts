/**
 * One shard: a fastMRI-layout HDF5 file of S simulated slices sharing one coil count.
 *
 *   kspace              [S, C, H, W] complex64  fully sampled, noisy, centred
 *   reconstruction_rss  [S, H, W]    float32    RSS of the fully sampled coil images
 *   target              [S, H, W]    complex64  complex ground truth
 *   maps                [S, C, H, W] complex64  coil sensitivities (Σ|S|² = 1)
 *   mask                [S, H, W]    float32    sampling mask per slice
 *   acceleration, sampling_fraction, noise_sigma, snr_db   [S] float32
 *   ismrmrd_header      ISMRMRD XML (matrix sizes, encoding limits) for fastMRI's loader
 *   attrs               max, norm (of reconstruction_rss), acquisition, patient_id, coils, ...
 *
 * The arrays are allocated once per shard and filled slice by slice, so a
 * worker holds one shard at a time (about S·(2C + 1.5)·H·W·8 bytes).
 */
import { CArray, czeros } from '../physics/complex.js';
import { ifft2c } from '../physics/fft.js';
import { rss } from '../physics/classical.js';
import { writeFastmri } from '../io/hdf5.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageGenerator, SampleInfo } from '../images/image-generator.js';
import { sampleImages } from '../images/generator.js';
import { sliceChoices, SNR_DEFINITION, type ShardJob, type ShardRecord, type SliceRecord, type SynthParameters } from './manifest.js';
import { simulatePair, type TrainingPair } from './simulate.js';

/** A minimal valid ISMRMRD header with what fastMRI's SliceDataset reads (encoded/recon matrix, encoding limits). */
export function ismrmrdHeader(H: number, W: number, fieldT?: number): string {
  // fastMRI: encodedSpace x = readout = kspace.shape[-2] (H), y = phase encodes = shape[-1] (W)
  const fov = (n: number) => (n * 1.0).toFixed(1); // 1 mm pixels
  const xyz = (tag: string, x: string | number, y: string | number, z: string | number) =>
    `<${tag}><x>${x}</x><y>${y}</y><z>${z}</z></${tag}>`;
  const space = (tag: string) => `<${tag}>${xyz('matrixSize', H, W, 1)}${xyz('fieldOfView_mm', fov(H), fov(W), '1.0')}</${tag}>`;
  const limit = (tag: string, max: number, center: number) => `<${tag}><minimum>0</minimum><maximum>${max}</maximum><center>${center}</center></${tag}>`;
  const larmorHz = Math.round(42_577_478.5 * (fieldT ?? 3));
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD" xmlns:xs="http://www.w3.org/2001/XMLSchema">',
    `<experimentalConditions><H1resonanceFrequency_Hz>${larmorHz}</H1resonanceFrequency_Hz></experimentalConditions>`,
    `<encoding>${space('encodedSpace')}${space('reconSpace')}`,
    `<encodingLimits>${limit('kspace_encoding_step_1', W - 1, W >> 1)}${limit('slice', 0, 0)}</encodingLimits>`,
    '<trajectory>cartesian</trajectory></encoding>',
    '</ismrmrdHeader>',
  ].join('');
}

export class ShardBuilder {
  readonly kspace: CArray;
  readonly maps: CArray;
  readonly target: CArray;
  readonly rss: Float32Array;
  readonly mask: Float32Array;
  readonly perSlice = { acceleration: [] as number[], samplingFraction: [] as number[], noiseSigma: [] as number[], snrDb: [] as number[] };
  readonly records: SliceRecord[] = [];

  constructor(readonly S: number, readonly C: number, readonly H: number, readonly W: number) {
    this.kspace = czeros([S, C, H, W]);
    this.maps = czeros([S, C, H, W]);
    this.target = czeros([S, H, W]);
    this.rss = new Float32Array(S * H * W);
    this.mask = new Float32Array(S * H * W);
  }

  /** Copies slice j in and computes its RSS reference. */
  add(j: number, pair: TrainingPair, source?: SampleInfo, coilMapSet?: number): void {
    const { C, H, W } = this;
    if (pair.kspace.shape.join() !== [C, H, W].join()) throw new Error(`slice ${j}: k-space [${pair.kspace.shape}] does not fit the shard's [${C}, ${H}, ${W}]`);
    const n = H * W;
    this.kspace.data.set(pair.kspace.data, j * 2 * C * n);
    this.maps.data.set(pair.maps.data, j * 2 * C * n);
    this.target.data.set(pair.target.data, j * 2 * n);
    this.mask.set(pair.mask, j * n);
    this.rss.set(rss(ifft2c(pair.kspace)), j * n);
    const { coils: _coils, ...meta } = pair.meta;
    this.records[j] = { ...meta, ...(source ? { source } : {}), ...(coilMapSet !== undefined ? { coilMapSet } : {}) };
    this.perSlice.acceleration[j] = meta.acceleration;
    this.perSlice.samplingFraction[j] = meta.samplingFraction;
    this.perSlice.noiseSigma[j] = meta.noiseSigma;
    this.perSlice.snrDb[j] = Number.isFinite(meta.snrDb) ? meta.snrDb : Infinity;
  }

  /** Writes the shard (atomically: temp name, then rename); returns max and norm of the RSS. */
  async write(path: string, attrs: Record<string, number | string>, fieldT?: number): Promise<{ max: number; norm: number }> {
    const { S, H, W } = this;
    let max = 0, ss = 0;
    for (const v of this.rss) {
      if (v > max) max = v;
      ss += v * v;
    }
    const vec = (values: number[]) => ({ real: { data: Float32Array.from(values), shape: [S] } });
    await writeFastmri(path, {
      kspace: this.kspace,
      reconstructionRss: { data: this.rss, shape: [S, H, W] },
      mask: { data: this.mask, shape: [S, H, W] },
      ismrmrdHeader: ismrmrdHeader(H, W, fieldT),
      datasets: {
        target: { complex: this.target },
        maps: { complex: this.maps },
        acceleration: vec(this.perSlice.acceleration),
        sampling_fraction: vec(this.perSlice.samplingFraction),
        noise_sigma: vec(this.perSlice.noiseSigma),
        snr_db: vec(this.perSlice.snrDb),
      },
      attrs: { max, norm: Math.sqrt(ss), ...attrs },
    });
    return { max, norm: Math.sqrt(ss) };
  }
}

/** Everything a shard needs besides its job: the dataset folder, parameters and coil maps from files. */
export interface ShardContext {
  dir: string;
  parameters: SynthParameters;
  coilMaps?: CArray[];
}

/**
 * Makes one shard: images (from `generator`, or given when sampled elsewhere),
 * one simulated pair per image, written to job.file. `onSlice` is called after each slice.
 */
export async function makeShard(
  job: ShardJob, ctx: ShardContext, images: { images: Float32Array[]; info: SampleInfo[] } | ImageGenerator,
  onSlice: () => void = () => {},
): Promise<ShardRecord> {
  const p = ctx.parameters;
  const [H, W] = p.size;
  const sampled = 'sample' in images ? await sampleImages(images, job.count, job.imageSeed, p.size) : images;
  const builder = new ShardBuilder(job.count, job.coils, H, W);
  const maps = job.coilMapSet !== undefined ? ctx.coilMaps?.[job.coilMapSet] : undefined;
  if (job.coilMapSet !== undefined && !maps) throw new Error(`shard ${job.index}: coil map set ${job.coilMapSet} is missing`);
  for (let j = 0; j < job.count; j++) {
    const seed = job.sliceSeeds[j]!;
    const choice = sliceChoices(p, seed);
    const pair = simulatePair({ data: sampled.images[j]!, shape: [H, W] }, seed, {
      coils: job.coils, snrDb: choice.snrDb, maps, phaseRms: p.phaseRms,
      mask: { kind: choice.mask, acceleration: choice.acceleration, centerFraction: p.centerFraction, calib: p.calib },
    });
    sampled.images[j] = new Float32Array(0); // let the image go: the shard arrays hold everything now
    builder.add(j, pair, sampled.info[j], job.coilMapSet);
    onSlice();
  }
  const path = join(ctx.dir, job.file);
  const field = p.generator.name === 'phantom' ? Number(p.generator.options.field ?? 3) : undefined;
  const { max, norm } = await builder.write(path, {
    acquisition: `synthetic-${p.generator.name}`,
    patient_id: `modl-synth-seed${p.seed}-shard${job.index}`,
    generator: p.generator.name,
    coils: job.coils,
    shard: job.index,
    first_slice: job.firstSlice,
    seed: job.seed,
    snr_definition: SNR_DEFINITION,
    mask_kinds: builder.records.map((r) => r.mask).join(','),
    // one acceleration for the whole file when it has one (per slice: the `acceleration` dataset)
    ...(new Set(builder.perSlice.acceleration).size === 1 ? { acceleration: builder.perSlice.acceleration[0]! } : {}),
  }, field);
  return {
    index: job.index, file: job.file, firstSlice: job.firstSlice, slices: job.count, coils: job.coils, seed: job.seed,
    bytes: statSync(path).size, max, norm, sliceRecords: builder.records,
  };
}
