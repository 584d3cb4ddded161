/**
 * The one policy from a k-space slice to a reconstruction sample, shared by every
 * road from a file (`modl recon` of a study or a single slice, `eval --kspace`,
 * `train --kspace`):
 * - mask: the one given (a retrospective draw), else the slice's own non-zero pattern;
 * - maps: the ones given, else ESPIRiT of the k-space as acquired, i.e. masked (what a
 *   scan's own calibration gives, as `bart ecalib` on the undersampled data);
 * - target, when the slice is fully sampled: its SENSE combination with those maps
 *   (complex and consistent with A = M·F·S: the training target, and the metrics'
 *   reference).
 */
import type { CArray } from './complex.js';
import { espiritMaps } from './espirit.js';
import { zeroFilledSense } from './classical.js';
import { maskFromKspace, maskKspace } from './sense.js';

export interface KspaceSample {
  kspace: CArray;
  maps: CArray;
  mask: Float32Array;
  target?: CArray;
}

/** Whether every k-space location of the slice holds data (some coil non-zero). */
export function isFullySampled(kspace: CArray): boolean {
  return maskFromKspace(kspace).every((v) => v === 1);
}

/**
 * Checks coil maps given for k-space: the same coils and matrix (a soft-SENSE map
 * set dimension in front allowed) and not zero everywhere, which would make every
 * image and metric zero or NaN. Returns the problem, or null when they are usable.
 */
export function mapsProblem(maps: CArray, kspace: CArray): string | null {
  const k = kspace.shape.slice(-3).join(', '), m = maps.shape.slice(-3).join(', ');
  if (m !== k || maps.shape.length < 3 || maps.shape.length > 4) return `maps [${maps.shape.join(', ')}] do not match the k-space's [${k}] (coils, H, W)`;
  if (!maps.data.some((v) => v !== 0)) return 'maps are zero everywhere';
  return null;
}

export function kspaceSample(kspace: CArray, given: { mask?: Float32Array; maps?: CArray } = {}): KspaceSample {
  const mask = given.mask ?? maskFromKspace(kspace);
  const maps = given.maps ?? espiritMaps(maskKspace(kspace, mask)).maps;
  const target = isFullySampled(kspace) ? zeroFilledSense(kspace, maps) : undefined;
  return { kspace, maps, mask, ...(target ? { target } : {}) };
}
