/**
 * NIfTI-1 and NIfTI-2 (`.nii`, `.nii.gz`) reading and NIfTI-1 writing.
 *
 * Headers are parsed by nifti-reader-js; this module checks them against the file
 * (so a hostile header cannot make it allocate terabytes), converts every common
 * datatype to float32 with scl_slope/scl_inter applied, and keeps the affine.
 * NIfTI stores x fastest, then y, z, t: read as row-major that is [.., z, y, x],
 * i.e. ImageVolume's [slices, rows, cols] with no reordering (see volume.ts).
 * The affine is the one nifti-reader-js selects (sform, or qform when its code is
 * higher), in NIfTI's RAS frame; ImageVolume carries it converted to LPS.
 */
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import type { CArray } from '../physics/complex.js';
import { fileError, ModlError } from '../util/errors.js';
import { readRegularFile, writeFileAtomic } from '../util/fs.js';
import { checkAllocation, flipLpsRas, spacingFromAffine, zeroNonFinite, type ImageVolume } from './volume.js';

/** A NIfTI file's contents, values as float32 (complex interleaved re, im). */
export interface NiftiImage {
  path: string;
  version: 1 | 2;
  /** Sizes in NIfTI order: [nx, ny, nz, nt, ...] (dim[1..dim[0]]); x varies fastest in `data`. */
  dims: number[];
  /** pixdim[1..dim[0]]: voxel size (mm) then time step. */
  pixdim: number[];
  /** Stored datatype: 'uint8', 'int16', 'float32', 'complex64', ... */
  datatype: string;
  complex: boolean;
  /** scl_slope/scl_inter applied (slope only for complex data). */
  data: Float32Array;
  sclSlope: number;
  sclInter: number;
  /** 4x4 row-major voxel (i, j, k) -> RAS mm. */
  affineRas: number[];
  description: string;
  littleEndian: boolean;
}

/** Decompressed bytes a .nii.gz may hold beyond what its header describes (extensions aside, there should be none). */
const GZIP_SLACK = 2 ** 20;
/** Compressed bytes decompressed to find the header (at most ~1000× that as output, whatever the file holds). */
const GZIP_HEAD = 4096;

/** datatype code -> name, bytes per value, and whether complex. */
const DATATYPES: Record<number, { name: string; bytes: number; complex?: boolean }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  32: { name: 'complex64', bytes: 8, complex: true },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
  1792: { name: 'complex128', bytes: 16, complex: true },
};

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

function gunzip(path: string, raw: Buffer, maxOutputLength: number, opts: { partial?: boolean } = {}): Buffer {
  try {
    return gunzipSync(raw, { maxOutputLength, ...(opts.partial ? { finishFlush: constants.Z_SYNC_FLUSH } : {}) });
  } catch (e) {
    const msg = (e as Error).message;
    if (/maxOutputLength|Cannot create a Buffer larger/i.test(msg)) {
      throw fileError(path, `decompresses to more than its header describes (over ${maxOutputLength} bytes); refusing`);
    }
    throw fileError(path, `corrupt or truncated gzip data (${msg})`);
  }
}

/** What a NIfTI header describes, checked: enough to size the read before any data is decoded. */
interface NiftiLayout {
  header: nifti.NIFTI1 | nifti.NIFTI2;
  version: 1 | 2;
  dims: number[];
  type: { name: string; bytes: number; complex?: boolean };
  count: number;
  offset: number;
  /** Bytes the file must hold: the header, extensions and the voxel data. */
  needed: number;
}

