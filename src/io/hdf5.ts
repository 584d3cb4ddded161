/**
 * fastMRI-layout HDF5 files (h5wasm): reading and writing.
 *
 * The layout follows fastMRI's own loader (h5py):
 *   kspace              [slices, coils, H, W] complex64 (single-coil: [slices, H, W])
 *   reconstruction_rss  [slices, h, w] float32 (often cropped, e.g. 320 x 320)
 *   reconstruction_esc  single-coil reference, same shape
 *   mask                sampling mask (e.g. [W])
 *   ismrmrd_header      ISMRMRD XML string (encoded and recon matrix sizes)
 *   attrs               max, norm, acquisition, patient_id, ...
 * Complex data uses h5py's convention: a compound {r: float32, i: float32}.
 * Any further numeric dataset (a synthetic `target`, `maps`, ...) is read too.
 *
 * The compound data is moved to and from the WebAssembly heap in bulk through
 * h5wasm's exported Module (its per-element compound path would take minutes on a
 * full fastMRI volume); everything else uses h5wasm's public API.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Dataset, File as H5File, Module, dtype_to_metadata, ready as h5ready, type CompoundMember, type Metadata } from 'h5wasm/node';
import type { CArray } from '../physics/complex.js';
import { fileError, ModlError } from '../util/errors.js';
import { regularFileStat, withAtomicPath } from '../util/fs.js';
import { checkAllocation, checkFinite, type RealArray } from './volume.js';

/** A complex or a real array, as stored in an HDF5 dataset. */
export type H5Array = { complex: CArray } | { real: RealArray };

export interface IsmrmrdEncoding {
  /** encodedSpace/matrixSize (x, y, z). */
  encodedMatrix?: [number, number, number];
  /** reconSpace/matrixSize (x, y, z). */
  reconMatrix?: [number, number, number];
  encodedFovMm?: [number, number, number];
  reconFovMm?: [number, number, number];
}

export interface FastmriFile {
  path: string;
  /** [slices, coils, H, W]; single-coil files get coils = 1. */
  kspace: CArray;
  /** reconstruction_rss, or reconstruction_esc for single-coil files. */
  reference?: RealArray;
  mask?: RealArray;
  ismrmrdHeader?: string;
  encoding?: IsmrmrdEncoding;
  attrs: Record<string, number | string>;
  /** Every other numeric dataset at the root, by name. */
  extra: Record<string, H5Array>;
}

export interface FastmriWrite {
  kspace: CArray;
  reconstructionRss?: RealArray;
  mask?: RealArray;
  ismrmrdHeader?: string;
  /** Further datasets, e.g. { target: { complex }, maps: { complex } }. */
  datasets?: Record<string, H5Array>;
  /** File attributes: numbers are stored as float64, strings as UTF-8. */
  attrs?: Record<string, number | string>;
}

const MAX_COMPLEX = 2 ** 29; // complex elements read from one dataset (4 GiB as complex64)
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const COMPOUND = 6;

let ready: Promise<unknown> | undefined;
async function init(): Promise<void> {
  // HDF5 prints its error stack to stderr and returns a status by default; thrown
  // instead, a failure (a full disk among them) cannot pass unnoticed, and the
  // stack becomes one line (hdf5Problem)
  ready ??= h5ready.then(() => Module.activate_throwing_error_handler());
  await ready;
}

/**
 * Checks the HDF5 signature and that the file is as long as its superblock says,
 * before handing it to HDF5 (whose own errors go to stderr as diagnostics).
 */
export function checkHdf5File(path: string): void {
  const size = regularFileStat(path).size;
  const fd = openSync(path, 'r');
  try {
    for (const base of [0, 512, 1024, 2048, 4096]) {
      const head = Buffer.alloc(96);
      const n = readSync(fd, head, 0, 96, base);
      if (n < 8 || !HDF5_SIGNATURE.every((b, i) => head[i] === b)) continue;
      const version = head[8]!;
      // Superblock v0/v1: offset sizes at byte 13, addresses from byte 24 (v1: 28); v2/v3: sizes at 9, addresses from 12.
      const offsetSize = version < 2 ? head[13]! : head[9]!;
      const addrStart = version === 0 ? 24 : version === 1 ? 28 : 12;
      if (offsetSize !== 8 && offsetSize !== 4) throw fileError(path, `corrupt HDF5 superblock (offset size ${offsetSize})`);
      const addr = (i: number) => {
        const at = addrStart + i * offsetSize;
        return offsetSize === 8 ? Number(head.readBigUInt64LE(at)) : head.readUInt32LE(at);
      };
      const eof = addr(2); // end-of-file address, relative to the base address
      if (n >= addrStart + 3 * offsetSize && eof > 0 && base + eof > size) {
        throw fileError(path, `truncated HDF5 file: ${size} bytes, its superblock says ${base + eof}`);
      }
      return;
    }
    throw fileError(path, 'not an HDF5 file (no HDF5 signature)');
  } finally {
    closeSync(fd);
  }
}

