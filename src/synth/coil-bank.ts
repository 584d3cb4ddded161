/**
 * Coil sensitivities taken from real k-space: ESPIRiT maps (physics/espirit.ts)
 * of one slice of a real multi-coil acquisition, stretched onto the synthetic
 * image's matrix and renormalised to Σ_c |S_c|² = 1.
 *
 * The synthetic object has another outline than the scanned one, so the maps
 * must cover the whole field of view. Where ESPIRiT is sure (eigenvalue near
 * 1, inside the scanned object) its maps are kept; elsewhere, where its
 * eigenvectors are ill-defined and jump, they are replaced by a smooth
 * extension of the confident maps (normalised convolution: Gaussian blur of
 * weight·S over the blur of the weight, at a local and a far-reaching scale).
 */
import { CArray, czeros } from '../physics/complex.js';
import { espiritMaps } from '../physics/espirit.js';
import { loadKspace } from '../io/kspace.js';
import { fileError, ModlError } from '../util/errors.js';
import { bilinear } from '../images/fields.js';

export interface CoilMapSet {
  /** Where the maps came from (file and slice). */
  source: string;
  /** [C, H, W] at the synthetic matrix. */
  maps: CArray;
}

/** ESPIRiT maps of the middle slice of a k-space file (fastMRI HDF5, BART .cfl, complex NIfTI), at H×W. */
export async function coilMapsFromKspace(path: string, H: number, W: number): Promise<CoilMapSet> {
  const probe = await loadKspace(path, { slices: [0, 1] }).catch((e: unknown) => {
    throw e instanceof ModlError ? e : fileError(path, (e as Error).message);
  });
  const slices = probe.kspace.shape[0]!;
  const mid = Math.floor(slices / 2);
  const volume = mid === 0 ? probe : await loadKspace(path, { slices: [mid, mid + 1] });
  const [, C, h, w] = volume.kspace.shape as [number, number, number, number];
  if (C < 2) throw fileError(path, `has ${C} coil; coil maps need multi-coil k-space`);
  const kspace: CArray = { data: volume.kspace.data, shape: [C, h, w] };
  let result;
  try {
    result = espiritMaps(kspace, { crop: 0 });
  } catch (e) {
    throw fileError(path, `ESPIRiT failed: ${(e as Error).message}`);
  }
  const confidence = Float32Array.from(result.eigenvalues.subarray(0, h * w), (e) => Math.min(1, Math.max(0, (e - 0.95) / 0.04)));
  return { source: `${path}#slice${mid}`, maps: resizeMaps(smoothExtension(result.maps, confidence), H, W) };
}

/** Maps [C, h, w] kept where confidence is 1 and smoothly extended from there where it is 0 (blended between). */
export function smoothExtension(maps: CArray, confidence: Float32Array): CArray {
  const [C, h, w] = maps.shape as [number, number, number];
  const n = h * w;
  const sigmas = [Math.max(h, w) / 20, Math.max(h, w) / 5];
  const weights = sigmas.map((s) => gaussianBlur(confidence, h, w, s));
  const out = czeros([C, h, w]);
  const channel = new Float32Array(n);
  for (let c = 0; c < C; c++) {
    for (let part = 0; part < 2; part++) {
      for (let i = 0; i < n; i++) channel[i] = confidence[i]! * maps.data[2 * (c * n + i) + part]!;
      const blurred = sigmas.map((s) => gaussianBlur(channel, h, w, s));
      for (let i = 0; i < n; i++) {
        // the local scale where it has support, the far-reaching one further out
        const local = Math.min(1, weights[0]![i]! / 0.05);
        const near = weights[0]![i]! > 1e-6 ? blurred[0]![i]! / weights[0]![i]! : 0;
        const far = weights[1]![i]! > 1e-9 ? blurred[1]![i]! / weights[1]![i]! : 0;
        const extended = local * near + (1 - local) * far;
        out.data[2 * (c * n + i) + part] = confidence[i]! * maps.data[2 * (c * n + i) + part]! + (1 - confidence[i]!) * extended;
      }
    }
  }
  return out;
}

