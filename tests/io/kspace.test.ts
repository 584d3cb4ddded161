/** K-space loading from BART .cfl (real data), layout rules, and format detection. */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCfl, writeCfl } from '../../src/io/cfl.js';
import { detectFormat, loadImageVolumes } from '../../src/io/detect.js';
import { bartImageDims, bartLayout, loadKspace } from '../../src/io/kspace.js';
import { writeNifti } from '../../src/io/nifti.js';
import { writePng } from '../../src/io/png.js';
import { writeFastmri } from '../../src/io/hdf5.js';
import { ModlError } from '../../src/util/errors.js';
import { randomComplex } from '../helpers/random.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-kspace-'));

describe.skipIf(!HAS_SHARED)('k-space from BART .cfl (real 8-coil brain)', () => {
  it('dims 1 230 180 8 -> [1 slice, 8 coils, H 180, W 230], the .cfl bytes unchanged', async () => {
    const base = shared('kspace', 'brain_8coil_poisson8x');
    const kv = await loadKspace(`${base}.cfl`);
    expect(kv.kspace.shape).toEqual([1, 8, 180, 230]);
    expect(kv.source.bartDims).toEqual([1, 230, 180, 8]);
    expect(kv.kspace.data).toEqual(readCfl(base).array.data);
    expect(bartImageDims(kv.source.bartDims!)).toEqual([1, 230, 180, 1]);
    // The ESPIRiT-free BART image (pics result) loads as a magnitude volume in the same plane layout.
    const [img] = await loadImageVolumes(shared('kspace', 'brain_8coil_poisson8x_l1wav_bart.cfl'));
    expect(img!.shape).toEqual([1, 180, 230]);
    const { array } = readCfl(shared('kspace', 'brain_8coil_poisson8x_l1wav_bart'));
    expect(img!.data[1234]).toBeCloseTo(Math.hypot(array.data[2468]!, array.data[2469]!), 6);
  });
});

describe('k-space layouts', () => {
  it('takes the image plane from any two spatial BART dims and slices from dim 13', () => {
    expect(bartLayout('x', [64, 1, 48, 4])).toEqual({ fast: 0, slow: 2, slices: 1, coils: 4 });
    expect(bartLayout('x', [1, 64, 48, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5])).toEqual({ fast: 1, slow: 2, slices: 5, coils: 4 });
    expect(() => bartLayout('x', [8, 8, 8, 2])).toThrow(/2D image plane/);
    expect(() => bartLayout('x', [1, 8, 8, 2, 3])).toThrow(/dims 4/);
  });

  it('reads a multi-slice .cfl as [slices, coils, H, W]', async () => {
    const dims = [1, 5, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4];
    const data = randomComplex(5 * 3 * 2 * 4, 3);
    writeCfl(join(dir, 'multi'), { data, shape: [...dims].reverse() }, dims);
    const kv = await loadKspace(join(dir, 'multi'));
    expect(kv.kspace.shape).toEqual([4, 2, 3, 5]);
    // Element (slice 3, coil 1, H 2, W 4) is BART index (0, 4, 2, 1, ..., 3).
    const i = 4 + 5 * (2 + 3 * (1 + 2 * 3));
    expect(kv.kspace.data[2 * (((3 * 2 + 1) * 3 + 2) * 5 + 4)]).toBe(data[2 * i]);
  });

  it('rejects real-valued NIfTI and unknown files as k-space', async () => {
    const nii = join(dir, 'real.nii');
    writeNifti(nii, { data: new Float32Array(4), shape: [1, 2, 2], spacing: [1, 1, 1], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], source: { format: 'test', path: '' } });
    await expect(loadKspace(nii)).rejects.toThrow(/must be complex64/);
    const other = join(dir, 'data.bin');
    writeFileSync(other, 'abc');
    await expect(loadKspace(other)).rejects.toBeInstanceOf(ModlError);
  });
});

describe('format detection', () => {
  it('recognises each format by content', async () => {
    const vol = { data: new Float32Array([1, 2, 3, 4]), shape: [1, 2, 2] as [number, number, number], spacing: [1, 1, 1] as [number, number, number], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], source: { format: 'test', path: '' } };
    writeNifti(join(dir, 'a.nii'), vol);
    writeNifti(join(dir, 'b.nii.gz'), vol);
    copyFileSync(join(dir, 'b.nii.gz'), join(dir, 'g')); // gzipped NIfTI without its extension
    writePng(join(dir, 'c.png'), vol.data, 2, 2);
    await writeFastmri(join(dir, 'd.h5'), { kspace: { data: new Float32Array(8), shape: [1, 1, 2, 2] } });
    writeCfl(join(dir, 'e'), { data: new Float32Array(8), shape: [2, 2, 1] });
    writeFileSync(join(dir, 'f.txt'), 'hello');
    expect(['a.nii', 'b.nii.gz', 'g', 'c.png', 'd.h5', 'e', 'e.cfl', 'f.txt'].map((f) => detectFormat(join(dir, f))))
      .toEqual(['nifti', 'nifti', 'nifti', 'png', 'hdf5', 'cfl', 'cfl', 'unknown']);
    expect(detectFormat(dir)).toBe('dicom-folder');
    expect(() => detectFormat(join(dir, 'missing'))).toThrow(/no such file/);
    expect((await loadImageVolumes(join(dir, 'c.png')))[0]!.shape).toEqual([1, 2, 2]);
    await expect(loadImageVolumes(join(dir, 'f.txt'))).rejects.toThrow(/unrecognised format/);
  });
});
