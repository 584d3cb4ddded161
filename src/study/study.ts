/**
 * A study to reconstruct: any supported input turned into per-slice SENSE
 * problems (k-space, coil maps, mask), a reference image where one exists, and
 * the geometry the outputs are written with.
 *
 * - k-space (BART .cfl, fastMRI/ISMRMRD HDF5, complex NIfTI): the mask is the
 *   file's own (or the non-zero pattern); `simulate` undersamples fully sampled
 *   data retrospectively. Maps come from a file, from the file itself (modl's
 *   synthetic datasets carry them), or from ESPIRiT of each slice as acquired;
 *   the reference is the synthetic target, or the SENSE combination of fully
 *   sampled data (physics/sample.ts: the policy every road from k-space shares).
 * - magnitude images (DICOM, NIfTI): each slice is simulated into multi-coil
 *   k-space (smooth phase, birdcage coils, noise, mask) and the slice itself is
 *   the reference.
 */
import { type CArray } from '../physics/complex.js';
import { reconMagnitude } from '../physics/classical.js';
import { makeMask, type MaskKind } from '../physics/masks.js';
import { isFullySampled, kspaceSample, mapsProblem } from '../physics/sample.js';
import { detectFormat, loadImageVolumes } from '../io/detect.js';
import { loadKspace, type KspaceVolume } from '../io/kspace.js';
import { loadCflSlice } from '../io/cfl.js';
import { affineFromSpacing, subVolume, type ImageVolume } from '../io/volume.js';
import { simulatePair } from '../synth/simulate.js';
import type { ReconSample } from '../nn/batch.js';
import { fileError, ModlError } from '../util/errors.js';
import { checkMemory } from '../util/memory.js';

export interface SimulateOptions {
  acceleration: number;
  mask: MaskKind;
  coils: number;
  /** Image-domain SNR in dB of the simulated acquisition (Infinity: noiseless). */
  snrDb: number;
  seed: number;
}

export interface StudyOptions {
  /** Coil maps file (BART .cfl) for a k-space input. */
  maps?: string;
  /** Retrospective undersampling (required for image inputs, optional for fully sampled k-space). */
  simulate?: SimulateOptions;
  /** Which image series/volume of a multi-series input (default 0). */
  series?: number;
  /** Slice range [start, end). */
  slices?: [number, number];
  onProgress?(message: string): void;
}

export interface Study {
  input: string;
  kind: 'kspace' | 'images';
  samples: ReconSample[];
  /** Reference magnitude per slice, [H·W] each, when one exists. */
  reference?: Float32Array[];
  H: number;
  W: number;
  /** Output grid: affine, spacing and source tags (data is a placeholder). */
  geometry: ImageVolume;
  /** What was done to the input, for reports and provenance. */
  preparation: string[];
}

function sliceOf(x: CArray, s: number): CArray {
  const inner = x.shape.slice(1);
  const n = 2 * inner.reduce((a, b) => a * b, 1);
  return { data: x.data.subarray(s * n, (s + 1) * n), shape: inner };
}

export async function loadStudy(input: string, opts: StudyOptions = {}): Promise<Study> {
  const format = detectFormat(input);
  const isKspace = format === 'hdf5' || format === 'cfl' || (format === 'nifti' && await niftiIsComplex(input));
  return isKspace ? kspaceStudy(input, opts) : imageStudy(input, opts);
}

async function niftiIsComplex(path: string): Promise<boolean> {
  const { readNifti } = await import('../io/nifti.js');
  return readNifti(path).complex;
}

function pickSlices(n: number, range: [number, number] | undefined, path: string): number[] {
  const [a, b] = range ?? [0, n];
  if (!(a >= 0 && b <= n && a < b)) throw fileError(path, `slice range ${a}:${b} is outside its ${n} slices`);
  return Array.from({ length: b - a }, (_, i) => a + i);
}

function placeholderGeometry(input: string, slices: number, H: number, W: number, affine?: number[]): ImageVolume {
  return {
    data: new Float32Array(0), shape: [slices, H, W], spacing: [1, 1, 1],
    affine: affine ?? affineFromSpacing([1, 1, 1]), source: { format: 'kspace', path: input },
  };
}

