/**
 * Inputs that are not ordinary files of a readable size: a FIFO would block a
 * reader forever and a file over 2 GiB cannot be read into one buffer. Both
 * end in one line naming the file, a non-zero exit and no stack trace. An image
 * smaller than SSIM's 7×7 window is reconstructed, with SSIM not available.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { File as H5File, ready as h5ready } from 'h5wasm/node';
import { writeCfl } from '../../src/io/cfl.js';
import { writeFastmri } from '../../src/io/hdf5.js';
import { writeNiftiArray } from '../../src/io/nifti.js';
import { readRegularFileInto } from '../../src/util/fs.js';
import { modl } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-special-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;

describe('hostile input: special, oversized, tiny and non-finite files', () => {
  it.skipIf(!hasMkfifo)('a FIFO named .nii is refused by info and recon at once (no hang)', async () => {
    const fifo = join(tmp, 'pipe.nii');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const args of [['info', fifo], ['recon', fifo, '--out', join(tmp, 'out-fifo'), '--simulate-accel', '4']]) {
      const run = await modl(...args);
      expect(run.signal).toBeNull();
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`${fifo}: not a regular file`);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('k-space over 2 GiB (sparse .cfl whose header matches) is read in slices when it fits the memory budget, refused with its size when not', async () => {
    const base = join(tmp, 'huge');
    writeFileSync(`${base}.hdr`, '# Dimensions\n256 256 1 6144 1 1 1 1 1 1 1 1 1 1 1 1\n');
    writeFileSync(`${base}.cfl`, '');
    truncateSync(`${base}.cfl`, 256 * 256 * 6144 * 8); // 3 GiB
    process.env.MODL_MEMORY_BUDGET = '1G';
    try {
      const run = await modl('recon', `${base}.cfl`, '--out', join(tmp, 'out-huge'));
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`${base}.cfl: its data needs about 3.0 GiB of memory; the budget is 1.0 GiB`);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      delete process.env.MODL_MEMORY_BUDGET;
    }
    // the slices themselves, on a small file: every byte lands where it belongs
    const small = join(tmp, 'slices.bin');
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 251);
    writeFileSync(small, bytes);
    const into = new Uint8Array(1000);
    readRegularFileInto(small, into, 37);
    expect(into).toEqual(bytes);
    expect(() => readRegularFileInto(small, new Uint8Array(999))).toThrow(/holds 1000 bytes, expected 999/);
  });

  it('a 5×5×3 volume is reconstructed with every output, SSIM reported as not available', async () => {
    const file = join(tmp, 'tiny.nii');
    writeNiftiArray(file, new Float32Array(75).map((_, i) => 1 + (i % 7)), [5, 5, 3], false);
    const out = join(tmp, 'out-tiny');
    const run = await modl('recon', file, '--simulate-accel', '2', '--out', out);
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

  it('k-space holding NaN or Inf is refused at load time with the count; NaN image pixels become 0 with a warning', async () => {
    const base = join(tmp, 'nan');
    const data = new Float32Array(2 * 4 * 16 * 16).fill(0.5);
    data[10] = NaN;
    data[77] = Infinity;
    writeCfl(base, { data, shape: [4, 16, 16] }, [16, 16, 1, 4]);
    const bad = await modl('recon', `${base}.cfl`, '--out', join(tmp, 'out-nan'));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`${base}.cfl: complex data: 2 of 2048 values are NaN or infinite`);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    // the output folder may exist (it is checked before the work) but holds nothing
    expect(existsSync(join(tmp, 'out-nan')) ? readdirSync(join(tmp, 'out-nan')) : []).toEqual([]);

    const image = join(tmp, 'nan-background.nii');
    const pixels = new Float32Array(16 * 16 * 2).map((_, i) => (i % 16 < 3 ? NaN : 1 + (i % 5)));
    writeNiftiArray(image, pixels, [16, 16, 2], false);
    const out = join(tmp, 'out-nan-image');
    const run = await modl('recon', image, '--simulate-accel', '2', '--methods', 'zero-filled,cgsense', '--out', out);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`warning: ${image}: 96 of 512 pixels are NaN or infinite; set to 0`);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).metrics;
    expect(Number.isFinite(metrics.cgsense.psnr)).toBe(true);
  });

  it("an HDF5 file whose 'kspace' is a soft link to itself: one line from HDF5's error stack, not its diagnostics", async () => {
    await h5ready;
    const file = join(tmp, 'self-link.h5');
    const f = new H5File(file, 'w');
    f.create_soft_link('/kspace', 'kspace');
    f.close();
    for (const args of [['info', file], ['recon', file, '--out', join(tmp, 'out-link')]]) {
      const run = await modl(...args);
      expect(run.status).toBe(1);
      const lines = run.stderr.split('\n').filter((l) => l && !l.startsWith('backend:'));
      expect(lines).toEqual([`modl: error: ${file}: corrupt HDF5 content (too many links (H5G__traverse_special))`]);
    }
  });

  it('decompression bombs: a small .nii.gz inflating far past its header, and a huge PNG, stop at once in bounded memory', async () => {
    // a 2×2×2 float32 header followed by 64 MiB of zeros (64 KiB compressed)
    const header = Buffer.alloc(352);
    header.writeInt32LE(348, 0);
    [3, 2, 2, 2, 1, 1, 1, 1].forEach((d, i) => header.writeInt16LE(d, 40 + 2 * i));
    header.writeInt16LE(16, 70);
    header.writeInt16LE(32, 72);
    for (let i = 0; i < 8; i++) header.writeFloatLE(1, 76 + 4 * i);
    header.writeFloatLE(352, 108);
    header.write('n+1\0', 344, 'latin1');
    const nii = join(tmp, 'bomb.nii.gz');
    writeFileSync(nii, gzipSync(Buffer.concat([header, Buffer.alloc(64 * 2 ** 20)]), { level: 9 }));
    // a 20000×20000 grey PNG header (400 M pixels; the data are never reached)
    const row = Buffer.alloc(1 + 20000);
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const out = Buffer.alloc(12 + data.length);
      out.writeUInt32BE(data.length, 0);
      body.copy(out, 4);
      out.writeUInt32BE(crc32(body), 8 + data.length);
      return out;
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(20000, 0);
    ihdr.writeUInt32BE(20000, 4);
    ihdr[8] = 8; // 8-bit grey
    const png = join(tmp, 'bomb.png');
    writeFileSync(png, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: 200 }, () => row)))), chunk('IEND', Buffer.alloc(0))]));
    process.env.MODL_MEMORY_BUDGET = '1G';
    try {
      for (const [file, why] of [[nii, 'decompresses to more than its header describes'], [png, 'PNG image needs about 3.0 GiB of memory; the budget is 1.0 GiB']]) {
        const run = await modl('info', file!);
        expect(run.status).toBe(1);
        expect(run.stderr).toContain(`modl: error: ${file}: ${why}`);
      }
    } finally {
      delete process.env.MODL_MEMORY_BUDGET;
    }
  });

  it('coil maps that do not fit the k-space or are zero everywhere are refused before the work, naming the file', async () => {
    const kspace = { data: Float32Array.from({ length: 2 * 4 * 32 * 32 }, (_, i) => Math.cos(i)), shape: [1, 4, 32, 32] };
    const cases = [
      ['wrong-maps.h5', { data: new Float32Array(2 * 3 * 32 * 32).fill(0.1), shape: [1, 3, 32, 32] }, 'stored maps [3, 32, 32] do not match the k-space\'s [4, 32, 32] (coils, H, W)'],
      ['zero-maps.h5', { data: new Float32Array(2 * 4 * 32 * 32), shape: [1, 4, 32, 32] }, 'stored maps are zero everywhere'],
    ] as const;
    for (const [name, maps, why] of cases) {
      const file = join(tmp, name);
      await writeFastmri(file, { kspace, datasets: { maps: { complex: { data: maps.data, shape: [...maps.shape] } } } });
      const run = await modl('recon', file, '--methods', 'zero-filled', '--out', join(tmp, `out-${name}`));
      expect(run.status).toBe(1);
      expect(run.stderr.trim().split('\n').at(-1)).toBe(`modl: error: ${file}: ${why}`);
      expect(existsSync(join(tmp, `out-${name}`))).toBe(false);
    }
  });
});
