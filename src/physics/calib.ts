/**
 * The autocalibration region: the fully sampled block at the centre of
 * undersampled multi-coil k-space [C, H, W], from which ESPIRiT (and GRAPPA)
 * learn the coils' correlations.
 *
 * Detection follows BART's `calib_geom`: a block centred at (⌊H/2⌋, ⌊W/2⌋)
 * grows one line at a time, alternating between the two axes (W first, as BART
 * grows its dims in memory order), and an axis stops growing as soon as the
 * new line holds an unsampled point, or the block reaches the size limit or
 * the image edge. "Sampled" means non-zero in any coil (sense.ts's maskFromKspace).
 */
import { CArray, czeros } from './complex.js';
import { maskFromKspace } from './sense.js';
import { ModlError } from '../util/errors.js';

/** Rows and columns of a calibration block. */
export type CalibSize = [number, number];

/** Top-left corner of a block of `size` centred like BART's md_resize_center: ⌊(N − n)/2⌋. */
export function calibOrigin(H: number, W: number, [h, w]: CalibSize): [number, number] {
  return [(H - h) >> 1, (W - w) >> 1];
}

function allSampled(pattern: ArrayLike<number>, W: number, y0: number, y1: number, x0: number, x1: number): boolean {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (!pattern[y * W + x]) return false;
  return true;
}

/**
 * The largest fully sampled centred block, at most `maxSize` (rows, columns),
 * grown as BART does. Returns [0, 0] when even the centre point is unsampled.
 */
export function detectCalibSize(pattern: ArrayLike<number>, H: number, W: number, maxSize: CalibSize): CalibSize {
  if (pattern.length !== H * W) throw new Error(`sampling pattern has ${pattern.length} points, expected ${H}×${W}`);
  const limit: CalibSize = [Math.min(maxSize[0], H), Math.min(maxSize[1], W)];
  const size: CalibSize = [1, 1];
  const [cy, cx] = calibOrigin(H, W, size);
  if (!pattern[cy * W + cx]) return [0, 0];
  const stop = [false, false];
  // axis 1 (columns, W) first: BART's dim order puts the faster-varying axis first
  const order = [1, 0] as const;
  while (!(stop[0] && stop[1])) {
    for (const a of order) {
      if (size[a] >= limit[a]) stop[a] = true;
      if (stop[a]) continue;
      const trial: CalibSize = [...size];
      trial[a] += 1;
      const [y0, x0] = calibOrigin(H, W, trial);
      if (allSampled(pattern, W, y0, y0 + trial[0], x0, x0 + trial[1])) size[a] = trial[a];
      else stop[a] = true;
    }
  }
  return size;
}

/** Copies the centred block of `size` out of k-space [C, H, W] into [C, h, w]. */
export function extractCalibration(kspace: CArray, size: CalibSize): CArray {
  const [C, H, W] = kspace.shape as [number, number, number];
  const [h, w] = size;
  if (h > H || w > W || h < 1 || w < 1) {
    throw new ModlError(`calibration region ${h}×${w} does not fit in the ${H}×${W} k-space`);
  }
  const [y0, x0] = calibOrigin(H, W, size);
  const out = czeros([C, h, w]);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      const from = 2 * ((c * H + y0 + y) * W + x0);
      out.data.set(kspace.data.subarray(from, from + 2 * w), 2 * (c * h + y) * w);
    }
  }
  return out;
}

/**
 * Finds and extracts the calibration region of undersampled k-space [C, H, W]:
 * the fully sampled centre, limited to `maxSize` (BART's `ecalib -r`, default 24).
 * `minSize` is the smallest usable block (the ESPIRiT kernel); anything smaller
 * is an error that says what was found.
 */
export function calibrationRegion(
  kspace: CArray, maxSize: CalibSize, minSize: CalibSize = [1, 1],
): { calib: CArray; size: CalibSize } {
  if (kspace.shape.length !== 3) throw new ModlError(`k-space must be [coils, H, W], got [${kspace.shape.join(', ')}]`);
  const [, H, W] = kspace.shape as [number, number, number];
  if (maxSize[0] > H || maxSize[1] > W) {
    throw new ModlError(`calibration size ${maxSize[0]}×${maxSize[1]} is larger than the ${H}×${W} image`);
  }
  const size = detectCalibSize(maskFromKspace(kspace), H, W, maxSize);
  if (size[0] < minSize[0] || size[1] < minSize[1]) {
    const found = size[0] === 0 ? 'the k-space centre is not sampled' : `only ${size[0]}×${size[1]} is fully sampled`;
    throw new ModlError(
      `no fully sampled calibration region of at least ${minSize[0]}×${minSize[1]} at the k-space centre: ${found}`,
    );
  }
  return { calib: extractCalibration(kspace, size), size };
}