function openH5(path: string, mode: 'r' | 'w'): H5File {
  let file: H5File;
  try {
    file = new H5File(path, mode);
  } catch (e) {
    throw fileError(path, `cannot open HDF5 file (${errText(e)})`);
  }
  if (file.file_id < 0n) throw fileError(path, 'HDF5 library could not open the file (corrupt or unreadable)');
  return file;
}

/** An error's message; HDF5's error stack reduced to its innermost cause (the system's message where there is one). */
function errText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  if (!text.startsWith('HDF5-DIAG')) return text;
  const system = /error message = '([^']+)'/.exec(text);
  if (system) return system[1]!;
  const frames = [...text.matchAll(/#\d+: .* in (\w+)\(\): (.*)/g)];
  const inner = frames.at(-1);
  return inner ? `${inner[2]!.trim()} (${inner[1]})` : text.split('\n')[0]!;
}

/** Reads a fastMRI-layout HDF5 file; `slices` = [start, end) restricts every per-slice dataset. */
export async function readFastmri(path: string, opts: { slices?: [number, number] } = {}): Promise<FastmriFile> {
  await init();
  checkHdf5File(path);
  const file = openH5(path, 'r');
  try {
    const names = file.keys();
    if (!names.includes('kspace')) {
      const ismrmrd = names.includes('dataset') ? ' (this looks like a raw ISMRMRD acquisition file: convert it to fastMRI layout, e.g. with ismrmrd-python)' : '';
      throw fileError(path, `no 'kspace' dataset; found [${names.join(', ')}]${ismrmrd}`);
    }
    const kspaceDs = dataset(path, file, 'kspace');
    const shape = kspaceDs.shape ?? [];
    if (shape.length !== 3 && shape.length !== 4) throw fileError(path, `kspace has shape [${shape.join(', ')}]; expected [slices, coils, H, W] or [slices, H, W]`);
    const nSlices = shape[0]!;
    const [s0, s1] = opts.slices ?? [0, nSlices];
    if (!(Number.isInteger(s0) && Number.isInteger(s1) && s0 >= 0 && s1 <= nSlices && s0 < s1)) {
      throw fileError(path, `slice range [${s0}, ${s1}) outside the file's ${nSlices} slices`);
    }
    const read = (name: string) => {
      const a = readArray(path, dataset(path, file, name), nSlices, [s0, s1]);
      // complex data (k-space, maps, targets) must be finite; real ones may hold Inf (snr_db of a noiseless slice)
      if ('complex' in a) checkFinite(path, a.complex.data, `'${name}'`);
      return a;
    };
    const k = read('kspace');
    if (!('complex' in k)) throw fileError(path, 'kspace is not complex');
    if (k.complex.shape.length === 3) k.complex.shape.splice(1, 0, 1);
    const result: FastmriFile = { path, kspace: k.complex, attrs: readAttrs(path, file), extra: {} };
    for (const name of names) {
      if (name === 'kspace' || name === 'ismrmrd_header') continue;
      const ds = file.get(name);
      if (!(ds instanceof Dataset) || !isNumeric(ds.metadata)) continue;
      const array = read(name);
      if (name === 'reconstruction_rss' || (name === 'reconstruction_esc' && !result.reference)) {
        if ('real' in array) result.reference = array.real;
      } else if (name === 'mask' && 'real' in array) {
        result.mask = array.real;
      } else {
        result.extra[name] = array;
      }
    }
    if (names.includes('ismrmrd_header')) {
      const xml = dataset(path, file, 'ismrmrd_header').value;
      const text = typeof xml === 'string' ? xml : Array.isArray(xml) && typeof xml[0] === 'string' ? xml[0] : undefined;
      if (text) {
        result.ismrmrdHeader = text;
        result.encoding = parseIsmrmrdEncoding(text);
      }
    }
    return result;
  } catch (e) {
    if (e instanceof ModlError) throw e;
    throw fileError(path, `corrupt HDF5 content (${errText(e)})`);
  } finally {
    file.close();
  }
}

function dataset(path: string, file: H5File, name: string): Dataset {
  const ds = file.get(name);
  if (!(ds instanceof Dataset)) throw fileError(path, `'${name}' is not a dataset`);
  return ds;
}

function isNumeric(m: Metadata): boolean {
  return m.type === 0 || m.type === 1 || m.type === 8 || isComplexType(m);
}

function isComplexType(m: Metadata): boolean {
  const members = m.compound_type?.members;
  return m.type === COMPOUND && members?.length === 2 && members.every((x) => x.type === 1 && (x.size === 4 || x.size === 8)) === true;
}

/** Reads a numeric dataset; datasets whose first dimension is the slice count are restricted to `slices`. */
function readArray(path: string, ds: Dataset, nSlices: number, slices: [number, number]): H5Array {
  const meta = ds.metadata;
  const shape = [...(meta.shape ?? [])];
  const bySlice = shape.length > 0 && shape[0] === nSlices && (slices[0] > 0 || slices[1] < nSlices);
  if (bySlice) shape[0] = slices[1] - slices[0];
  const count = shape.reduce((a, b) => a * b, 1);
  if (isComplexType(meta)) {
    checkAllocation(path, count, `dataset ${ds.path}`, MAX_COMPLEX);
    const parts = complexParts(meta);
    if (!parts) throw fileError(path, `dataset ${ds.path}: compound members [${meta.compound_type!.members.map((m) => m.name).join(', ')}] are not named r/i (h5py), re/im or real/imag`);
    const data = new Float32Array(2 * count);
    const perSlice = shape.length > 0 ? count / Math.max(1, shape[0]!) : count;
    const rows = shape.length > 0 ? shape[0]! : 1;
    for (let s = 0; s < rows; s++) {
      // One slice at a time, so the WebAssembly heap (2 GiB) never holds a whole volume.
      const start = shape.map((_, d) => (d === 0 ? s + (bySlice ? slices[0] : 0) : 0));
      const size = shape.map((n, d) => (d === 0 ? 1 : n));
      const bytes = readRaw(ds, meta, start, size, perSlice * meta.size);
      decodeComplex(bytes, meta.size, parts, data.subarray(2 * s * perSlice, 2 * (s + 1) * perSlice));
    }
    return { complex: { data, shape } };
  }
  checkAllocation(path, count, `dataset ${ds.path}`);
  const value = bySlice ? ds.slice([slices, ...shape.slice(1).map(() => [] as [])]) : ds.value;
  if (!ArrayBuffer.isView(value) && typeof value !== 'number' && typeof value !== 'bigint') {
    throw fileError(path, `dataset ${ds.path} is not numeric`);
  }
  const numbers = typeof value === 'number' || typeof value === 'bigint' ? [Number(value)] : (value as ArrayLike<number | bigint>);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = Number(numbers[i] ?? 0);
  return { real: { data, shape } };
}

/** Raw bytes of a hyperslab, straight from HDF5 into a heap buffer and out. */
function readRaw(ds: Dataset, meta: Metadata, start: number[], count: number[], nbytes: number): Uint8Array {
  const ptr = Module._malloc(nbytes);
  if (!ptr) throw new ModlError(`out of WebAssembly memory reading ${ds.path} (${nbytes} bytes)`);
  try {
    const status = Module.get_dataset_data(ds.file_id, ds.path, count.map(BigInt), start.map(BigInt), count.map(() => 1n), BigInt(ptr));
    if (status < 0) throw new ModlError(`HDF5 could not read ${ds.path}`);
    return Module.HEAPU8.slice(ptr, ptr + nbytes);
  } finally {
    Module._free(ptr);
  }
}

/** The real and imaginary members of a complex compound, found by name (in whichever order they are stored). */
function complexParts(meta: Metadata): [CompoundMember, CompoundMember] | null {
  const members = meta.compound_type!.members;
  const named = (names: string[]) => members.find((m) => names.includes(m.name.toLowerCase()));
  const re = named(['r', 're', 'real']), im = named(['i', 'im', 'imag']);
  return re && im ? [re, im] : null;
}

function decodeComplex(bytes: Uint8Array, size: number, [re, im]: [CompoundMember, CompoundMember], out: Float32Array): void {
  const n = out.length / 2;
  if (size === 8 && re.offset === 0 && im.offset === 4 && re.size === 4 && re.littleEndian && im.littleEndian) {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset, 2 * n)); // h5py complex64: already interleaved
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = (m: CompoundMember, at: number) =>
    m.size === 4 ? view.getFloat32(at + m.offset, m.littleEndian) : view.getFloat64(at + m.offset, m.littleEndian);
  for (let i = 0; i < n; i++) {
    out[2 * i] = get(re, i * size);
    out[2 * i + 1] = get(im, i * size);
  }
}