async function kspaceStudy(input: string, opts: StudyOptions): Promise<Study> {
  const vol: KspaceVolume = await loadKspace(input);
  const [S, C, H, W] = vol.kspace.shape as [number, number, number, number];
  const slices = pickSlices(S, opts.slices, input);
  const prep = [`k-space ${vol.source.format}: ${S} slice(s), ${C} coils, ${H}×${W}`];
  const storedMaps = vol.extra?.maps && 'complex' in vol.extra.maps ? vol.extra.maps.complex : undefined;
  const storedTarget = vol.extra?.target && 'complex' in vol.extra.target ? vol.extra.target.complex : undefined;
  let fileMaps: CArray | undefined;
  const firstSlice = sliceOf(vol.kspace, slices[0]!);
  if (opts.maps) {
    fileMaps = loadCflSlice(opts.maps, { allSets: true }).kspace; // several sets (ecalib -m2): soft-SENSE, as bart pics
    const problem = mapsProblem(fileMaps, firstSlice);
    if (problem) throw fileError(opts.maps, problem);
    prep.push(`coil maps from ${opts.maps}`);
  } else if (storedMaps) {
    const problem = storedMaps.shape[0] === S ? mapsProblem(sliceOf(storedMaps, slices[0]!), firstSlice) : `'maps' has ${storedMaps.shape[0]} slices, 'kspace' ${S}`;
    if (problem) throw fileError(input, `stored ${problem}`);
    prep.push('coil maps stored in the file');
  } else prep.push('coil maps: ESPIRiT per slice (24×24 calibration, 6×6 kernel, t 0.001, crop 0.8)');

  const samples: ReconSample[] = [];
  const reference: Float32Array[] = [];
  for (const s of slices) {
    const kspace = sliceOf(vol.kspace, s);
    let mask: Float32Array | undefined;
    if (opts.simulate) {
      if (!isFullySampled(kspace)) throw new ModlError(`${input}: --simulate-accel needs fully sampled k-space, but slice ${s} is undersampled`);
      const sim = opts.simulate;
      mask = makeMask(sim.mask, H, W, { acceleration: sim.acceleration, seed: sim.seed + s, phaseEncode: vol.phaseEncode }).mask;
    } else if (vol.mask) {
      mask = storedMaskOf(vol.mask.data, vol.mask.shape, s, H, W, input);
    }
    const maps = fileMaps ?? (storedMaps ? sliceOf(storedMaps, s) : undefined);
    if (!maps) opts.onProgress?.(`ESPIRiT slice ${s + 1}/${S}`);
    const sample = kspaceSample(kspace, { mask, maps });
    const target = storedTarget ? sliceOf(storedTarget, s) : sample.target;
    samples.push({ ...sample, target });
    if (target) reference.push(reconMagnitude(target));
  }
  if (opts.simulate) prep.push(`retrospective ${opts.simulate.mask} mask at ${opts.simulate.acceleration}× (seed ${opts.simulate.seed} + slice${opts.simulate.mask === 'poisson' ? '' : `, phase encodes along ${vol.phaseEncode === 'H' ? 'the rows (H)' : 'the columns (W)'}`})`);
  if (reference.length) prep.push(storedTarget ? 'reference: the stored target image' : 'reference: SENSE combination of the fully sampled k-space with the same maps');
  return {
    input, kind: 'kspace', samples, reference: reference.length === samples.length ? reference : undefined, H, W,
    geometry: placeholderGeometry(input, slices.length, H, W, vol.source.affineLps), preparation: prep,
  };
}

async function imageStudy(input: string, opts: StudyOptions): Promise<Study> {
  if (!opts.simulate) throw new ModlError(`${input}: magnitude images need --simulate-accel R to be undersampled retrospectively`);
  const volumes = await loadImageVolumes(input);
  const index = opts.series ?? 0;
  const vol = volumes[index];
  if (!vol) throw fileError(input, `has ${volumes.length} series/volume(s); --series ${index} does not exist`);
  const [S, H, W] = vol.shape;
  const slices = pickSlices(S, opts.slices, input);
  const sim = opts.simulate;
  // k-space and maps of every slice are held (complex64), and a CG solve needs a few more of one slice's
  checkMemory(8 * H * W * (2 * sim.coils * slices.length + 6 * sim.coils), `simulating ${slices.length} slice(s) of ${H}×${W} with ${sim.coils} coils`, input);
  const samples: ReconSample[] = [];
  const reference: Float32Array[] = [];
  for (const s of slices) {
    const m = vol.data.slice(s * H * W, (s + 1) * H * W);
    const pair = simulatePair({ data: m, shape: [H, W] }, sim.seed + s, {
      coils: sim.coils, snrDb: sim.snrDb, mask: { kind: sim.mask, acceleration: sim.acceleration },
    });
    samples.push({ kspace: pair.kspace, maps: pair.maps, mask: pair.mask, target: pair.target });
    reference.push(reconMagnitude(pair.target));
  }
  const geometry: ImageVolume = { ...vol, data: new Float32Array(0), shape: [slices.length, H, W], affine: subVolume(vol, slices[0]!, slices[0]!).affine };
  return {
    input, kind: 'images', samples, reference, H, W, geometry,
    preparation: [
      `images ${vol.source.format}: ${S} slice(s) ${H}×${W}${volumes.length > 1 ? ` (series ${index} of ${volumes.length})` : ''}`,
      `simulated acquisition: smooth random phase, ${sim.coils} birdcage coils, SNR ${sim.snrDb} dB, ${sim.mask} mask at ${sim.acceleration}× (seed ${sim.seed} + slice)`,
      'reference: the input slices',
    ],
  };
}

/** Slice s of a stored mask: [S, H, W], [H, W], or fastMRI's 1D [W] (whole columns). */
function storedMaskOf(data: Float32Array, shape: number[], s: number, H: number, W: number, path: string): Float32Array {
  const key = shape.join('x');
  if (key === `${H}x${W}`) return data;
  if (shape.length === 3 && shape[1] === H && shape[2] === W) return data.subarray(s * H * W, (s + 1) * H * W);
  if (data.length === W) return Float32Array.from({ length: H * W }, (_, i) => data[i % W]!);
  throw fileError(path, `mask of shape [${shape}] does not fit ${H}×${W} k-space`);
}
