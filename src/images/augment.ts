/**
 * Geometric and intensity augmentation of 2D slices, done as one resampling:
 * every output pixel is mapped back through an elastic displacement, flips, a
 * rotation and a zoom to a position in the source slice (in mm, so anisotropic
 * pixels come out square), and read there by bilinear interpolation. The zoom
 * is relative to the fit that puts the whole source field of view into the
 * output matrix, so zoom > 1 crops.
 */
import { Rng } from '../util/random.js';
import { bilinear, smoothRandomField } from './fields.js';

export interface AugmentOptions {
  /** Random left-right and up-down flips (default true). */
  flips?: boolean;
  /** Largest rotation, degrees (default 10). */
  rotationDeg?: number;
  /** Zoom range relative to the whole-slice fit (default [0.9, 1.15]). */
  zoom?: [number, number];
  /** Largest shift as a fraction of the output size (default 0.04). */
  shift?: number;
  /** Elastic displacement RMS in output pixels at 256 (scaled with size; default 2.5). */
  elasticPx?: number;
  /** Spatial frequency of the elastic field, cycles per field of view (default 4). */
  elasticCycles?: number;
  /** Contrast gamma range, I ← I^γ on the [0, 1]-normalised image (default [0.75, 1.35]). */
  gamma?: [number, number];
  /**
   * Largest ratio of the source's pixel size (its coarser axis) to the output's (default: no limit).
   * An upsampled slice has nothing above the source's Nyquist frequency, where a real scan at
   * that matrix has its edges; where the fit would upsample more, the slice is drawn smaller in
   * the matrix instead.
   */
  maxUpsample?: number;
}

/** No augmentation: the slice fitted into the output matrix, nothing else. */
export const NO_AUGMENT: AugmentOptions = { flips: false, rotationDeg: 0, zoom: [1, 1], shift: 0, elasticPx: 0, gamma: [1, 1] };

export interface AugmentDraw {
  flipX: boolean;
  flipY: boolean;
  rotationDeg: number;
  zoom: number;
  shiftX: number;
  shiftY: number;
  elasticPx: number;
  elasticSeed: number;
  gamma: number;
}

export function drawAugment(rng: Rng, o: AugmentOptions, size: [number, number]): AugmentDraw {
  const flips = o.flips ?? true;
  const rot = o.rotationDeg ?? 10;
  const [z0, z1] = o.zoom ?? [0.9, 1.15];
  const shift = o.shift ?? 0.04;
  const [g0, g1] = o.gamma ?? [0.75, 1.35];
  return {
    flipX: flips && rng.next() < 0.5,
    flipY: flips && rng.next() < 0.5,
    rotationDeg: rng.uniform(-rot, rot),
    zoom: rng.uniform(z0, z1),
    shiftX: rng.uniform(-shift, shift) * size[1],
    shiftY: rng.uniform(-shift, shift) * size[0],
    elasticPx: (o.elasticPx ?? 2.5) * (Math.min(...size) / 256),
    elasticSeed: rng.int(2 ** 32),
    gamma: Math.exp(rng.uniform(Math.log(g0), Math.log(g1))), // symmetric around 1 in log
  };
}

export interface SourcePlane {
  rows: number;
  cols: number;
  /** Pixel spacing in mm: [between rows, between columns]. */
  spacing: [number, number];
}

/** Source (row, col) position of every output pixel, [H·W] each. */
export function sourceGrid(
  size: [number, number], src: SourcePlane, d: AugmentDraw, o: Pick<AugmentOptions, 'elasticCycles' | 'maxUpsample'> = {},
): { sy: Float32Array; sx: Float32Array } {
  const [H, W] = size;
  const [rowMm, colMm] = src.spacing;
  const fitMm = Math.max((src.rows * rowMm) / H, (src.cols * colMm) / W); // output pixel size for the whole-slice fit
  const pixelMm = Math.max(fitMm / d.zoom, Math.max(rowMm, colMm) / (o.maxUpsample ?? Infinity));
  const elasticCycles = o.elasticCycles ?? 4;
  const t = (d.rotationDeg * Math.PI) / 180;
  const c = Math.cos(t), s = Math.sin(t);
  let ex: Float32Array | null = null, ey: Float32Array | null = null;
  if (d.elasticPx > 0) {
    const rng = new Rng(d.elasticSeed);
    ex = smoothRandomField(H, W, rng.fork(1), elasticCycles);
    ey = smoothRandomField(H, W, rng.fork(2), elasticCycles);
  }
  const sy = new Float32Array(H * W), sx = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      let ox = x - (W - 1) / 2 - d.shiftX, oy = y - (H - 1) / 2 - d.shiftY;
      if (ex && ey) {
        ox += d.elasticPx * ex[i]!;
        oy += d.elasticPx * ey[i]!;
      }
      if (d.flipX) ox = -ox;
      if (d.flipY) oy = -oy;
      const rx = c * ox - s * oy, ry = s * ox + c * oy;
      sx[i] = (rx * pixelMm) / colMm + (src.cols - 1) / 2;
      sy[i] = (ry * pixelMm) / rowMm + (src.rows - 1) / 2;
    }
  }
  return { sy, sx };
}

/** Reads `plane` (rows×cols, from `offset` in `data`) at every grid position; zero outside. */
export function sampleGrid(data: Float32Array, offset: number, src: SourcePlane, grid: { sy: Float32Array; sx: Float32Array }): Float32Array {
  const view = data.subarray(offset, offset + src.rows * src.cols);
  const out = new Float32Array(grid.sy.length);
  for (let i = 0; i < out.length; i++) out[i] = bilinear(view, src.rows, src.cols, grid.sy[i]!, grid.sx[i]!);
  return out;
}

/** I ← max(I, 0)^γ in place. */
export function applyGamma(image: Float32Array, gamma: number): void {
  if (gamma === 1) {
    for (let i = 0; i < image.length; i++) if (image[i]! < 0) image[i] = 0;
    return;
  }
  for (let i = 0; i < image.length; i++) image[i] = image[i]! > 0 ? Math.pow(image[i]!, gamma) : 0;
}