function niftiLayout(path: string, bytes: Buffer): NiftiLayout {
  if (bytes.length < 348) throw fileError(path, `too short for a NIfTI header (${bytes.length} bytes)`);
  // the header alone (348 or 540 bytes, by sizeof_hdr): extensions are not needed, and a copy of the whole file is not made
  const nifti2 = bytes.readInt32LE(0) === 540 || bytes.readInt32BE(0) === 540;
  const buffer = toArrayBuffer(bytes.subarray(0, Math.min(bytes.length, nifti2 ? 540 : 348)));
  if (!nifti.isNIFTI(buffer)) {
    if (nifti.isNIFTI(buffer, true)) throw fileError(path, 'NIfTI .hdr/.img pairs are not supported; convert to a single .nii');
    throw fileError(path, 'not a NIfTI file (no NIfTI-1/NIfTI-2 magic)');
  }
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    header = nifti.readHeader(buffer);
  } catch (e) {
    throw fileError(path, `unreadable NIfTI header (${(e as Error).message ?? e})`);
  }
  const version = header instanceof nifti.NIFTI2 ? 2 : 1;
  const ndim = header.dims[0]!;
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) throw fileError(path, `invalid dim[0] = ${ndim} (must be 1..7)`);
  const dims = header.dims.slice(1, ndim + 1).map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 1)) throw fileError(path, `invalid dimensions [${dims.join(', ')}]`);
  const type = DATATYPES[header.datatypeCode];
  if (!type) {
    const why = header.datatypeCode === 128 ? 'RGB24 colour data' : `datatype code ${header.datatypeCode}`;
    throw fileError(path, `unsupported NIfTI ${why}`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  checkAllocation(path, count * (type.complex ? 2 : 1), 'NIfTI image');
  const headerBytes = version === 2 ? 540 : 348;
  const offset = header.vox_offset >= headerBytes ? Math.floor(header.vox_offset) : headerBytes + 4;
  return { header, version, dims, type, count, offset, needed: offset + count * type.bytes };
}

/**
 * The file's bytes and layout. A .nii.gz is decompressed twice over: its first
 * bytes for the header, then the whole, capped at what the header describes, so
 * a small file that inflates to gigabytes costs neither the time nor the memory.
 */
function readNiftiBytes(path: string): { bytes: Buffer; layout: NiftiLayout } {
  const raw = readRegularFile(path);
  if (!isGzip(raw)) return { bytes: raw, layout: niftiLayout(path, raw) };
  const head = gunzip(path, raw.subarray(0, GZIP_HEAD), 2 ** 24, { partial: true });
  const { needed } = niftiLayout(path, head);
  const bytes = gunzip(path, raw, needed + GZIP_SLACK);
  return { bytes, layout: niftiLayout(path, bytes) };
}

/** Reads a .nii or .nii.gz file (NIfTI-1 or NIfTI-2). */
export function readNifti(path: string): NiftiImage {
  const { bytes, layout } = readNiftiBytes(path);
  const { header, version, dims, type, count, offset, needed } = layout;
  const ndim = dims.length;
  if (needed > bytes.length) {
    throw fileError(path, `truncated: header (dims ${dims.join('x')} ${type.name}) needs ${needed} bytes, file has ${bytes.length}`);
  }
  const data = decodeValues(bytes, offset, count * (type.complex ? 2 : 1), type.name, header.littleEndian);
  let slope = header.scl_slope;
  let inter = header.scl_inter;
  if (!Number.isFinite(slope) || slope === 0) {
    slope = 1;
    inter = 0;
  }
  if (!Number.isFinite(inter)) inter = 0;
  if (slope !== 1 || (inter !== 0 && !type.complex)) {
    for (let i = 0; i < data.length; i++) data[i] = data[i]! * slope + (type.complex ? 0 : inter);
  }
  // nibabel (and FSL, ANTs) use the sform whenever sform_code > 0; nifti-reader-js prefers a
  // higher-coded qform, so take the sform rows from the header bytes in that case.
  const affineRas = header.sform_code > 0 && header.qform_code > header.sform_code ? readSrows(bytes, version, header.littleEndian) : header.affine.flat().map(Number);
  if (affineRas.length !== 16 || affineRas.some((v) => !Number.isFinite(v))) throw fileError(path, 'non-finite affine in header');
  return {
    path,
    version,
    dims,
    pixdim: header.pixDims.slice(1, ndim + 1).map(Number),
    datatype: type.name,
    complex: !!type.complex,
    data,
    sclSlope: slope,
    sclInter: inter,
    affineRas,
    description: header.description.replace(/\0.*$/s, '').trim(),
    littleEndian: header.littleEndian,
  };
}

/** srow_x, srow_y, srow_z (NIfTI-1: float32 at byte 280; NIfTI-2: float64 at byte 400) and [0 0 0 1]. */
function readSrows(bytes: Buffer, version: 1 | 2, little: boolean): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows = Array.from({ length: 12 }, (_, i) =>
    (version === 1 ? view.getFloat32(280 + 4 * i, little) : view.getFloat64(400 + 8 * i, little)) + 0,
  );
  return [...rows, 0, 0, 0, 1];
}

type TypedCtor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayLike<number>;
const TYPED: Record<string, TypedCtor> = {
  uint8: Uint8Array, int8: Int8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array,
  uint32: Uint32Array, float32: Float32Array, complex64: Float32Array, float64: Float64Array, complex128: Float64Array,
};

