/** File-system failures at the CLI are one line naming the path and the reason, with no stack trace. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCfl } from '../../src/io/cfl.js';
import { writeNiftiArray } from '../../src/io/nifti.js';
import { checkOutputLocation } from '../../src/util/fs.js';
import { ModlError } from '../../src/util/errors.js';
import { modl } from '../helpers/cli.js';
import { randomComplex } from '../helpers/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-fs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const image = join(tmp, 'img.nii');
writeNiftiArray(image, new Float32Array(16 * 16 * 2).fill(1), [16, 16, 2], false);

describe('file-system errors at the command line', () => {
  it('an --out under a file is named with the reason, not a Node stack trace', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const run = await modl('recon', image, '--simulate-accel', '2', '--methods', 'zero-filled', '--out', join(file, 'out'));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`modl: error: ${join(file, 'out')}: a part of this path is a file, not a folder (${file})`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('an --out under /proc ends with its reason instead of spinning in mkdir', async () => {
    const run = await modl('recon', image, '--simulate-accel', '2', '--methods', 'zero-filled', '--out', '/proc/modl-out/x');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('modl: error: /proc/modl-out/x: cannot write in /proc: no such file or folder (ENOENT)');
  });

  it('an unusable output of recon --kspace and maps is refused before ESPIRiT runs', async () => {
    const kspace = join(tmp, 'k');
    writeCfl(kspace, { data: randomComplex(4 * 32 * 32, 1), shape: [4, 32, 32] }, [32, 32, 1, 4]);
    const file = join(tmp, 'plain-file');
    writeFileSync(file, 'x');
    for (const args of [['recon', '--kspace', kspace, '--out', join(file, 'x')], ['maps', '--kspace', kspace, '--out', '/proc/modl-maps']]) {
      const run = await modl(...args);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/^modl: error: \S+: (a part of this path is a file|cannot write in \/proc)/m);
      expect(run.stderr).not.toContain('ESPIRiT');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('synth and train refuse an --out that is a file, and synth one without room for the dataset, before any work', async () => {
    const file = join(tmp, 'out-file');
    writeFileSync(file, 'x');
    for (const args of [['synth', '--out', file, '--count', '2'], ['train', '--out', file, '--data', tmp]]) {
      const run = await modl(...args);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`modl: error: ${file}: exists and is not a folder`);
    }
    const big = join(tmp, 'too-big');
    const run = await modl('synth', '--out', big, '--count', '1000000', '--size', '512', '--coils', '32');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/too-big: needs about \d+\.\d [MG]iB but only \d+\.\d [MG]iB is free/);
    expect(existsSync(join(big, 'manifest.json'))).toBe(false);
  });

  it('a study reconstruction refuses a non-empty --out unless --force', async () => {
    const out = join(tmp, 'busy-out');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const args = ['recon', image, '--simulate-accel', '2', '--methods', 'zero-filled', '--no-images', '--out', out];
    const refused = await modl(...args);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`modl: error: ${out}: is not empty: add --force`);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    const forced = await modl(...args, '--force');
    expect(forced.status, forced.stderr).toBe(0);
    expect(readdirSync(out)).toContain('report.md');
  });

  it('checkOutputLocation: the kind of an existing path, and the room needed', () => {
    expect(() => checkOutputLocation(tmp, 'file')).toThrow(/is a folder; the output is a file/);
    expect(() => checkOutputLocation(join(tmp, 'new', 'deeper'), 'folder')).not.toThrow();
    expect(existsSync(join(tmp, 'new'))).toBe(false); // checking creates nothing
    expect(() => checkOutputLocation(join(tmp, 'new'), 'folder', 2 ** 62)).toThrow(ModlError);
  });
});
