/**
 * BART's .cfl/.hdr format: `.hdr` is text (`# Dimensions` then the sizes),
 * `.cfl` raw little-endian complex64 in column-major order (first dimension
 * fastest). See ../shared/data/README.md.
 *
 * modl keeps arrays row-major, so a BART array with dims [d0, d1, ..., dk]
 * is exactly a row-major array of shape [dk, ..., d1, d0]: reading and writing
 * only reverses the dimension list, the bytes stay as they are.
 */
import { existsSync, statSync } from 'node:fs';
import { CArray, numel } from '../physics/complex.js';
import { fileError, ModlError } from '../util/errors.js';
import { readRegularFile, readRegularFileInto, writeFileAtomic } from '../util/fs.js';
import { checkMemory, formatBytes } from '../util/memory.js';
import { checkFinite } from './volume.js';

/** Strips a .cfl/.hdr extension, as BART accepts either or none. */
export function cflBase(path: string): string {
  return path.replace(/\.(cfl|hdr)$/, '');
}

const MAX_CFL_ELEMENTS = 2 ** 31; // 16 GiB of complex64: refuse hostile headers
const MAX_FLOAT32_ARRAY = 2 ** 30; // floats in one Float32Array (Node's 4 GiB ArrayBuffer limit)

export function readCflDims(path: string): number[] {
  const hdr = `${cflBase(path)}.hdr`;
  if (!existsSync(hdr)) throw fileError(hdr, 'BART header not found (expected NAME.hdr beside NAME.cfl)');
  const lines = readRegularFile(hdr).toString('utf8').split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim() === '# Dimensions');
  if (at < 0 || at + 1 >= lines.length) throw fileError(hdr, "no '# Dimensions' section");
  const dims = lines[at + 1]!.trim().split(/\s+/).map(Number);
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw fileError(hdr, `invalid dimensions '${lines[at + 1]!.trim()}'`);
  }
  if (numel(dims) > MAX_CFL_ELEMENTS) throw fileError(hdr, `dimensions ${dims.join('x')} are implausibly large`);
  return dims;
}

/** Reads NAME.cfl/.hdr. Returns BART dims (column-major order) and the data as a row-major CArray. */
export function readCfl(path: string): { dims: number[]; array: CArray } {
  const dims = readCflDims(path);
  const cfl = `${cflBase(path)}.cfl`;
  if (!existsSync(cfl)) throw fileError(cfl, 'BART data file not found');
  const expected = 8 * numel(dims);
  const size = statSync(cfl).size;
  if (size !== expected) {
    throw fileError(cfl, `holds ${size} bytes but its header (dims ${dims.join(' ')}) needs ${expected}`);
  }
  if (2 * numel(dims) > MAX_FLOAT32_ARRAY) throw fileError(cfl, `is ${formatBytes(expected)}; one array holds at most 4 GiB (split the volume)`);
  checkMemory(expected, 'its data', cfl);
  const data = new Float32Array(numel(dims) * 2);
  readRegularFileInto(cfl, new Uint8Array(data.buffer)); // in slices: studies over 2 GiB are read too
  checkFinite(cfl, data, 'complex data');
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new ModlError('big-endian hosts are not supported');
  return { dims, array: { data, shape: [...dims].reverse() } };
}

/** Writes a row-major CArray as NAME.cfl/.hdr with the given BART dims (defaults to the reversed shape). */
export function writeCfl(path: string, array: CArray, dims: number[] = [...array.shape].reverse()): void {
  if (numel(dims) !== numel(array.shape)) {
    throw new ModlError(`writeCfl ${path}: dims ${dims.join(' ')} do not match shape [${array.shape.join(', ')}]`);
  }
  const base = cflBase(path);
  writeFileAtomic(`${base}.cfl`, new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength));
  writeFileAtomic(`${base}.hdr`, `# Dimensions\n${dims.join(' ')}\n# Creator\nmodl\n`);
}

/** Where a 2D multi-coil slice sits in BART's dimensions. */
export interface CflSliceLayout {
  /** The file's BART dims. */
  dims: number[];
  /** BART dim holding image rows (H, the slower spatial dim) and columns (W, the faster). */
  hDim: number;
  wDim: number;
}

/**
 * Reads a single-slice BART array with coils in dim 3 (k-space [.., C] or
 * sensitivity maps) as row-major [C, H, W]. The slice may occupy any two of
 * the spatial dims 0–2 (the third must be 1); W is the faster-varying one,
 * so no data moves. Maps with several ESPIRiT sets (dim 4) yield the first set,
 * or with `allSets` every set as [S, C, H, W] (when there is more than one).
 */
export function loadCflSlice(path: string, opts: { allSets?: boolean } = {}): { kspace: CArray; layout: CflSliceLayout; sets: number } {
  const { dims, array } = readCfl(path);
  const d = [...dims, ...new Array(Math.max(0, 16 - dims.length)).fill(1)] as number[];
  const spatial = [0, 1, 2].filter((i) => d[i]! > 1);
  if (spatial.length !== 2) {
    throw fileError(`${cflBase(path)}.hdr`, `dims ${dims.join(' ')} are not one 2D slice: expected exactly two of the spatial dims 0-2 above 1`);
  }
  const extra = d.findIndex((v, i) => i > 4 && v > 1);
  if (extra > 0) throw fileError(`${cflBase(path)}.hdr`, `dim ${extra} is ${d[extra]}; only spatial dims, coils (3) and maps (4) are supported`);
  const [wDim, hDim] = spatial as [number, number];
  const C = d[3]!, H = d[hDim]!, W = d[wDim]!;
  const one = 2 * C * H * W;
  const S = d[4]!;
  return {
    kspace: opts.allSets && S > 1 ? { data: array.data.subarray(0, S * one), shape: [S, C, H, W] } : { data: array.data.subarray(0, one), shape: [C, H, W] },
    layout: { dims, hDim, wDim },
    sets: S,
  };
}

/** BART dims for an image [H, W] (or [S, H, W]: map sets in dim 4) laid out like the slice it came from (coil dim dropped). */
export function imageDimsLike(layout: CflSliceLayout, H: number, W: number, sets = 1): number[] {
  const dims = sets > 1 ? [1, 1, 1, 1, sets] : [1, 1, 1];
  dims[layout.hDim] = H;
  dims[layout.wDim] = W;
  return dims;
}