/** Converts `n` stored values (complex: 2n real numbers) starting at byte `offset` to float32. */
function decodeValues(bytes: Buffer, offset: number, n: number, type: string, little: boolean): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  const out = new Float32Array(n);
  const get: Record<string, [number, (i: number) => number]> = {
    uint8: [1, (o) => view.getUint8(o)],
    int8: [1, (o) => view.getInt8(o)],
    int16: [2, (o) => view.getInt16(o, little)],
    uint16: [2, (o) => view.getUint16(o, little)],
    int32: [4, (o) => view.getInt32(o, little)],
    uint32: [4, (o) => view.getUint32(o, little)],
    int64: [8, (o) => Number(view.getBigInt64(o, little))],
    uint64: [8, (o) => Number(view.getBigUint64(o, little))],
    float32: [4, (o) => view.getFloat32(o, little)],
    complex64: [4, (o) => view.getFloat32(o, little)],
    float64: [8, (o) => view.getFloat64(o, little)],
    complex128: [8, (o) => view.getFloat64(o, little)],
  };
  const [size, read] = get[type]!;
  const Typed = little ? TYPED[type] : undefined;
  if (Typed) {
    // Fast path: a typed-array view, on a copy when the data is not aligned for it.
    const start = bytes.byteOffset + offset;
    const source = start % size === 0 ? new Typed(bytes.buffer, start, n) : new Typed(bytes.buffer.slice(start, start + n * size));
    out.set(source);
    return out;
  }
  for (let i = 0, o = 0; i < n; i++, o += size) out[i] = read(o);
  return out;
}

/**
 * Splits a NIfTI image into ImageVolumes: one per 3D frame (dims past z are
 * flattened into frames). Complex data becomes its magnitude.
 */
export function niftiToVolumes(img: NiftiImage): ImageVolume[] {
  const [nx = 1, ny = 1, nz = 1] = img.dims;
  const frames = img.dims.slice(3).reduce((a, b) => a * b, 1);
  const n = nx * ny * nz;
  const affine = flipLpsRas(img.affineRas);
  const spacing = spacingFromAffine(affine).map((s, i) => s || Math.abs(img.pixdim[2 - i] ?? 1) || 1) as [number, number, number];
  const volumes: ImageVolume[] = [];
  for (let f = 0; f < frames; f++) {
    let data: Float32Array;
    if (img.complex) {
      data = new Float32Array(n);
      const src = img.data;
      for (let i = 0, o = 2 * f * n; i < n; i++, o += 2) data[i] = Math.hypot(src[o]!, src[o + 1]!);
    } else {
      data = frames === 1 ? img.data : img.data.slice(f * n, (f + 1) * n);
    }
    zeroNonFinite(img.path, data);
    volumes.push({
      data,
      shape: [nz, ny, nx],
      spacing,
      affine,
      source: {
        format: 'nifti',
        path: img.path,
        description: img.description || undefined,
        storedType: img.datatype,
        frame: frames > 1 ? { index: f, count: frames } : undefined,
      },
    });
  }
  return volumes;
}

export function readNiftiVolumes(path: string): ImageVolume[] {
  return niftiToVolumes(readNifti(path));
}

export interface NiftiWriteOptions {
  /** 4x4 row-major voxel -> LPS mm (ImageVolume's convention); identity scaled by pixdim if absent. */
  affineLps?: number[];
  /** Stored in the header's 80-byte `descrip`. */
  description?: string;
}

/**
 * Writes float32 (or complex64 when `complex`) data as NIfTI-1; `.gz` paths are
 * gzipped. `dims` are in NIfTI order (x fastest), `data` holds prod(dims) values
 * (complex: interleaved re, im). Written to a temporary name, then renamed.
 */
