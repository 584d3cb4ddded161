/**
 * Exact readout windows of a 1D-undersampled slice.
 *
 * With a 1D Cartesian mask (whole columns sampled, so M is constant along the
 * readout axis H) the normal operator is separable by rows:
 *
 *   AᴴA = Sᴴ Fᴴ M F S = Sᴴ (I_H ⊗ F_Wᴴ M_W F_W) S,
 *
 * since F = F_H ⊗ F_W and the unitary F_H commutes with a mask that does not
 * vary along H. Every image row r is then its own problem with the data row r
 * of the hybrid space (F_Hᴴ applied to k-space). A window of rows [r0, r0 + h)
 * is therefore an exact, smaller problem: its maps and target are the rows of
 * the full ones, and its k-space is the h-point 2D FFT of the window of the
 * zero-filled coil images, which has the same sampled columns. Training on
 * windows changes only the denoiser's field of view, not the physics
 * (the readout-window trick of the speed issue; the DC solve is exact).
 */
import { czeros, type CArray } from './complex.js';
import { fft2Plan } from './fft.js';

export interface WindowableSlice {
  kspace: CArray; // [C, H, W]
  maps: CArray; // [C, H, W]
  mask: Float32Array; // [H, W]
  target?: CArray; // [H, W]
}

/** True when every row of the [H, W] mask equals the first (a 1D mask along W). */
export function isColumnMask(mask: Float32Array, H: number, W: number): boolean {
  for (let y = 1; y < H; y++) for (let x = 0; x < W; x++) if (mask[y * W + x] !== mask[x]) return false;
  return true;
}

/** Rows [start, start + rows) of the [.., H, W] complex array (every leading index kept). */
function cropRows(a: CArray, start: number, rows: number): CArray {
  const shape = a.shape;
  const H = shape[shape.length - 2]!, W = shape[shape.length - 1]!;
  const lead = a.data.length / (2 * H * W);
  const out = czeros([...shape.slice(0, -2), rows, W]);
  for (let l = 0; l < lead; l++) {
    out.data.set(a.data.subarray(2 * (l * H + start) * W, 2 * (l * H + start + rows) * W), 2 * l * rows * W);
  }
  return out;
}

/** The exact sub-problem on image rows [start, start + rows) of a slice with a 1D (column) mask. */
export function readoutWindow<T extends WindowableSlice>(slice: T, start: number, rows: number): T {
  const [C, H, W] = slice.kspace.shape as [number, number, number];
  if (!(Number.isInteger(start) && Number.isInteger(rows) && start >= 0 && rows >= 1 && start + rows <= H)) {
    throw new Error(`readout window [${start}, ${start + rows}) is not inside the ${H} rows`);
  }
  if (!isColumnMask(slice.mask, H, W)) throw new Error('readout windows are exact only for 1D masks (whole columns sampled)');
  const full = fft2Plan(H, W);
  const part = fft2Plan(rows, W);
  const coil = new Float32Array(2 * H * W);
  const kspace = czeros([C, rows, W]);
  for (let c = 0; c < C; c++) {
    coil.set(slice.kspace.data.subarray(2 * c * H * W, 2 * (c + 1) * H * W));
    for (let i = 0; i < H * W; i++) if (slice.mask[i] === 0) coil[2 * i] = coil[2 * i + 1] = 0;
    full.apply(coil, 0, coil, 0, true);
    kspace.data.set(coil.subarray(2 * start * W, 2 * (start + rows) * W), 2 * c * rows * W);
    part.apply(kspace.data, 2 * c * rows * W, kspace.data, 2 * c * rows * W, false);
  }
  const mask = new Float32Array(rows * W);
  for (let y = 0; y < rows; y++) mask.set(slice.mask.subarray(0, W), y * W);
  return {
    ...slice,
    kspace,
    maps: cropRows(slice.maps, start, rows),
    mask,
    ...(slice.target ? { target: cropRows(slice.target, start, rows) } : {}),
  };
}
