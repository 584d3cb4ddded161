/**
 * A procedural axial brain phantom that needs no download: a seeded random
 * anatomy made of tissue-fraction maps (partial volume at every boundary),
 * rendered to any contrast with the signal equations of tissue.ts.
 *
 * Geometry, from the outside in, in a head frame rotated and deformed per seed:
 *   scalp (muscle/skin) → subcutaneous fat → skull outer table → marrow
 *   (diploë) → inner table → subarachnoid CSF → cortex (GM) → white matter,
 * with sulci (CSF slits lined by GM, including the interhemispheric and
 * Sylvian fissures) cut radially into the cortex, and, depending on the slice
 * level, lateral and third ventricles, caudate, putamen and thalamus (GM), and
 * optional white-matter lesions. Layer thicknesses, head shape, folding, deep
 * structure sizes and a smooth elastic deformation all vary with the seed.
 * Image orientation: anterior at the top (row 0), patient left on the right.
 */
import { Rng } from '../util/random.js';
import { smoothRandomField } from './fields.js';
import { TISSUES, TISSUE_INDEX as T, tissueSignals, type FieldStrength, type Sequence } from './tissue.js';

export interface PhantomOptions {
  /** Draw white-matter lesions (default false). */
  lesions?: boolean;
  /** Elastic deformation amplitude in pixels (default 3 at 256; scales with size). */
  deformationPx?: number;
}

export interface Anatomy {
  H: number;
  W: number;
  /** [tissue, H, W]: fraction of each TISSUES class per pixel (they sum to 1). */
  fractions: Float32Array;
  /** The random draws that made it, for provenance. */
  params: Record<string, number | string | boolean>;
}

/** Soft inside-indicator of a signed distance in pixels: 1 px partial-volume ramp. */
const inside = (dPx: number) => (dPx >= 0.5 ? 1 : dPx <= -0.5 ? 0 : dPx + 0.5);

interface Sulcus { angle: number; depth: number; width: number; bend: number }
interface Ellipse { x: number; y: number; a: number; b: number; cos: number; sin: number; tissue: number }

function ellipse(x: number, y: number, a: number, b: number, rot: number, tissue: number): Ellipse {
  return { x, y, a, b, cos: Math.cos(rot), sin: Math.sin(rot), tissue };
}