/** Separable Gaussian blur of an h×w image (zero outside), kernel truncated at 3σ. */
function gaussianBlur(image: Float32Array, h: number, w: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const kernel = Float64Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-((k - r) ** 2) / (2 * sigma * sigma)));
  const tmp = new Float32Array(h * w), out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = Math.max(-r, -x); k <= Math.min(r, w - 1 - x); k++) s += kernel[k + r]! * image[y * w + x + k]!;
      tmp[y * w + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = Math.max(-r, -y); k <= Math.min(r, h - 1 - y); k++) s += kernel[k + r]! * tmp[(y + k) * w + x]!;
      out[y * w + x] = s;
    }
  }
  return out;
}

/**
 * Maps [C, h, w] → [C, H, W] by bilinear interpolation of the smooth complex
 * maps (the field of view is stretched to the new matrix), then renormalised
 * per pixel so Σ_c |S_c|² = 1.
 */
export function resizeMaps(maps: CArray, H: number, W: number): CArray {
  return placeMaps(maps, H, W, { rotation: 0, scale: 1, shiftY: 0, shiftX: 0 });
}

export interface MapPlacement {
  /** Rotation of the coil array about the image centre, radians. */
  rotation: number;
  /** Size of the array relative to the field of view (>1: larger coils). */
  scale: number;
  /** Shift of the array as fractions of the field of view. */
  shiftY: number;
  shiftX: number;
}

/** A random placement: any rotation, scale 0.8–1.25, shifts up to ±10 % of the field of view. */
export function drawPlacement(rng: { uniform(lo: number, hi: number): number }): MapPlacement {
  return {
    rotation: rng.uniform(-Math.PI, Math.PI),
    scale: Math.exp(rng.uniform(Math.log(0.8), Math.log(1.25))),
    shiftY: rng.uniform(-0.1, 0.1),
    shiftX: rng.uniform(-0.1, 0.1),
  };
}

/**
 * Maps [C, h, w] of one acquisition seen by another head position: resampled
 * onto H×W (both fields of view in normalised coordinates) after rotating,
 * scaling and shifting the array, then renormalised so Σ_c |S_c|² = 1.
 */
export function placeMaps(maps: CArray, H: number, W: number, p: MapPlacement): CArray {
  const [C, h, w] = maps.shape as [number, number, number];
  const out = czeros([C, H, W]);
  const n = H * W;
  const cos = Math.cos(p.rotation), sin = Math.sin(p.rotation);
  const sy = new Float32Array(n), sx = new Float32Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // output position in [-1/2, 1/2]², mapped back into the source array's frame
      const u = (y + 0.5) / H - 0.5 - p.shiftY, v = (x + 0.5) / W - 0.5 - p.shiftX;
      const su = (cos * u + sin * v) / p.scale, sv = (-sin * u + cos * v) / p.scale;
      sy[y * W + x] = Math.min(h - 1, Math.max(0, (su + 0.5) * h - 0.5));
      sx[y * W + x] = Math.min(w - 1, Math.max(0, (sv + 0.5) * w - 0.5));
    }
  }
  const re = new Float32Array(h * w), im = new Float32Array(h * w);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < h * w; i++) {
      re[i] = maps.data[2 * (c * h * w + i)]!;
      im[i] = maps.data[2 * (c * h * w + i) + 1]!;
    }
    for (let i = 0; i < n; i++) {
      out.data[2 * (c * n + i)] = bilinear(re, h, w, sy[i]!, sx[i]!);
      out.data[2 * (c * n + i) + 1] = bilinear(im, h, w, sy[i]!, sx[i]!);
    }
  }
  normaliseMaps(out);
  return out;
}

/** Scales every pixel of maps [C, H, W] so Σ_c |S_c|² = 1 (pixels with no sensitivity stay 0). */
export function normaliseMaps(maps: CArray): void {
  const [C, H, W] = maps.shape as [number, number, number];
  const n = H * W;
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += maps.data[2 * (c * n + i)]! ** 2 + maps.data[2 * (c * n + i) + 1]! ** 2;
    const s = ss > 1e-12 ? 1 / Math.sqrt(ss) : 0;
    for (let c = 0; c < C; c++) {
      maps.data[2 * (c * n + i)] *= s;
      maps.data[2 * (c * n + i) + 1] *= s;
    }
  }
}
