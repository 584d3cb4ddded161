/**
 * An optional anatomy source for the phantom: a crisp tissue-label volume such
 * as the BrainWeb normal brain (labels 0 background, 1 CSF, 2 GM, 3 WM, 4 fat,
 * 5 muscle/skin, 6 skin, 7 skull, 8 glial matter, 9 connective tissue). Axial
 * slices are resampled with a random augmentation; each tissue's one-hot map
 * is interpolated separately, which gives partial-volume fractions.
 * The procedural phantom (phantom.ts) needs none of this.
 */
import { readNiftiVolumes } from '../io/nifti.js';
import type { ImageVolume } from '../io/volume.js';
import { fileError } from '../util/errors.js';
import type { Rng } from '../util/random.js';
import { drawAugment, sampleGrid, sourceGrid, type AugmentOptions } from './augment.js';
import type { Anatomy } from './phantom.js';
import { TISSUES, TISSUE_INDEX as T } from './tissue.js';
import { axialAxis, extractPlane, planeShape, type VolumeAxis } from './volume-slices.js';

/** BrainWeb label → phantom tissue class. */
const BRAINWEB_CLASSES: Record<number, number> = {
  0: T.background, 1: T.csf, 2: T.gm, 3: T.wm, 4: T.fat, 5: T.muscle, 6: T.muscle, 7: T.bone, 8: T.gm, 9: T.muscle,
};

export class LabelAnatomySource {
  private constructor(
    readonly path: string,
    private readonly volume: ImageVolume,
    private readonly axis: VolumeAxis,
    /** Axial slices with enough brain (CSF+GM+WM ≥ 15 % of the plane). */
    readonly slices: number[],
  ) {}

  static load(path: string): LabelAnatomySource {
    const volume = readNiftiVolumes(path)[0];
    if (!volume) throw fileError(path, 'holds no volume');
    for (let i = 0; i < volume.data.length; i++) {
      const l = volume.data[i]!;
      if (!(l in BRAINWEB_CLASSES)) throw fileError(path, `label ${l} at voxel ${i} is not a BrainWeb tissue label (0-9)`);
    }
    const axis = axialAxis(volume);
    const slices: number[] = [];
    for (let index = 0; index < volume.shape[axis]; index++) {
      const plane = extractPlane(volume, axis, index);
      let brain = 0;
      for (const l of plane) if (l >= 1 && l <= 3) brain++;
      if (brain >= 0.15 * plane.length) slices.push(index);
    }
    if (slices.length === 0) throw fileError(path, 'no axial slice holds brain tissue (labels 1-3)');
    return new LabelAnatomySource(path, volume, axis, slices);
  }

  /** A random axial slice as tissue fractions at H×W, augmented geometrically. */
  anatomy(H: number, W: number, rng: Rng, augment: AugmentOptions): Anatomy {
    const index = this.slices[rng.int(this.slices.length)]!;
    const draw = drawAugment(rng, { ...augment, gamma: [1, 1] }, [H, W]);
    const shape = planeShape(this.volume, this.axis);
    const labels = extractPlane(this.volume, this.axis, index);
    const grid = sourceGrid([H, W], shape, draw);
    const n = H * W;
    const K = TISSUES.length;
    const fractions = new Float32Array(K * n);
    const oneHot = new Float32Array(labels.length);
    for (let k = 1; k < K; k++) {
      let any = false;
      for (let i = 0; i < labels.length; i++) {
        oneHot[i] = BRAINWEB_CLASSES[labels[i]!] === k ? 1 : 0;
        any ||= oneHot[i] === 1;
      }
      if (any) fractions.set(sampleGrid(oneHot, 0, shape, grid), k * n);
    }
    // background takes the rest, including everything outside the source plane
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 1; k < K; k++) s += fractions[k * n + i]!;
      fractions[T.background * n + i] = Math.max(0, 1 - s);
    }
    return { H, W, fractions, params: { source: this.path, slice: index, axis: this.axis, ...draw } };
  }
}
