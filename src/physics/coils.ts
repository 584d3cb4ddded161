/**
 * Simulated coil sensitivities: a birdcage array of C loops on a ring around
 * the object, as sigpy's `mri.birdcage_maps` does, each loop's field falling off
 * as 1/r with a phase that rotates around the ring.
 */
import { CArray, czeros } from './complex.js';

export interface BirdcageOptions {
  /** Ring radius relative to the half field of view (sigpy's default 1.5). */
  radius?: number;
  /** Rotation of the ring, radians (varies the geometry between simulated subjects). */
  rotation?: number;
  /** Ellipticity of the ring: x radius = radius·(1+e), y radius = radius·(1−e). */
  ellipticity?: number;
  /** Object support [H, W]: the maps are zero outside it. */
  support?: Uint8Array | Float32Array;
}

/**
 * Birdcage maps [C, H, W], normalised so that Σ_c |S_c|² = 1 at every pixel
 * (inside the support when one is given), which makes AᴴA = I for full sampling.
 */
export function birdcageMaps(coils: number, H: number, W: number, opts: BirdcageOptions = {}): CArray {
  const r = opts.radius ?? 1.5;
  const rot = opts.rotation ?? 0;
  const e = opts.ellipticity ?? 0;
  const maps = czeros([coils, H, W]);
  const n = H * W;
  const sumSq = new Float64Array(n);
  for (let c = 0; c < coils; c++) {
    const ang = (c * 2 * Math.PI) / coils + rot;
    const cx = r * (1 + e) * Math.cos(ang);
    const cy = r * (1 - e) * Math.sin(ang);
    const phase0 = -ang;
    for (let y = 0; y < H; y++) {
      const yc = (y - H / 2) / (H / 2) - cy;
      for (let x = 0; x < W; x++) {
        const xc = (x - W / 2) / (W / 2) - cx;
        const rr = Math.hypot(xc, yc);
        const phi = Math.atan2(xc, -yc) + phase0;
        const i = y * W + x;
        const re = Math.cos(phi) / rr, im = Math.sin(phi) / rr;
        maps.data[2 * (c * n + i)] = re;
        maps.data[2 * (c * n + i) + 1] = im;
        sumSq[i] += re * re + im * im;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const inside = !opts.support || opts.support[i]! > 0;
    const s = inside ? 1 / Math.sqrt(sumSq[i]!) : 0;
    for (let c = 0; c < coils; c++) {
      maps.data[2 * (c * n + i)] *= s;
      maps.data[2 * (c * n + i) + 1] *= s;
    }
  }
  return maps;
}
