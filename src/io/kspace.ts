/**
 * Multi-coil k-space inputs, in one shape whatever the file format.
 *
 * KspaceVolume.kspace is a CArray [slices, coils, H, W] (W fastest), read from
 *  - fastMRI HDF5: `kspace` as stored ([slices, coils, H, W]);
 *  - complex NIfTI holding [x, y, slices, coils] (x fastest): H = y, W = x;
 *  - BART .cfl with dims [d0, d1, d2, coils, ..., slices in dim 13]: the two
 *    non-singleton spatial dims are the image plane, the slower (higher-numbered)
 *    one is H and the faster one W. This is the .cfl memory order, so the data is
 *    not copied, and `source.bartDims` lets a writer put results back in the
 *    input's layout (see bartImageDims).
 */
import { statSync } from 'node:fs';
import { type CArray } from '../physics/complex.js';
import type { PhaseEncodeAxis } from '../physics/masks.js';
import { fileError, ModlError } from '../util/errors.js';
import { cflBase, readCfl } from './cfl.js';
import { readFastmri, type H5Array, type IsmrmrdEncoding } from './hdf5.js';
import { readNifti, writeNiftiArray, type NiftiImage } from './nifti.js';
import { checkFinite, flipLpsRas, type RealArray } from './volume.js';

export interface KspaceVolume {
  /** [slices, coils, H, W] complex. */
  kspace: CArray;
  /** A reference magnitude image, [slices, h, w] (fastMRI reconstruction_rss, possibly cropped). */
  reference?: RealArray;
  /**
   * The phase-encoded image axis, across which retrospective 1D masks sample whole lines:
   * W for fastMRI files (their last axis), H for BART .cfl (dim 1 of an [x, y] plane, or the
   * slower in-plane dim) and complex NIfTI (y).
   */
  phaseEncode: PhaseEncodeAxis;
  /** Sampling mask as stored (fastMRI: [W] or [H, W]). */
  mask?: RealArray;
  encoding?: IsmrmrdEncoding;
  attrs?: Record<string, number | string>;
  /** Further datasets of a fastMRI-layout file (synthetic `target`, `maps`, ...). */
  extra?: Record<string, H5Array>;
  source: {
    format: 'fastmri-hdf5' | 'nifti' | 'cfl';
    path: string;
    /** .cfl inputs: the BART dims as read. */
    bartDims?: number[];
    /** NIfTI inputs: voxel -> LPS affine of the image grid, when the file had one. */
    affineLps?: number[];
  };
}

/** BART's dimension holding slices (SLICE_DIM). */
const BART_SLICE_DIM = 13;

/** Reads k-space from a fastMRI HDF5, complex NIfTI or BART .cfl file (by content/extension). */
export async function loadKspace(path: string, opts: { slices?: [number, number] } = {}): Promise<KspaceVolume> {
  let kv: KspaceVolume;
  if (/\.(cfl|hdr)$/.test(path) || (!statSync(path, { throwIfNoEntry: false }) && statSync(`${path}.cfl`, { throwIfNoEntry: false }))) {
    kv = kspaceFromCfl(path);
  } else if (/\.(h5|hdf5)$/i.test(path)) {
    const f = await readFastmri(path, opts);
    return {
      kspace: f.kspace,
      reference: f.reference,
      mask: f.mask,
      encoding: f.encoding,
      attrs: f.attrs,
      extra: f.extra,
      phaseEncode: 'W',
      source: { format: 'fastmri-hdf5', path },
    };
  } else if (/\.nii(\.gz)?$/i.test(path)) {
    kv = kspaceFromNifti(readNifti(path));
  } else {
    throw fileError(path, 'not a k-space file modl knows (.h5 fastMRI, complex .nii/.nii.gz, or BART .cfl/.hdr)');
  }
  if (opts.slices) {
    const [s0, s1] = opts.slices;
    const [n, ...inner] = kv.kspace.shape as [number, number, number, number];
    if (!(s0 >= 0 && s1 <= n && s0 < s1)) throw fileError(path, `slice range [${s0}, ${s1}) outside its ${n} slices`);
    const per = 2 * inner.reduce((a, b) => a * b, 1);
    kv.kspace = { data: kv.kspace.data.slice(s0 * per, s1 * per), shape: [s1 - s0, ...inner] };
  }
  return kv;
}

