/**
 * The training set of the generators: a fixed, seeded pool of S×S magnitude
 * images, each scaled so its 99.5th percentile is 1 and clipped to [0, 1]:
 *   - procedural phantom brains (src/images/phantom-generator.ts; T1/T2/PD),
 *   - phantom brains with BrainWeb anatomy (a crisp label volume),
 *   - axial slices of real image volumes (DICOM/NIfTI files or folders) that
 *     contain enough object, augmented as the `images` generator does (flips,
 *     rotation, zoom, elastic deformation, contrast gamma).
 * The pool is rebuilt from its specification (recorded in each checkpoint), so
 * a resumed run and the quality report see exactly the same images.
 */
import { statSync } from 'node:fs';
import { loadImageVolumes } from '../io/detect.js';
import type { ImageVolume } from '../io/volume.js';
import { applyGamma, drawAugment, sampleGrid, sourceGrid, type SourcePlane } from '../images/augment.js';
import { normalizePercentile } from '../images/fields.js';
import { eligiblePlanes, loadFolderVolumes } from '../images/images.js';
import { PhantomGenerator } from '../images/phantom-generator.js';
import { extractPlane, planeShape, type PlaneRef, type VolumeAxis } from '../images/volume-slices.js';
import { fileError, ModlError } from '../util/errors.js';
import { Rng } from '../util/random.js';

export interface TrainingSetSpec {
  size: number;
  /** Procedural phantom images. */
  phantom: number;
  /** Phantom images with the anatomy of `labels` (BrainWeb crisp labels). */
  labelled: number;
  labels?: string;
  /** Augmented real slices, drawn volume first (uniformly), then slice. */
  real: number;
  /** Image files or folders (DICOM series, NIfTI, ...). */
  images: string[];
  /** Keep axial planes with at least this fraction of pixels above 10 % of the volume's 99.5th percentile. */
  minContent: number;
  /**
   * Of those, drop the lowest fraction (from the inferior end): in whole-head
   * scans those planes cut through the neck and face rather than the brain.
   */
  dropInferior: number;
  seed: number;
}

export interface TrainingSet {
  spec: TrainingSetSpec;
  /** count × S × S values, image after image. */
  data: Float32Array;
  count: number;
  /** Where each image came from: 'phantom', 'labelled' or the real volume's file. */
  origin: string[];
  /** Per real volume: file, shape, eligible axial planes. */
  volumes: { file: string; shape: number[]; planes: number }[];
}

export function image(set: { data: Float32Array; spec: { size: number } }, i: number): Float32Array {
  const n = set.spec.size ** 2;
  return set.data.subarray(i * n, (i + 1) * n);
}

/** Loads the real volumes: each path a file or a folder (searched recursively, as `modl synth --images`). */
export async function loadRealVolumes(paths: string[]): Promise<{ volume: ImageVolume; file: string }[]> {
  const out: { volume: ImageVolume; file: string }[] = [];
  for (const path of paths) {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) throw fileError(path, 'not found');
    if (st.isDirectory()) {
      const { volumes, files } = await loadFolderVolumes(path);
      volumes.forEach((volume, i) => out.push({ volume, file: files[i]! }));
    } else {
      for (const volume of await loadImageVolumes(path)) out.push({ volume, file: path });
    }
  }
  return out;
}

/** The voxel axes along a plane's rows and columns (data axes: 0 slices, 1 rows, 2 columns). */
const PLANE_AXES: Record<VolumeAxis, [number, number]> = { 0: [1, 2], 1: [0, 2], 2: [0, 1] };
/** The affine column (x, y, z direction) of data axis d: slices ↔ column 2, rows ↔ 1, columns ↔ 0. */
const affineColumnOf = (d: number) => 2 - d;

/** The planes kept: eligible ones without the lowest `dropInferior` fraction, inferior to superior. */
export function brainPlanes(v: ImageVolume, minContent: number, dropInferior: number): PlaneRef[] {
  const planes = eligiblePlanes([v], 'axial', minContent);
  if (planes.length === 0) return [];
  // LPS z points superior: along data axis d the head-foot component of a step is affine[8 + column]
  const up = v.affine[8 + affineColumnOf(planes[0]!.axis)]! >= 0;
  planes.sort((a, b) => (up ? a.index - b.index : b.index - a.index));
  return planes.slice(Math.floor(dropInferior * planes.length));
}

/**
 * An axial plane with anterior–posterior running down the rows (the usual
 * radiological display), transposing it where the volume stores it the other way.
 */
