/**
 * The common in-memory types of modl's image I/O.
 *
 * ImageVolume: one magnitude series (a DICOM series, one 3D frame of a NIfTI)
 *   data     Float32Array, row-major [slices, rows, cols] (cols vary fastest),
 *            physical values (DICOM rescale slope/intercept and NIfTI scl_* applied)
 *   shape    [slices, rows, cols]
 *   spacing  [slice, row, col] in mm: distance between slice centres, between rows
 *            (DICOM PixelSpacing[0]), between columns (PixelSpacing[1])
 *   affine   4x4, row-major (16 numbers), maps a zero-based voxel index
 *            (col, row, slice, 1) to patient coordinates in mm in DICOM's **LPS**
 *            frame (+x = patient left, +y = posterior, +z = head). NIfTI readers and
 *            writers convert from/to NIfTI's RAS by negating x and y.
 *            NIfTI voxel (i, j, k) is (col, row, slice): no data is reordered.
 *   source   where it came from and the tags needed to write a derived DICOM series
 *
 * RealArray: a real Float32Array with a row-major shape (last dim fastest), the
 * real counterpart of physics/complex.ts's CArray.
 */
import { fileError } from '../util/errors.js';
import { checkMemory } from '../util/memory.js';

export interface RealArray {
  data: Float32Array;
  shape: number[];
}

export interface VolumeSource {
  /** 'dicom', 'nifti', 'fastmri-hdf5', ... */
  format: string;
  /** The file or folder it was read from. */
  path: string;
  /** DICOM: the files of the series, in slice order (a multi-frame file appears once). */
  files?: string[];
  /** SeriesDescription, or the NIfTI `descrip` field. */
  description?: string;
  /** How the values were stored on disk: 'uint8', 'int16', 'uint16', 'float32', 'complex64', ... */
  storedType?: string;
  /** DICOM transfer syntax UID. */
  transferSyntax?: string;
  /** DICOM SeriesInstanceUID. */
  seriesInstanceUID?: string;
  /** NIfTI volumes past the 3rd dimension, and DICOM series holding several volumes
   *  (e.g. echoes, dynamics at the same positions): which one this is, and of how many. */
  frame?: { index: number; count: number };
  /**
   * Patient, study, equipment and MR acquisition tags of the source DICOM series, by
   * DICOM keyword (PatientName, PatientID, StudyInstanceUID, StudyDate, Modality,
   * FrameOfReferenceUID, EchoTime, ...). Copied into a derived series by writeDicomSeries.
   * Absent for non-DICOM inputs.
   */
  dicomTags?: Record<string, string | number>;
}

export interface ImageVolume {
  data: Float32Array;
  shape: [number, number, number];
  spacing: [number, number, number];
  affine: number[];
  source: VolumeSource;
}

/** Largest volume a reader will allocate (float32 elements): 4 GiB. Hostile headers are refused. */
export const MAX_VOLUME_ELEMENTS = 2 ** 30;

/**
 * Refuses an allocation of `elements` float32 values that a file's header asks
 * for, naming the file: over `limit`, or over the memory budget (util/memory.ts).
 */
export function checkAllocation(file: string, elements: number, what: string, limit = MAX_VOLUME_ELEMENTS): void {
  if (!Number.isSafeInteger(elements) || elements < 0) throw fileError(file, `${what}: invalid size ${elements}`);
  if (elements > limit) {
    throw fileError(file, `${what} would need ${elements} values (limit ${limit}); the header is corrupt or the data too large`);
  }
  checkMemory(4 * elements, what, file);
}

function countNonFinite(data: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) n++;
  return n;
}

/**
 * Refuses raw data (k-space, coil maps) holding NaN or ±Inf, naming the file
 * and the count: a reconstruction of it would be NaN everywhere.
 */
export function checkFinite(file: string, data: ArrayLike<number>, what: string): void {
  const n = countNonFinite(data);
  if (n > 0) throw fileError(file, `${what}: ${n} of ${data.length} values are NaN or infinite`);
}

/**
 * Sets NaN and ±Inf pixels of an image to 0, with a warning naming the file:
 * NaN backgrounds are common in masked or skull-stripped volumes.
 */