/** A complex NIfTI holding [x, y, slices, coils] -> [slices, coils, y, x]. */
export function kspaceFromNifti(img: NiftiImage): KspaceVolume {
  if (!img.complex) throw fileError(img.path, `holds ${img.datatype} data; k-space NIfTI files must be complex64 [x, y, slices, coils]`);
  if (img.dims.length > 4 && img.dims.slice(4).some((d) => d > 1)) {
    throw fileError(img.path, `has dims [${img.dims.join(', ')}]; k-space NIfTI files are [x, y, slices, coils]`);
  }
  checkFinite(img.path, img.data, 'k-space');
  const [nx = 1, ny = 1, nz = 1, nc = 1] = img.dims;
  const plane = 2 * nx * ny;
  const data = new Float32Array(img.data.length);
  // Stored row-major as [coils, slices, y, x]: swap the two outer axes.
  for (let c = 0; c < nc; c++) {
    for (let z = 0; z < nz; z++) {
      data.set(img.data.subarray((c * nz + z) * plane, (c * nz + z + 1) * plane), (z * nc + c) * plane);
    }
  }
  return { kspace: { data, shape: [nz, nc, ny, nx] }, phaseEncode: 'H', source: { format: 'nifti', path: img.path, affineLps: flipLpsRas(img.affineRas) } };
}

/** Writes [slices, coils, H, W] k-space as a complex64 NIfTI [x = W, y = H, slices, coils]. */
export function writeKspaceNifti(path: string, kspace: CArray, opts: { affineLps?: number[]; description?: string } = {}): void {
  if (kspace.shape.length !== 4) throw new ModlError(`writeKspaceNifti ${path}: shape [${kspace.shape}] is not [slices, coils, H, W]`);
  const [ns, nc, h, w] = kspace.shape as [number, number, number, number];
  const plane = 2 * h * w;
  const data = new Float32Array(kspace.data.length);
  for (let s = 0; s < ns; s++) {
    for (let c = 0; c < nc; c++) data.set(kspace.data.subarray((s * nc + c) * plane, (s * nc + c + 1) * plane), (c * ns + s) * plane);
  }
  writeNiftiArray(path, data, [w, h, ns, nc], true, { affineLps: opts.affineLps, description: opts.description ?? 'modl k-space' });
}

/** The two in-plane BART dims (faster first) and the slice count of a BART array. */
export function bartLayout(path: string, dims: readonly number[]): { fast: number; slow: number; slices: number; coils: number } {
  const d = (i: number) => dims[i] ?? 1;
  const spatial = [0, 1, 2].filter((i) => d(i) > 1);
  const other = dims.map((n, i) => (i > 3 && i !== BART_SLICE_DIM && n > 1 ? i : -1)).filter((i) => i >= 0);
  if (spatial.length !== 2) {
    throw fileError(path, `BART dims ${dims.join(' ')}: expected a 2D image plane in two of dims 0-2 (found ${spatial.length} non-singleton spatial dims)`);
  }
  if (other.length > 0) throw fileError(path, `BART dims ${dims.join(' ')}: dims ${other.join(', ')} (maps, time, ...) must be 1 for k-space input`);
  return { fast: spatial[0]!, slow: spatial[1]!, slices: d(BART_SLICE_DIM), coils: d(3) };
}

/** BART k-space [d0, d1, d2, coils, ..., slices@13] -> [slices, coils, H, W] (no copy). */
export function kspaceFromCfl(path: string): KspaceVolume {
  const { dims, array } = readCfl(path);
  const { fast, slow, slices, coils } = bartLayout(path, dims);
  return {
    kspace: { data: array.data, shape: [slices, coils, dims[slow]!, dims[fast]!] },
    phaseEncode: 'H',
    source: { format: 'cfl', path: cflBase(path), bartDims: [...dims] },
  };
}

/**
 * BART dims for an image reconstructed from a .cfl k-space input: the input's
 * dims with the coil dimension set to 1, so the output lines up with BART's.
 * (Its data is the [slices, H, W] image, unchanged.)
 */
export function bartImageDims(bartDims: readonly number[]): number[] {
  const out = [...bartDims];
  while (out.length < 4) out.push(1);
  out[3] = 1;
  return out;
}
