/**
 * Inputs that are not ordinary files of a readable size: a FIFO would block a
 * reader forever and a file over 2 GiB cannot be read into one buffer. Both
 * end in one line naming the file, a non-zero exit and no stack trace. An image
 * smaller than SSIM's 7×7 window is reconstructed, with SSIM not available.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNiftiArray } from '../../src/io/nifti.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-special-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const modl = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;

describe('special and oversized input files', () => {
  it.skipIf(!hasMkfifo)('a FIFO named .nii is refused by info and recon at once (no hang)', () => {
    const fifo = join(tmp, 'pipe.nii');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const args of [['info', fifo], ['recon', fifo, '--out', join(tmp, 'out-fifo'), '--simulate-accel', '4']]) {
      const run = modl(...args);
      expect(run.signal).toBeNull();
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`${fifo}: not a regular file`);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a 3 GiB k-space (sparse .cfl whose header matches) is refused with its size, not read', () => {
    const base = join(tmp, 'huge');
    writeFileSync(`${base}.hdr`, '# Dimensions\n256 256 1 6144 1 1 1 1 1 1 1 1 1 1 1 1\n');
    writeFileSync(`${base}.cfl`, '');
    truncateSync(`${base}.cfl`, 256 * 256 * 6144 * 8);
    const run = modl('recon', `${base}.cfl`, '--out', join(tmp, 'out-huge'));
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/huge\.cfl: is 3\.0 GiB; inputs over 2 GiB are not supported/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('a 5×5×3 volume is reconstructed with every output, SSIM reported as not available', () => {
    const file = join(tmp, 'tiny.nii');
    writeNiftiArray(file, new Float32Array(75).map((_, i) => 1 + (i % 7)), [5, 5, 3], false);
    const out = join(tmp, 'out-tiny');
    const run = modl('recon', file, '--simulate-accel', '2', '--out', out);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/MoDL\s+[\d.]+\s+n\/a/);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).metrics;
    for (const m of ['zero-filled', 'cgsense', 'modl']) {
      expect(metrics[m].ssim).toBeNull();
      expect(Number.isFinite(metrics[m].psnr)).toBe(true);
      expect(existsSync(join(out, `${m}.nii.gz`))).toBe(true);
    }
  });
});
