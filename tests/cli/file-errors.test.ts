/** File-system failures at the CLI are one line naming the path and the reason, with no stack trace. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNiftiArray } from '../../src/io/nifti.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-fs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const image = join(tmp, 'img.nii');
writeNiftiArray(image, new Float32Array(16 * 16 * 2).fill(1), [16, 16, 2], false);
const modl = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('file-system errors at the command line', () => {
  it('an --out under a file is named with the reason, not a Node stack trace', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const run = modl('recon', image, '--simulate-accel', '2', '--methods', 'zero-filled', '--out', join(file, 'out'));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`modl: error: ${join(file, 'out')}: a part of this path is a file, not a folder (ENOTDIR)`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('an --out under /proc ends with its reason instead of spinning in mkdir', () => {
    const run = modl('recon', image, '--simulate-accel', '2', '--methods', 'zero-filled', '--out', '/proc/modl-out/x');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('modl: error: /proc/modl-out: no such file or folder (ENOENT)');
  });
});
