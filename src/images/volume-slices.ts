/**
 * 2D planes out of 3D image volumes ([slices, rows, cols], io/volume.ts) along
 * any of the three voxel axes, and which axis is axial.
 */
import type { ImageVolume } from '../io/volume.js';
import type { SourcePlane } from './augment.js';

/** Voxel axis of the stored data: 0 = slices, 1 = rows, 2 = columns. */
export type VolumeAxis = 0 | 1 | 2;

export interface PlaneRef {
  volume: number;
  axis: VolumeAxis;
  index: number;
}

/** Size and spacing of the planes perpendicular to `axis`. */
export function planeShape(v: ImageVolume, axis: VolumeAxis): SourcePlane {
  const [S, R, C] = v.shape;
  const [ss, sr, sc] = v.spacing;
  if (axis === 0) return { rows: R, cols: C, spacing: [sr, sc] };
  if (axis === 1) return { rows: S, cols: C, spacing: [ss, sc] };
  return { rows: S, cols: R, spacing: [ss, sr] };
}

/** The plane at `index` along `axis`, as a new row-major array. */
export function extractPlane(v: ImageVolume, axis: VolumeAxis, index: number): Float32Array {
  const [S, R, C] = v.shape;
  const d = v.data;
  if (axis === 0) return d.slice(index * R * C, (index + 1) * R * C);
  const out = new Float32Array(axis === 1 ? S * C : S * R);
  if (axis === 1) {
    for (let s = 0; s < S; s++) out.set(d.subarray((s * R + index) * C, (s * R + index + 1) * C), s * C);
  } else {
    for (let s = 0; s < S; s++) for (let r = 0; r < R; r++) out[s * R + r] = d[(s * R + r) * C + index]!;
  }
  return out;
}

/**
 * The voxel axis closest to the patient's head-foot direction (axial planes
 * are perpendicular to it), from the affine's direction columns: voxel index
 * (col, row, slice) maps through columns 0, 1, 2; LPS z is the third row.
 */
export function axialAxis(v: ImageVolume): VolumeAxis {
  const a = v.affine;
  const zOf = (c: number) => Math.abs(a[8 + c]!) / (Math.hypot(a[c]!, a[4 + c]!, a[8 + c]!) || 1);
  const byVoxelAxis = [zOf(2), zOf(1), zOf(0)]; // data axes: slices ↔ column 2, rows ↔ 1, cols ↔ 0
  let best: VolumeAxis = 0;
  for (const ax of [1, 2] as const) if (byVoxelAxis[ax]! > byVoxelAxis[best]!) best = ax;
  return best;
}

/** The p-th percentile (0-100) of a volume, from a strided subsample of at most ~1M values. */
export function volumePercentile(data: Float32Array, p: number): number {
  const stride = Math.max(1, Math.floor(data.length / 1_000_000));
  const sample = new Float32Array(Math.ceil(data.length / stride));
  for (let i = 0, j = 0; i < data.length; i += stride, j++) sample[j] = data[i]!;
  sample.sort();
  return sample[Math.min(sample.length - 1, Math.round((p / 100) * (sample.length - 1)))]!;
}