export function zeroNonFinite(file: string, data: Float32Array): void {
  const n = countNonFinite(data);
  if (n === 0) return;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) data[i] = 0;
  console.warn(`warning: ${file}: ${n} of ${data.length} pixels are NaN or infinite; set to 0`);
}

/** Affine from voxel spacing alone ([slice, row, col] mm), axes aligned with LPS. */
export function affineFromSpacing(spacing: readonly number[]): number[] {
  const [ds, dr, dc] = spacing as [number, number, number];
  return [dc, 0, 0, 0, 0, dr, 0, 0, 0, 0, ds, 0, 0, 0, 0, 1];
}

/** LPS <-> RAS: negates the first two rows (the same matrix converts both ways). */
export function flipLpsRas(affine: readonly number[]): number[] {
  return affine.map((v, i) => (i < 8 ? -v : v) + 0);
}

/** Column `c` (0: col axis, 1: row axis, 2: slice axis, 3: origin) of a 4x4 affine, as a 3-vector. */
export function affineColumn(affine: readonly number[], c: number): [number, number, number] {
  return [affine[c]!, affine[4 + c]!, affine[8 + c]!];
}

export function norm3(v: readonly number[]): number {
  return Math.hypot(v[0]!, v[1]!, v[2]!);
}

/** Voxel spacing [slice, row, col] implied by an affine (lengths of its columns). */
export function spacingFromAffine(affine: readonly number[]): [number, number, number] {
  return [norm3(affineColumn(affine, 2)), norm3(affineColumn(affine, 1)), norm3(affineColumn(affine, 0))];
}

/** Patient position (LPS mm) of voxel (col, row, slice). */
export function voxelToPatient(affine: readonly number[], col: number, row: number, slice: number): [number, number, number] {
  const p = [0, 1, 2].map((r) => affine[4 * r]! * col + affine[4 * r + 1]! * row + affine[4 * r + 2]! * slice + affine[4 * r + 3]!);
  return p as [number, number, number];
}

/** Minimum and maximum, ignoring NaN; [0, 0] for an empty array. */
export function valueRange(data: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

/**
 * Values at the given percentiles (0–100), by sorting a strided sample of at most
 * ~1M finite values: exact for images of that size, a close estimate above.
 */
export function percentiles(data: ArrayLike<number>, ps: readonly number[]): number[] {
  const step = Math.max(1, Math.floor(data.length / 1_000_000));
  const sample: number[] = [];
  for (let i = 0; i < data.length; i += step) if (Number.isFinite(data[i]!)) sample.push(data[i]!);
  if (sample.length === 0) return ps.map(() => 0);
  const sorted = Float64Array.from(sample).sort();
  return ps.map((p) => {
    const x = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
    const lo = Math.floor(x);
    const hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo]! + (x - lo) * (sorted[hi]! - sorted[lo]!);
  });
}

/** One slice of a volume as a view (no copy): rows x cols, row-major. */
export function volumeSlice(vol: ImageVolume, k: number): Float32Array {
  const [, rows, cols] = vol.shape;
  return vol.data.subarray(k * rows * cols, (k + 1) * rows * cols);
}

/** Slices [start, end) of a volume (data copied), with the affine moved to its first slice. */
export function subVolume(vol: ImageVolume, start: number, end: number): ImageVolume {
  const [, rows, cols] = vol.shape;
  const affine = [...vol.affine];
  for (let r = 0; r < 3; r++) affine[4 * r + 3] = vol.affine[4 * r + 3]! + start * vol.affine[4 * r + 2]!;
  return { ...vol, data: vol.data.slice(start * rows * cols, end * rows * cols), shape: [end - start, rows, cols], affine };
}

/** The closest anatomical direction letters of a unit vector in LPS, e.g. 'L', 'PH'. */
export function directionLetters(v: readonly number[]): string {
  const letters = [
    ['R', 'L'],
    ['A', 'P'],
    ['F', 'H'],
  ];
  return [0, 1, 2]
    .filter((i) => Math.abs(v[i]!) > 0.3 * norm3(v))
    .sort((a, b) => Math.abs(v[b]!) - Math.abs(v[a]!))
    .map((i) => letters[i]![v[i]! > 0 ? 1 : 0])
    .join('');
}