/** A random brain anatomy at H×W from a seed. */
export function brainAnatomy(H: number, W: number, seed: number, opts: PhantomOptions = {}): Anatomy {
  const rng = new Rng(seed);
  const S = Math.min(H, W);
  const px = 2 / S; // pixel size in normalised units (the image's short side spans [-1, 1])
  const level = pickLevel(rng);

  // Head shape: an ellipse (LR semi-axis a, AP semi-axis b) with a wobbly outline.
  const high = level === 'high';
  const a = rng.uniform(0.62, 0.72) * (high ? 0.85 : 1);
  const b = rng.uniform(0.78, 0.88) * (high ? 0.85 : 1);
  const rot = rng.uniform(-0.14, 0.14);
  const cx = rng.uniform(-0.03, 0.03), cy = rng.uniform(-0.03, 0.03);
  const outline = fourierWobble(rng, 2, 5, 0.015);
  const csfWobble = fourierWobble(rng, 2, 9, 0.35);
  // Layer thicknesses as fractions of the local head radius (~90 mm): ~2, 4, 1.5, 3, 1.5, 2.5 mm.
  const tSkin = rng.uniform(0.015, 0.025), tFat = rng.uniform(0.03, 0.06);
  const tOuter = rng.uniform(0.012, 0.02), tMarrow = rng.uniform(0.015, 0.04), tInner = rng.uniform(0.012, 0.02);
  const tCsf = rng.uniform(0.015, 0.04) * (level === 'high' ? 1.3 : 1);
  const tCortex = rng.uniform(0.032, 0.045);
  const sulci = drawSulci(rng, level);
  const brainRadius = (1 - tSkin - tFat - tOuter - tMarrow - tInner - tCsf) * Math.sqrt(a * b);
  const deep = drawDeepStructures(rng, level, brainRadius);

  // Elastic deformation, in normalised units.
  const amp = ((opts.deformationPx ?? 3 * (S / 256)) * px);
  const dx = smoothRandomField(H, W, rng.fork(1), 3), dy = smoothRandomField(H, W, rng.fork(2), 3);

  const n = H * W;
  const K = TISSUES.length;
  const fr = new Float32Array(K * n);
  const paint = (i: number, tissue: number, alpha: number) => {
    if (alpha <= 0) return;
    for (let k = 0; k < K; k++) fr[k * n + i] *= 1 - alpha;
    fr[tissue * n + i] += alpha;
  };
  const cosR = Math.cos(rot), sinR = Math.sin(rot);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      fr[T.background * n + i] = 1;
      const u = (x - W / 2) * px + amp * dx[i]!, v = (y - H / 2) * px + amp * dy[i]!;
      // head frame: rotated about the head centre
      const hx = cosR * (u - cx) + sinR * (v - cy), hy = -sinR * (u - cx) + cosR * (v - cy);
      const theta = Math.atan2(hy / b, hx / a);
      const reach = (1 + outline(theta)) * Math.hypot(a * Math.cos(theta), b * Math.sin(theta)); // centre → scalp
      const rho = Math.hypot(hx, hy) / reach; // 1 at the scalp
      const toPx = reach / px; // ρ units → pixels
      if (rho > 1 + 2 / toPx) continue; // outside the head
      // layers: each boundary `edge` (ρ units) gives a partial-volume ramp at (edge − ρ)·toPx
      let edge = 1;
      paint(i, T.muscle, inside((edge - rho) * toPx));
      if (rho > 1 - 0.25) { // only the outer quarter holds scalp and skull
        paint(i, T.fat, inside(((edge -= tSkin) - rho) * toPx));
        paint(i, T.bone, inside(((edge -= tFat) - rho) * toPx));
        paint(i, T.marrow, inside(((edge -= tOuter) - rho) * toPx));
        paint(i, T.bone, inside(((edge -= tMarrow) - rho) * toPx));
        paint(i, T.csf, inside(((edge -= tInner) - rho) * toPx));
      } else {
        edge -= tSkin + tFat + tOuter + tMarrow + tInner;
        paint(i, T.csf, 1);
      }
      const surface = edge - tCsf * (1 + csfWobble(theta)); // brain surface, ρ units
      const brain = inside((surface - rho) * toPx);
      if (brain <= 0) continue;
      paint(i, T.wm, brain);
      // cortex: a GM ribbon under the surface and around every sulcus
      const depth = surface - rho; // ρ units below the brain surface
      const { distancePx, halfWidthPx } = nearestSulcus(sulci, theta, depth, rho, toPx);
      const cortexPx = tCortex * toPx;
      const gm = Math.max(inside(cortexPx - depth * toPx), inside(cortexPx + halfWidthPx - distancePx));
      paint(i, T.gm, brain * gm);
      for (const e of deep) paint(i, e.tissue, ellipseInside(e, hx, hy, px));
      paint(i, T.csf, brain * inside(halfWidthPx - distancePx));
    }
  }
  const params: Anatomy['params'] = {
    seed, level, headA: a, headB: b, rotation: rot, sulci: sulci.length, deepStructures: deep.length,
  };
  if (opts.lesions) params.lesions = paintLesions(fr, H, W, rng.fork(3));
  return { H, W, fractions: fr, params };
}

type Level = 'ventricular' | 'supraventricular' | 'high';

function pickLevel(rng: Rng): Level {
  const r = rng.next();
  return r < 0.6 ? 'ventricular' : r < 0.85 ? 'supraventricular' : 'high';
}