export function writeNiftiArray(path: string, data: Float32Array, dims: number[], complex: boolean, opts: NiftiWriteOptions = {}): void {
  const count = dims.reduce((a, b) => a * b, 1);
  if (dims.length < 1 || dims.length > 7 || dims.some((d) => !Number.isInteger(d) || d < 1 || d > 32767)) {
    throw new ModlError(`writeNifti ${path}: dims [${dims.join(', ')}] not representable in NIfTI-1`);
  }
  if (data.length !== count * (complex ? 2 : 1)) {
    throw new ModlError(`writeNifti ${path}: ${data.length} values do not fit dims [${dims.join(', ')}]${complex ? ' (complex)' : ''}`);
  }
  const affineRas = flipLpsRas(opts.affineLps ?? [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  const q = quaternFromAffine(affineRas);
  const h = new nifti.NIFTI1();
  h.littleEndian = true;
  h.dims = [dims.length, ...dims, ...new Array(7 - dims.length).fill(1)];
  h.datatypeCode = complex ? nifti.NIFTI1.TYPE_COMPLEX64 : nifti.NIFTI1.TYPE_FLOAT32;
  h.numBitsPerVoxel = complex ? 64 : 32;
  h.pixDims = [q.qfac, q.dx, q.dy, q.dz, 1, 1, 1, 1];
  h.vox_offset = 352;
  h.scl_slope = 1;
  h.scl_inter = 0;
  h.xyzt_units = nifti.NIFTI1.UNITS_MM | nifti.NIFTI1.UNITS_SEC;
  h.description = (opts.description ?? 'modl').replace(/[^\x20-\x7e]/g, '?').slice(0, 79);
  h.qform_code = nifti.NIFTI1.XFORM_SCANNER_ANAT;
  h.sform_code = nifti.NIFTI1.XFORM_SCANNER_ANAT;
  h.quatern_b = q.b;
  h.quatern_c = q.c;
  h.quatern_d = q.d;
  h.qoffset_x = affineRas[3]!;
  h.qoffset_y = affineRas[7]!;
  h.qoffset_z = affineRas[11]!;
  h.affine = [0, 1, 2, 3].map((r) => affineRas.slice(4 * r, 4 * r + 4));
  h.magic = 'n+1';
  const headerBytes = new Uint8Array(h.toArrayBuffer());
  const out = new Uint8Array(352 + data.byteLength);
  out.set(headerBytes.subarray(0, 352));
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new ModlError('big-endian hosts are not supported');
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 352);
  writeFileAtomic(path, /\.gz$/i.test(path) ? gzipSync(out, { level: 4 }) : out);
}

/** Writes an ImageVolume as float32 NIfTI-1 with its affine (converted to RAS). */
export function writeNifti(path: string, vol: ImageVolume, opts: { description?: string } = {}): void {
  const [slices, rows, cols] = vol.shape;
  writeNiftiArray(path, vol.data, slices > 1 ? [cols, rows, slices] : [cols, rows], false, {
    affineLps: vol.affine,
    description: opts.description ?? vol.source.description,
  });
}

/** Writes a complex array (row-major shape, last dim fastest) as complex64 NIfTI-1; NIfTI dims are the shape reversed. */
export function writeNiftiComplex(path: string, array: CArray, opts: NiftiWriteOptions = {}): void {
  writeNiftiArray(path, array.data, [...array.shape].reverse(), true, opts);
}

/**
 * NIfTI qform parameters of an affine (nifti1_io's nifti_mat44_to_quatern): voxel
 * sizes, qfac (the handedness sign) and the quaternion (b, c, d) of the rotation.
 * Non-orthogonal columns are orthogonalised (Gram–Schmidt); the sform keeps the exact matrix.
 */
export function quaternFromAffine(a: readonly number[]): { b: number; c: number; d: number; qfac: number; dx: number; dy: number; dz: number } {
  const col = (j: number) => [a[j]!, a[4 + j]!, a[8 + j]!];
  const len = (v: number[]) => Math.hypot(v[0]!, v[1]!, v[2]!);
  const dot = (u: number[], v: number[]) => u[0]! * v[0]! + u[1]! * v[1]! + u[2]! * v[2]!;
  const unit = (v: number[], fallback: number[]) => (len(v) > 0 ? v.map((x) => x / len(v)) : fallback);
  const [cx, cy, cz] = [col(0), col(1), col(2)];
  const [dx, dy, dz] = [len(cx) || 1, len(cy) || 1, len(cz) || 1];
  const x = unit(cx, [1, 0, 0]);
  const y = unit(cy.map((v, i) => v - dot(cy, x) * x[i]!), [0, 1, 0]);
  let z = unit(cz.map((v, i) => v - dot(cz, x) * x[i]! - dot(cz, y) * y[i]!), [0, 0, 1]);
  const det = x[0]! * (y[1]! * z[2]! - y[2]! * z[1]!) - y[0]! * (x[1]! * z[2]! - x[2]! * z[1]!) + z[0]! * (x[1]! * y[2]! - x[2]! * y[1]!);
  const qfac = det < 0 ? -1 : 1;
  if (qfac < 0) z = z.map((v) => -v);
  // Rotation matrix r_ij (row i, column j) with columns x, y, z.
  const [r11, r21, r31] = x as [number, number, number];
  const [r12, r22, r32] = y as [number, number, number];
  const [r13, r23, r33] = z as [number, number, number];
  let qa = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (qa > 0.5) {
    qa = 0.5 * Math.sqrt(qa);
    b = (0.25 * (r32 - r23)) / qa;
    c = (0.25 * (r13 - r31)) / qa;
    d = (0.25 * (r21 - r12)) / qa;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      qa = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      qa = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      qa = (0.25 * (r21 - r12)) / d;
    }
    if (qa < 0) [b, c, d] = [-b, -c, -d];
  }
  return { b, c, d, qfac, dx, dy, dz };
}
