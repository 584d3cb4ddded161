/**
 * The `images` generator: 2D slices of every image volume under a folder
 * (DICOM series, NIfTI, fastMRI reconstructions, BART images, PNG; read with
 * io/detect.ts), resampled to the target matrix with augmentation (flips,
 * small rotations, zoom, elastic deformation, contrast gamma), each slice
 * scaled so its 99.5th percentile is 1.
 */
import { realpathSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { detectFormat, loadImageVolumes } from '../io/detect.js';
import type { ImageVolume } from '../io/volume.js';
import { fileError, ModlError } from '../util/errors.js';
import { listFolder } from '../util/fs.js';
import { applyGamma, drawAugment, NO_AUGMENT, sampleGrid, sourceGrid, type AugmentOptions } from './augment.js';
import { normalizePercentile } from './fields.js';
import { drawImages, type ImageGenerator, type SampleInfo } from './image-generator.js';
import { axialAxis, extractPlane, planeShape, volumePercentile, type PlaneRef, type VolumeAxis } from './volume-slices.js';

export interface ImageFolderOptions {
  dir: string;
  /** Which planes: along the stored slice axis (default), axial ones (from the affine), or all three. */
  planes?: 'stored' | 'axial' | 'all';
  /** Keep planes where at least this fraction of pixels is above 10 % of the volume's 99.5th percentile (default 0.15). */
  minContent?: number;
  /** Augmentation; `false` for none. */
  augment?: AugmentOptions | false;
  /** Skip files whose path relative to `dir` matches this (label maps and masks that sit beside the images). */
  exclude?: RegExp;
}

const SMALLEST_PLANE = 16;

/** Every image volume under `dir` (recursively), with the file each came from. */
export async function loadFolderVolumes(dir: string, exclude?: RegExp): Promise<{ volumes: ImageVolume[]; files: string[] }> {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw fileError(dir, st ? 'not a folder' : 'no such folder');
  const volumes: ImageVolume[] = [];
  const files: string[] = [];
  const seen = new Set<string>(); // real paths of folders walked: linked folders may form loops
  const walk = async (d: string, inDicomSeries: boolean) => {
    const real = realpathSync(d);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = listFolder(d);
    let dicomHere = false;
    for (const e of entries) {
      if (!e.isFile || e.name.startsWith('.')) continue;
      const p = e.path;
      if (exclude?.test(relative(dir, p))) continue;
      const format = detectFormat(p);
      if (format === 'dicom') dicomHere = true;
      else if (format === 'nifti' || format === 'png' || format === 'hdf5' || format === 'cfl') {
        if (format === 'cfl' && !p.endsWith('.cfl')) continue; // the .hdr of a .cfl pair
        for (const v of await loadImageVolumes(p)) { volumes.push(v); files.push(p); }
      }
    }
    if (dicomHere && !inDicomSeries) {
      // readDicom scans the folder recursively and groups files into series
      for (const v of await loadImageVolumes(d)) { volumes.push(v); files.push(d); }
    }
    for (const e of entries) if (e.isDirectory) await walk(e.path, inDicomSeries || dicomHere);
  };
  await walk(dir, false);
  if (volumes.length === 0) throw fileError(dir, 'no images found (modl reads DICOM, NIfTI, fastMRI HDF5, BART .cfl and PNG)');
  return { volumes, files };
}

/** Planes with enough object in them, along the chosen axes of every volume. */
export function eligiblePlanes(volumes: ImageVolume[], planes: 'stored' | 'axial' | 'all', minContent: number): PlaneRef[] {
  const refs: PlaneRef[] = [];
  volumes.forEach((v, vi) => {
    const axes: VolumeAxis[] = planes === 'all' ? [0, 1, 2] : planes === 'axial' ? [axialAxis(v)] : [0];
    const threshold = 0.1 * volumePercentile(v.data, 99.5);
    for (const axis of axes) {
      const shape = planeShape(v, axis);
      if (shape.rows < SMALLEST_PLANE || shape.cols < SMALLEST_PLANE) continue;
      for (let index = 0; index < v.shape[axis]; index++) {
        const plane = extractPlane(v, axis, index);
        let above = 0;
        for (let i = 0; i < plane.length; i++) if (plane[i]! > threshold) above++;
        if (above >= minContent * plane.length) refs.push({ volume: vi, axis, index });
      }
    }
  });
  return refs;
}

export class ImageFolderGenerator implements ImageGenerator {
  readonly name = 'images';
  readonly provenance: Record<string, unknown>;

  private constructor(
    private readonly volumes: ImageVolume[],
    private readonly planes: PlaneRef[],
    private readonly files: string[],
    private readonly augment: AugmentOptions,
    opts: ImageFolderOptions,
  ) {
    this.provenance = {
      generator: 'images',
      dir: opts.dir,
      planes: opts.planes ?? 'stored',
      minContent: opts.minContent ?? 0.15,
      ...(opts.exclude ? { exclude: opts.exclude.source } : {}),
      augment,
      eligiblePlanes: planes.length,
      volumes: volumes.map((v, i) => ({ file: relative(opts.dir, files[i]!) || '.', shape: v.shape, spacing: v.spacing, format: v.source.format })),
    };
  }

  static async load(opts: ImageFolderOptions): Promise<ImageFolderGenerator> {
    const { volumes, files } = await loadFolderVolumes(opts.dir, opts.exclude);
    const planes = eligiblePlanes(volumes, opts.planes ?? 'stored', opts.minContent ?? 0.15);
    if (planes.length === 0) throw fileError(opts.dir, 'no slice has enough object in it (lower minContent?)');
    const augment = opts.augment === false ? NO_AUGMENT : { ...(opts.augment ?? {}) };
    return new ImageFolderGenerator(volumes, planes, files, augment, opts);
  }

  get sliceCount(): number {
    return this.planes.length;
  }

  async sample(count: number, seed: number, size: [number, number]): Promise<Float32Array[]> {
    return (await this.sampleWithInfo(count, seed, size)).images;
  }

  async sampleWithInfo(count: number, seed: number, size: [number, number]): Promise<{ images: Float32Array[]; info: SampleInfo[] }> {
    return drawImages(count, seed, (rng) => {
      const ref = this.planes[rng.int(this.planes.length)]!;
      const draw = drawAugment(rng, this.augment, size);
      return { image: this.render(ref, draw, size), info: { file: this.files[ref.volume], volume: ref.volume, axis: ref.axis, slice: ref.index, ...draw } };
    });
  }

  /** One plane resampled to `size` with the augmentation `draw`, normalised, gamma applied. */
  render(ref: PlaneRef, draw: ReturnType<typeof drawAugment>, size: [number, number]): Float32Array {
    const v = this.volumes[ref.volume]!;
    const shape = planeShape(v, ref.axis);
    const plane = extractPlane(v, ref.axis, ref.index);
    const image = sampleGrid(plane, 0, shape, sourceGrid(size, shape, draw, this.augment));
    applyGamma(image, 1); // clip interpolation undershoot below 0
    normalizePercentile(image, 99.5);
    applyGamma(image, draw.gamma);
    return image;
  }
}

export async function imageFolderGenerator(options: Record<string, unknown>): Promise<ImageGenerator> {
  const dir = options.dir;
  if (typeof dir !== 'string' || dir === '') throw new ModlError('the images generator needs a folder (--images DIR)');
  const planes = (options.planes ?? 'stored') as ImageFolderOptions['planes'];
  if (!['stored', 'axial', 'all'].includes(planes!)) throw new ModlError(`--planes: '${String(planes)}' is not one of stored, axial, all`);
  return ImageFolderGenerator.load({
    dir,
    planes,
    minContent: options.minContent === undefined ? undefined : Number(options.minContent),
    augment: options.augment === false ? false : (options.augment as AugmentOptions | undefined),
  });
}
