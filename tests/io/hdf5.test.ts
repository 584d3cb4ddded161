/** fastMRI-layout HDF5: write -> read round trips and bad files. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { File as H5File, ready } from 'h5wasm/node';
import { describe, expect, it } from 'vitest';
import { loadImageVolumes } from '../../src/io/detect.js';
import { parseIsmrmrdEncoding, readFastmri, writeFastmri } from '../../src/io/hdf5.js';
import { loadKspace } from '../../src/io/kspace.js';
import { ModlError } from '../../src/util/errors.js';
import { randomComplex } from '../helpers/random.js';
import { HAS_H5PY } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-hdf5-'));
const HEADER = `<?xml version="1.0"?><ismrmrdHeader><encoding><encodedSpace><matrixSize><x>12</x><y>6</y><z>1</z></matrixSize>
<fieldOfView_mm><x>240</x><y>120</y><z>3</z></fieldOfView_mm></encodedSpace><reconSpace><matrixSize><x>4</x><y>4</y><z>1</z></matrixSize>
<fieldOfView_mm><x>80</x><y>80</y><z>3</z></fieldOfView_mm></reconSpace></encoding></ismrmrdHeader>`;

describe('fastMRI HDF5', () => {
  const kspace = { data: randomComplex(3 * 2 * 12 * 6, 1), shape: [3, 2, 12, 6] };
  const rss = { data: Float32Array.from({ length: 3 * 16 }, (_, i) => i / 3), shape: [3, 4, 4] };
  const mask = { data: new Float32Array([1, 0, 1, 1, 0, 1]), shape: [6] };
  const target = { data: randomComplex(3 * 12 * 6, 2), shape: [3, 12, 6] };
  const maps = { data: randomComplex(3 * 2 * 12 * 6, 3), shape: [3, 2, 12, 6] };
  const path = join(dir, 'file.h5');

  it('write -> read preserves k-space exactly, and every dataset, header and attribute', async () => {
    await writeFastmri(path, {
      kspace, reconstructionRss: rss, mask, ismrmrdHeader: HEADER,
      datasets: { target: { complex: target }, maps: { complex: maps } },
      attrs: { max: 3.25, norm: 10, acquisition: 'CORPD_FBK', patient_id: 'synthetic-0' },
    });
    const f = await readFastmri(path);
    expect(f.kspace.shape).toEqual(kspace.shape);
    expect(f.kspace.data).toEqual(kspace.data);
    expect(f.reference).toEqual(rss);
    expect(f.mask).toEqual(mask);
    expect(f.extra.target).toEqual({ complex: target });
    expect(f.extra.maps).toEqual({ complex: maps });
    expect(f.attrs).toEqual({ max: 3.25, norm: 10, acquisition: 'CORPD_FBK', patient_id: 'synthetic-0' });
    expect(f.ismrmrdHeader).toBe(HEADER);
    expect(f.encoding).toEqual({ encodedMatrix: [12, 6, 1], reconMatrix: [4, 4, 1], encodedFovMm: [240, 120, 3], reconFovMm: [80, 80, 3] });
  });

  it('stores complex data as the {r, i} float32 compound h5py reads as complex64', async () => {
    await ready;
    const file = new H5File(path, 'r');
    try {
      const ds = file.get('kspace') as import('h5wasm/node').Dataset;
      expect(ds.dtype).toEqual([['r', '<f'], ['i', '<f']]);
      expect(ds.metadata.size).toBe(8);
      expect(file.get('reconstruction_rss') instanceof Object && (file.get('reconstruction_rss') as import('h5wasm/node').Dataset).dtype).toBe('<f');
      expect(file.attrs.max!.dtype).toBe('<d');
    } finally {
      file.close();
    }
  });

  it('reads a slice range of every per-slice dataset', async () => {
    const f = await readFastmri(path, { slices: [1, 3] });
    expect(f.kspace.shape).toEqual([2, 2, 12, 6]);
    expect(f.kspace.data).toEqual(kspace.data.subarray(2 * 144, 6 * 144));
    expect(f.reference!.data).toEqual(rss.data.subarray(16, 48));
    expect((f.extra.maps as { complex: { data: Float32Array } }).complex.data).toEqual(maps.data.subarray(2 * 144, 6 * 144));
    expect(f.mask).toEqual(mask); // not per-slice
    await expect(readFastmri(path, { slices: [2, 5] })).rejects.toThrow(/outside/);
  });

  it('loads as k-space and as a reference image volume with the recon spacing', async () => {
    const kv = await loadKspace(path);
    expect(kv.source.format).toBe('fastmri-hdf5');
    expect(kv.kspace.data).toEqual(kspace.data);
    const [vol] = await loadImageVolumes(path);
    expect(vol!.shape).toEqual([3, 4, 4]);
    expect(vol!.spacing).toEqual([3, 20, 20]);
  });

  it('reads single-coil files ([slices, H, W]) with coils = 1', async () => {
    await ready;
    const single = join(dir, 'singlecoil.h5');
    const file = new H5File(single, 'w');
    const re = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const im = Float32Array.from(re, (v) => -v);
    file.create_dataset({ name: 'kspace', data: new Map([['r', re], ['i', im]]) as never, shape: [2, 3, 4] });
    file.close();
    const f = await readFastmri(single);
    expect(f.kspace.shape).toEqual([2, 1, 3, 4]);
    expect(Array.from(f.kspace.data.subarray(10, 14))).toEqual([5, -5, 6, -6]);
  });

  it('parses an ISMRMRD header without reconSpace', () => {
    expect(parseIsmrmrdEncoding('<ismrmrdHeader><encoding><encodedSpace><matrixSize><x>640</x><y>368</y><z>1</z></matrixSize></encodedSpace></encoding></ismrmrdHeader>'))
      .toEqual({ encodedMatrix: [640, 368, 1], reconMatrix: undefined, encodedFovMm: undefined, reconFovMm: undefined });
  });

  it('rejects non-HDF5, truncated and k-space-less files with errors naming them', async () => {
    const text = join(dir, 'text.h5');
    writeFileSync(text, 'not hdf5 at all');
    const truncated = join(dir, 'truncated.h5');
    writeFileSync(truncated, readFileSync(path).subarray(0, 4000));
    const noKspace = join(dir, 'nok.h5');
    await ready;
    const f = new H5File(noKspace, 'w');
    f.create_dataset({ name: 'image', data: new Float32Array(4), shape: [2, 2] });
    f.close();
    for (const [p, why] of [[text, /not an HDF5 file/], [truncated, /truncated HDF5/], [noKspace, /no 'kspace' dataset; found \[image\]/]] as const) {
      const err = await readFastmri(p).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModlError);
      expect((err as Error).message).toContain(p);
      expect((err as Error).message).toMatch(why);
    }
  });
});


describe.skipIf(!HAS_H5PY)('complex compounds written by other tools (h5py)', () => {
  /** A [1, 1, 2, 2] compound k-space of r = 1.5, i = −2 with the members named and ordered as given. */
  const write = (name: string, members: [string, string]) => {
    const path = join(dir, name);
    const script = `import h5py, numpy as np
dt = np.dtype([('${members[0]}', '<f4'), ('${members[1]}', '<f4')])
a = np.zeros((1, 1, 2, 2), dtype=dt)
a['${members[0]}'] = ${members[0].startsWith('i') ? -2 : 1.5}
a['${members[1]}'] = ${members[1].startsWith('i') ? -2 : 1.5}
h5py.File('${path}', 'w').create_dataset('kspace', data=a)`;
    expect(spawnSync('/usr/bin/python3', ['-c', script]).status).toBe(0);
    return path;
  };

  it('finds the real and imaginary members by name, in either order', async () => {
    for (const members of [['i', 'r'], ['real', 'imag'], ['im', 're']] as [string, string][]) {
      const { kspace } = await readFastmri(write(`${members.join('-')}.h5`, members));
      expect(Array.from(kspace.data.subarray(0, 2))).toEqual([1.5, -2]);
    }
  });

  it('refuses members it cannot tell apart, naming them', async () => {
    const path = write('a-b.h5', ['a', 'b']);
    await expect(readFastmri(path)).rejects.toThrow(`${path}: dataset /kspace: compound members [a, b] are not named r/i (h5py), re/im or real/imag`);
  });
});
