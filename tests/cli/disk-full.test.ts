/**
 * A full disk and a read-only file system under the output: one clean message,
 * a non-zero exit, and nothing under the final name (no half-written shard,
 * checkpoint or reconstruction folder, no temporary left behind).
 *
 * Needs a small tmpfs (mount, as root); skipped where it cannot be made.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFastmri } from '../../src/io/hdf5.js';
import { writeNiftiArray } from '../../src/io/nifti.js';
import { phantomTrainingSet } from '../helpers/datasets.js';
import { ModlError } from '../../src/util/errors.js';
import { modl } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-disk-'));
const small = join(tmp, 'small-fs');
const readOnly = join(tmp, 'read-only-fs');
const mount = (dir: string, options: string) => {
  mkdirSync(dir);
  return spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
};
const mounted = mount(small, 'size=256k') && mount(readOnly, 'ro,size=64k');
afterAll(() => {
  for (const dir of [small, readOnly]) spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
  rmSync(tmp, { recursive: true, force: true });
});

/** Fills the small file system until `leave` bytes are free. */
function fill(leave: number): void {
  const st = statfsSync(small);
  const free = st.bavail * st.bsize;
  if (free > leave) writeFileSync(join(small, `filler-${Date.now()}`), Buffer.alloc(free - leave));
}

/** Entries of a folder apart from the fillers. */
const listed = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('filler-')).sort() : []);

const noTrace = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at |HDF5-DIAG/);

const image = join(tmp, 'img.nii');
writeNiftiArray(image, Float32Array.from({ length: 64 * 64 * 8 }, (_, i) => (i % 64) / 8), [64, 64, 8], false);

describe.skipIf(!mounted)('a full or read-only file system under the output', () => {
  it('an HDF5 write that runs out of space fails with the reason, and nothing reaches the final name', async () => {
    fill(64 * 1024);
    const data = new Float32Array(2 * 8 * 64 * 64); // 256 KiB of complex64
    const out = join(small, 'k.h5');
    const err = await writeFastmri(out, { kspace: { data, shape: [1, 8, 64, 64] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModlError);
    expect((err as Error).message).toBe(`${out}: cannot write HDF5: No space left on device`);
    expect(listed(small)).toEqual([]);
  });

  it('synth refuses a dataset the file system has no room for, before making anything', async () => {
    const out = join(small, 'ds');
    const run = await modl('synth', '--out', out, '--count', '4', '--size', '64', '--coils', '8', '--workers', '0');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`modl: error: ${out}: needs about \\d+\\.\\d MiB but only 0\\.\\d MiB is free`));
    noTrace(run.stderr);
    expect(existsSync(out)).toBe(false);
  });

  it('recon of a study: the disk fills while writing; one message, no output folder, no temporary', async () => {
    const out = join(small, 'recon');
    const run = await modl('recon', image, '--simulate-accel', '2', '--methods', 'zero-filled,cgsense', '--out', out);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`modl: error: ${out}/\\S+: no space left on the device \\(ENOSPC\\)`)); // the final name, not the temporary
    noTrace(run.stderr);
    expect(listed(small)).toEqual([]);
  });

  it('train: the first checkpoint does not fit; one message and no epoch folder', async () => {
    const data = join(tmp, 'train-data');
    await phantomTrainingSet(data, { count: 8, size: 32, shardSize: 4 });
    const out = join(small, 'run');
    fill(8 * 1024);
    const run = await modl('train', '--data', data, '--out', out, '--epochs', '1', '--steps-per-epoch', '1', '--batch-size', '1',
      '--width', '16', '--depth', '3', '--val-fraction', '0.25', '--val-slices', '1', '--backend', 'cpu');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`modl: error: ${out}/\\S+: no space left on the device \\(ENOSPC\\)`)); // the final name, not the temporary
    noTrace(run.stderr);
    expect(listed(out).filter((f) => /epoch-|latest/.test(f) || f.startsWith('.'))).toEqual([]);
  });

  it('a read-only file system is named as such by synth, recon and train before any work', async () => {
    for (const args of [
      ['synth', '--out', join(readOnly, 'ds'), '--count', '2', '--size', '32'],
      ['recon', image, '--simulate-accel', '2', '--methods', 'zero-filled', '--out', join(readOnly, 'recon')],
      ['train', '--data', tmp, '--out', join(readOnly, 'run')],
    ]) {
      const run = await modl(...args);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`cannot write in ${readOnly}: read-only file system (EROFS)`);
      noTrace(run.stderr);
    }
  });
});