export function orientedPlane(v: ImageVolume, axis: VolumeAxis, index: number): { data: Float32Array; shape: SourcePlane } {
  const data = extractPlane(v, axis, index);
  const shape = planeShape(v, axis);
  const [rowAxis, colAxis] = PLANE_AXES[axis];
  const ap = (d: number) => Math.abs(v.affine[4 + affineColumnOf(d)]!) / (Math.hypot(v.affine[affineColumnOf(d)]!, v.affine[4 + affineColumnOf(d)]!, v.affine[8 + affineColumnOf(d)]!) || 1);
  if (ap(rowAxis) >= ap(colAxis)) return { data, shape };
  const t = new Float32Array(data.length);
  for (let r = 0; r < shape.rows; r++) for (let c = 0; c < shape.cols; c++) t[c * shape.rows + r] = data[r * shape.cols + c]!;
  return { data: t, shape: { rows: shape.cols, cols: shape.rows, spacing: [shape.spacing[1], shape.spacing[0]] } };
}

/** Renders one axial plane at `size` with the augmentation drawn from `rng`, normalised and clipped to [0, 1]. */
function renderPlane(v: ImageVolume, ref: PlaneRef, rng: Rng, size: number): Float32Array {
  const { data, shape } = orientedPlane(v, ref.axis, ref.index);
  const draw = drawAugment(rng, {}, [size, size]);
  const img = sampleGrid(data, 0, shape, sourceGrid([size, size], shape, draw));
  applyGamma(img, 1); // interpolation undershoot below 0
  normalizePercentile(img, 99.5);
  applyGamma(img, draw.gamma);
  return img;
}

function clip01(img: Float32Array): Float32Array {
  for (let i = 0; i < img.length; i++) img[i] = img[i]! < 0 ? 0 : img[i]! > 1 ? 1 : img[i]!;
  return img;
}

/** Builds the pool; `progress(done, total)` is called as images are made. */
export async function buildTrainingSet(spec: TrainingSetSpec, progress?: (done: number, total: number) => void): Promise<TrainingSet> {
  const { size } = spec;
  const count = spec.phantom + spec.labelled + spec.real;
  if (count === 0) throw new ModlError('the training set is empty (no phantom, labelled or real images asked for)');
  if (spec.labelled > 0 && !spec.labels) throw new ModlError('labelled phantom images need a label volume (--labels FILE)');
  if (spec.real > 0 && spec.images.length === 0) throw new ModlError('real slices need image files or folders (--images PATH,...)');
  const data = new Float32Array(count * size * size);
  const origin: string[] = [];
  const put = (img: Float32Array) => {
    data.set(clip01(img), origin.length * size * size);
  };
  const report = () => progress?.(origin.length, count);

  const batch = 32; // phantom images per call: keeps the progress moving
  const phantoms = async (gen: PhantomGenerator, n: number, seed: number, tag: string) => {
    for (let k = 0; k < n; k += batch) {
      for (const img of await gen.sample(Math.min(batch, n - k), seed * 1_000_003 + k, [size, size])) {
        put(img);
        origin.push(tag);
      }
      report();
    }
  };
  if (spec.phantom > 0) await phantoms(new PhantomGenerator({}), spec.phantom, spec.seed * 3 + 1, 'phantom');
  if (spec.labelled > 0) await phantoms(new PhantomGenerator({ labels: spec.labels }), spec.labelled, spec.seed * 3 + 2, 'labelled');

  const volumes: TrainingSet['volumes'] = [];
  if (spec.real > 0) {
    const loaded = await loadRealVolumes(spec.images);
    const planes = loaded.map(({ volume }) => brainPlanes(volume, spec.minContent, spec.dropInferior));
    loaded.forEach(({ volume, file }, i) => volumes.push({ file, shape: [...volume.shape], planes: planes[i]!.length }));
    const usable = loaded.map((_, i) => i).filter((i) => planes[i]!.length > 0);
    if (usable.length === 0) throw new ModlError(`no axial slice of ${spec.images.join(', ')} has enough object in it (minContent ${spec.minContent})`);
    const rng = new Rng(spec.seed * 3 + 3);
    for (let k = 0; k < spec.real; k++) {
      const vi = usable[rng.int(usable.length)]!;
      const refs = planes[vi]!;
      put(renderPlane(loaded[vi]!.volume, refs[rng.int(refs.length)]!, rng.fork(k), size));
      origin.push(loaded[vi]!.file);
      if (k % batch === batch - 1) report();
    }
    report();
  }
  return { spec, data, count, origin, volumes };
}

/**
 * A held-out set drawn like `spec` (same sources and proportions, `count`
 * images in all) from another seed: new phantom anatomies and contrasts, new
 * slices and augmentations of the same real volumes.
 */
export function heldOutSpec(spec: TrainingSetSpec, count: number): TrainingSetSpec {
  const total = spec.phantom + spec.labelled + spec.real;
  const phantom = Math.round((count * spec.phantom) / total), labelled = Math.round((count * spec.labelled) / total);
  return { ...spec, phantom, labelled, real: Math.max(0, count - phantom - labelled), seed: spec.seed + 1_000_000 };
}