/** θ ↦ Σ_k ε_k cos(kθ + φ_k), k in [k0, k1], with random amplitudes up to `eps`. */
function fourierWobble(rng: Rng, k0: number, k1: number, eps: number): (theta: number) => number {
  const terms: { k: number; amp: number; phase: number }[] = [];
  for (let k = k0; k <= k1; k++) terms.push({ k, amp: (eps * rng.uniform(-1, 1)) / Math.sqrt(k - k0 + 1), phase: rng.uniform(0, 2 * Math.PI) });
  return (theta) => {
    let s = 0;
    for (const t of terms) s += t.amp * Math.cos(t.k * theta + t.phase);
    return s;
  };
}

/** Sulci around the brain, sorted by angle, plus the interhemispheric and Sylvian fissures. */
function drawSulci(rng: Rng, level: Level): Sulcus[] {
  const count = rng.int(14) + (level === 'high' ? 40 : 32);
  const sulci: Sulcus[] = [];
  for (let s = 0; s < count; s++) {
    sulci.push({
      angle: ((s + rng.uniform(-0.3, 0.3)) / count) * 2 * Math.PI - Math.PI,
      depth: rng.uniform(0.07, 0.2),
      width: rng.uniform(0.6, 1.4), // pixels at the surface
      bend: rng.uniform(-1.2, 1.2), // radians of drift per ρ unit of depth
    });
  }
  // Interhemispheric fissure (front θ = −π/2, back θ = +π/2) and, on ventricular slices, the Sylvian fissures.
  sulci.push({ angle: -Math.PI / 2, depth: rng.uniform(0.3, 0.45), width: 1.4, bend: 0 });
  sulci.push({ angle: Math.PI / 2, depth: rng.uniform(0.25, 0.4), width: 1.4, bend: 0 });
  if (level === 'ventricular') {
    for (const side of [-0.15, Math.PI + 0.15]) sulci.push({ angle: side, depth: rng.uniform(0.18, 0.28), width: 1.8, bend: 0 });
  }
  return sulci.map((s) => ({ ...s, angle: Math.atan2(Math.sin(s.angle), Math.cos(s.angle)) }));
}

/**
 * Distance (pixels) from a point at angle θ, `depth` ρ units below the brain
 * surface, to the nearest sulcus, and that sulcus's half width there (tapering
 * from the surface to the fundus).
 */
function nearestSulcus(sulci: Sulcus[], theta: number, depth: number, rho: number, toPx: number): { distancePx: number; halfWidthPx: number } {
  let best = Infinity, half = 0;
  for (const s of sulci) {
    const along = Math.min(Math.max(depth, 0), s.depth);
    let dTheta = theta - (s.angle + s.bend * along);
    dTheta -= 2 * Math.PI * Math.round(dTheta / (2 * Math.PI));
    const lateral = Math.abs(dTheta) * rho * toPx;
    if (lateral - 3 > best) continue;
    const beyond = Math.max(0, depth - s.depth) * toPx;
    const d = Math.hypot(lateral, beyond);
    if (d < best) {
      best = d;
      half = 0.5 * s.width * (1 - 0.6 * (along / s.depth));
    }
  }
  return { distancePx: best, halfWidthPx: half };
}

/** Deep grey matter and ventricles, in the head frame, sized by the brain radius. */
function drawDeepStructures(rng: Rng, level: Level, R: number): Ellipse[] {
  if (level === 'high') return [];
  const out: Ellipse[] = [];
  const add = (x: number, y: number, a: number, b: number, rot: number, tissue: number) =>
    out.push(ellipse(x * R, y * R, a * R, b * R, rot, tissue));
  const vent = rng.uniform(0.6, 1.5); // ventricle size: young ... atrophic
  const jitter = () => rng.uniform(0.9, 1.1);
  if (level === 'ventricular') {
    for (const side of [-1, 1]) {
      add(side * 0.14 * jitter(), -0.18 * jitter(), 0.06 * jitter(), 0.1 * jitter(), 0, T.gm); // caudate head
      add(side * 0.3 * jitter(), -0.02 * jitter(), 0.06 * jitter(), 0.16 * jitter(), -side * 0.2, T.gm); // putamen
      add(side * 0.09 * jitter(), 0.14 * jitter(), 0.07 * jitter(), 0.11 * jitter(), 0, T.gm); // thalamus
    }
  }
  const ventWidth = (level === 'ventricular' ? 0.055 : 0.035) * vent;
  const ventLength = level === 'ventricular' ? 0.3 : 0.22;
  for (const side of [-1, 1]) {
    add(side * (0.05 + ventWidth), -0.03, ventWidth * jitter(), ventLength * jitter(), side * rng.uniform(0.1, 0.3), T.csf); // body
    if (level === 'ventricular') add(side * (0.12 + ventWidth), 0.3, ventWidth * 1.2 * jitter(), 0.09 * jitter(), -side * 0.5, T.csf); // atrium
  }
  if (level === 'ventricular') add(0, 0.14, 0.012 * vent, 0.08, 0, T.csf); // third ventricle
  return out;
}

