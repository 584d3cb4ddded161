/**
 * Format detection and loading of any image input.
 *
 *   detectFormat(path)        what a file or folder holds, from its first bytes
 *   loadImageVolumes(path)    magnitude volumes from DICOM (file or folder), NIfTI,
 *                             fastMRI HDF5 (its reconstruction_rss), a BART image
 *                             .cfl, or a PNG
 * K-space inputs are loaded with kspace.ts's loadKspace.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import { fileError } from '../util/errors.js';
import { regularFileStat } from '../util/fs.js';
import { readCfl } from './cfl.js';
import { hasDicomPreamble } from './dicom.js';
import { readDicom } from './dicom-series.js';
import { readFastmri } from './hdf5.js';
import { bartLayout } from './kspace.js';
import { readNiftiVolumes } from './nifti.js';
import { readPng } from './png.js';
import { affineFromSpacing, type ImageVolume } from './volume.js';

export type InputFormat = 'dicom' | 'dicom-folder' | 'nifti' | 'hdf5' | 'cfl' | 'png' | 'unknown';

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function isNiftiHeader(b: Uint8Array): boolean {
  if (b.length < 348) return false;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return [348, 540].some((n) => view.getInt32(0, true) === n || view.getInt32(0, false) === n);
}

/** What `path` holds, from its content (and, for BART files, its extension). */
export function detectFormat(path: string): InputFormat {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) {
    if (statSync(`${path}.cfl`, { throwIfNoEntry: false })) return 'cfl';
    throw fileError(path, 'no such file or folder');
  }
  if (st.isDirectory()) return 'dicom-folder';
  regularFileStat(path);
  if (/\.(cfl|hdr)$/.test(path)) return 'cfl';
  let head: Buffer;
  try {
    head = readHead(path, 2048);
  } catch (e) {
    throw fileError(path, `cannot read: ${(e as Error).message}`);
  }
  if (hasDicomPreamble(head)) return 'dicom';
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'hdf5';
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (head[0] === 0x1f && head[1] === 0x8b) {
    if (/\.nii\.gz$/i.test(path)) return 'nifti';
    try {
      // Decompress just the start of the stream to look for a NIfTI header.
      if (isNiftiHeader(gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH }))) return 'nifti';
    } catch {
      return 'unknown';
    }
    return 'unknown';
  }
  if (isNiftiHeader(head)) return 'nifti';
  if (/\.dcm$/i.test(path)) return 'dicom'; // DICOM without the Part 10 preamble
  return 'unknown';
}

/** Human-readable name of a format. */
export const FORMAT_NAMES: Record<InputFormat, string> = {
  dicom: 'DICOM file',
  'dicom-folder': 'DICOM folder',
  nifti: 'NIfTI',
  hdf5: 'HDF5 (fastMRI layout)',
  cfl: 'BART .cfl/.hdr',
  png: 'PNG',
  unknown: 'unknown',
};

/**
 * Loads every magnitude volume in `path`: each DICOM series (and repetition), each
 * 3D frame of a NIfTI file, a fastMRI file's reconstruction_rss, a BART image, a PNG.
 */
export async function loadImageVolumes(path: string): Promise<ImageVolume[]> {
  const format = detectFormat(path);
  switch (format) {
    case 'dicom':
    case 'dicom-folder':
      return (await readDicom(path)).volumes;
    case 'nifti':
      return readNiftiVolumes(path);
    case 'hdf5':
      return [await fastmriReferenceVolume(path)];
    case 'cfl':
      return [cflImageVolume(path)];
    case 'png': {
      const { data, rows, cols } = readPng(path);
      return [{ data, shape: [1, rows, cols], spacing: [1, 1, 1], affine: affineFromSpacing([1, 1, 1]), source: { format: 'png', path, storedType: 'uint8' } }];
    }
    default:
      throw fileError(path, 'unrecognised format (modl reads DICOM, NIfTI, fastMRI HDF5, BART .cfl and PNG)');
  }
}

async function fastmriReferenceVolume(path: string): Promise<ImageVolume> {
  const f = await readFastmri(path);
  if (!f.reference || f.reference.shape.length !== 3) {
    throw fileError(path, 'holds k-space but no reconstruction_rss image; load it with loadKspace and reconstruct it');
  }
  const [slices, rows, cols] = f.reference.shape as [number, number, number];
  const fov = f.encoding?.reconFovMm;
  const matrix = f.encoding?.reconMatrix;
  const spacing: [number, number, number] =
    fov && matrix ? [fov[2] / (matrix[2] || 1) || 1, fov[1] / matrix[1] || 1, fov[0] / matrix[0] || 1] : [1, 1, 1];
  return {
    data: f.reference.data,
    shape: [slices, rows, cols],
    spacing,
    affine: affineFromSpacing(spacing),
    source: { format: 'fastmri-hdf5', path, description: 'reconstruction_rss', storedType: 'float32' },
  };
}

/** A single-coil BART image (e.g. a `bart pics` result) as its magnitude, in the .cfl memory layout. */
function cflImageVolume(path: string): ImageVolume {
  const { dims, array } = readCfl(path);
  const { fast, slow, slices, coils } = bartLayout(path, dims);
  if (coils > 1) throw fileError(path, `has ${coils} coils: multi-coil data is k-space or coil images, load it with loadKspace`);
  const n = array.data.length / 2;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.hypot(array.data[2 * i]!, array.data[2 * i + 1]!);
  return {
    data,
    shape: [slices, dims[slow]!, dims[fast]!],
    spacing: [1, 1, 1],
    affine: affineFromSpacing([1, 1, 1]),
    source: { format: 'cfl', path, description: `BART dims ${dims.join(' ')} (magnitude)`, storedType: 'complex64' },
  };
}