function readAttrs(path: string, file: H5File): Record<string, number | string> {
  const attrs: Record<string, number | string> = {};
  for (const [name, attr] of Object.entries(file.attrs)) {
    try {
      const v = attr.json_value;
      if (typeof v === 'number' || typeof v === 'string') attrs[name] = v;
      else if (typeof v === 'boolean') attrs[name] = Number(v);
      else if (Array.isArray(v) && v.length === 1 && (typeof v[0] === 'number' || typeof v[0] === 'string')) attrs[name] = v[0];
    } catch (e) {
      throw fileError(path, `unreadable attribute '${name}' (${errText(e)})`);
    }
  }
  return attrs;
}

/** Matrix sizes and fields of view from an ISMRMRD XML header. */
export function parseIsmrmrdEncoding(xml: string): IsmrmrdEncoding {
  const block = (src: string | undefined, tag: string) => src?.match(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`))?.[1];
  const xyz = (src: string | undefined) => {
    const v = ['x', 'y', 'z'].map((a) => Number(block(src, a)));
    return src && v.every(Number.isFinite) ? (v as [number, number, number]) : undefined;
  };
  const encoding = block(xml, 'encoding');
  const encoded = block(encoding, 'encodedSpace');
  const recon = block(encoding, 'reconSpace');
  return {
    encodedMatrix: xyz(block(encoded, 'matrixSize')),
    reconMatrix: xyz(block(recon, 'matrixSize')),
    encodedFovMm: xyz(block(encoded, 'fieldOfView_mm')),
    reconFovMm: xyz(block(recon, 'fieldOfView_mm')),
  };
}

/** Writes a fastMRI-layout HDF5 file (to a temporary name, then renamed). */
export async function writeFastmri(path: string, content: FastmriWrite): Promise<void> {
  await init();
  const { kspace } = content;
  if (kspace.shape.length !== 4) throw new ModlError(`writeFastmri ${path}: kspace shape [${kspace.shape.join(', ')}] is not [slices, coils, H, W]`);
  const datasets: [string, H5Array][] = [['kspace', { complex: kspace }]];
  if (content.reconstructionRss) datasets.push(['reconstruction_rss', { real: content.reconstructionRss }]);
  if (content.mask) datasets.push(['mask', { real: content.mask }]);
  for (const [name, array] of Object.entries(content.datasets ?? {})) datasets.push([name, array]);
  await withAtomicPath(path, (tmp) => {
    const file = openH5(tmp, 'w');
    let written = false;
    try {
      for (const [name, array] of datasets) {
        if ('complex' in array) writeComplex(file, name, array.complex);
        else {
          const { data, shape } = array.real;
          if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new ModlError(`writeFastmri ${path}: '${name}' has ${data.length} values for shape [${shape}]`);
          file.create_dataset({ name, data, shape });
        }
      }
      if (content.ismrmrdHeader !== undefined) file.create_dataset({ name: 'ismrmrd_header', data: content.ismrmrdHeader });
      for (const [name, value] of Object.entries(content.attrs ?? {})) {
        if (typeof value === 'number') file.create_attribute(name, value, null, '<d');
        else file.create_attribute(name, value);
      }
      written = true;
    } catch (e) {
      if (e instanceof ModlError) throw e;
      throw fileError(path, `cannot write HDF5: ${errText(e)}`);
    } finally {
      try {
        file.close();
      } catch (e) {
        if (written) throw fileError(path, `cannot write HDF5: ${errText(e)}`); // the data are flushed at close
      }
    }
  });
}

/** A complex64 dataset as h5py writes it: compound {r: <f4, i: <f4}, written from the interleaved buffer in one copy. */
function writeComplex(file: H5File, name: string, array: CArray): void {
  const { data, shape } = array;
  if (data.length !== 2 * shape.reduce((a, b) => a * b, 1)) throw new ModlError(`'${name}': ${data.length / 2} complex values do not fit shape [${shape}]`);
  const meta = dtype_to_metadata([['r', '<f'], ['i', '<f']]);
  const ptr = Module._malloc(data.byteLength);
  if (!ptr) throw new ModlError(`'${name}' (${data.byteLength} bytes) does not fit in the WebAssembly heap; write fewer slices per file`);
  try {
    Module.HEAPU8.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ptr);
    const big = shape.map(BigInt);
    const status = Module.create_dataset(file.file_id, `/${name}`, BigInt(ptr), {
      ...meta, shape: big, maxshape: big, chunks: null, compression: 0, compression_opts: [], track_order: false,
    } as unknown as Parameters<typeof Module.create_dataset>[3]);
    if (status < 0) throw new ModlError(`HDF5 could not create dataset '${name}'`);
  } finally {
    Module._free(ptr);
  }
}