function ellipseInside(e: Ellipse, hx: number, hy: number, px: number): number {
  const dx = hx - e.x, dy = hy - e.y;
  const ex = (e.cos * dx + e.sin * dy) / e.a, ey = (-e.sin * dx + e.cos * dy) / e.b;
  const r = Math.hypot(ex, ey);
  if (r > 2) return 0;
  const boundary = r > 1e-9 ? Math.hypot(dx, dy) / r : Math.min(e.a, e.b); // centre → edge along this ray
  return inside(((1 - r) * boundary) / px);
}

/** Adds 2-8 small white-matter lesions to an anatomy (e.g. one from a label volume); returns how many. */
export function addLesions(anatomy: Anatomy, rng: Rng): number {
  return paintLesions(anatomy.fractions, anatomy.H, anatomy.W, rng);
}

/** Paints 2-8 small white-matter lesions at pixels that are pure WM; returns how many. */
function paintLesions(fr: Float32Array, H: number, W: number, rng: Rng): number {
  const n = H * W;
  const count = 2 + rng.int(7);
  let painted = 0;
  for (let tries = 0; painted < count && tries < 2000; tries++) {
    const i = rng.int(n);
    if (fr[T.wm * n + i]! < 0.999) continue;
    const e = ellipse(i % W, Math.floor(i / W), rng.uniform(2, 7), rng.uniform(2, 7), rng.uniform(0, Math.PI), T.lesion);
    const reach = Math.ceil(Math.max(e.a, e.b)) + 1;
    for (let y = Math.max(0, e.y - reach); y < Math.min(H, e.y + reach + 1); y++) {
      for (let x = Math.max(0, e.x - reach); x < Math.min(W, e.x + reach + 1); x++) {
        const j = y * W + x;
        // lesions replace white matter only: scaled by the WM fraction present
        const alpha = ellipseInside(e, x, y, 1) * fr[T.wm * n + j]!;
        if (alpha <= 0) continue;
        fr[T.wm * n + j] -= alpha;
        fr[T.lesion * n + j] += alpha;
      }
    }
    painted++;
  }
  return painted;
}

/** Magnitude image of an anatomy for one sequence: Σ_tissue fraction · signal. */
export function renderContrast(anatomy: Anatomy, seq: Sequence, field: FieldStrength): Float32Array {
  const { H, W, fractions } = anatomy;
  const n = H * W;
  const s = tissueSignals(seq, field);
  const out = new Float32Array(n);
  for (let k = 0; k < s.length; k++) {
    const sk = s[k]!;
    if (sk === 0) continue;
    for (let i = 0; i < n; i++) out[i] += fractions[k * n + i]! * sk;
  }
  return out;
}

/** Per-pixel label of the dominant tissue (for tests and previews). */
export function dominantTissue(anatomy: Anatomy): Uint8Array {
  const { H, W, fractions } = anatomy;
  const n = H * W;
  const label = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < TISSUES.length; k++) if (fractions[k * n + i]! > fractions[best * n + i]!) best = k;
    label[i] = best;
  }
  return label;
}
