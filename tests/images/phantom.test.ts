import { describe, expect, it } from 'vitest';
import { brainAnatomy, dominantTissue, renderContrast, type Anatomy } from '../../src/images/phantom.js';
import { PhantomGenerator } from '../../src/images/phantom-generator.js';
import { percentile } from '../../src/images/fields.js';
import {
  CONTRASTS, TISSUES, TISSUE_INDEX, jitterSequence, parseSequence, relaxation, signal, type FieldStrength, type Tissue,
} from '../../src/images/tissue.js';

const H = 192, W = 192;

/** Mean image value over pixels that are (almost) purely one tissue. */
function tissueMeans(anatomy: Anatomy, image: Float32Array): Record<Tissue, number> {
  const n = anatomy.H * anatomy.W;
  const out = {} as Record<Tissue, number>;
  TISSUES.forEach((t, k) => {
    let s = 0, c = 0;
    for (let i = 0; i < n; i++) if (anatomy.fractions[k * n + i]! > 0.99) { s += image[i]!; c++; }
    out[t] = c > 0 ? s / c : NaN;
  });
  return out;
}

describe('signal equations', () => {
  const wm = relaxation('wm', 3);
  it('spin echo: PD at long TR and zero TE, T1 recovery and T2 decay otherwise', () => {
    expect(signal(wm, { kind: 'spin-echo', tr: 1e9, te: 0 })).toBeCloseTo(wm.pd, 12);
    expect(signal(wm, { kind: 'spin-echo', tr: wm.t1, te: wm.t2 })).toBeCloseTo(wm.pd * (1 - Math.exp(-1)) * Math.exp(-1), 12);
  });
  it('spoiled gradient echo peaks at the Ernst angle', () => {
    const tr = 20;
    const ernst = (Math.acos(Math.exp(-tr / wm.t1)) * 180) / Math.PI;
    const at = (flip: number) => signal(wm, { kind: 'gradient-echo', tr, te: 0, flip });
    expect(at(ernst)).toBeGreaterThan(at(ernst - 2));
    expect(at(ernst)).toBeGreaterThan(at(ernst + 2));
    expect(wm.t2star).toBeLessThan(wm.t2); // T2* includes the reversible dephasing
  });
  it('inversion recovery nulls a tissue at TI = T1·ln(2 / (1 + e^(−TR/T1)))', () => {
    const csf = relaxation('csf', 1.5);
    const tr = 9000;
    const ti = csf.t1 * Math.log(2 / (1 + Math.exp(-tr / csf.t1)));
    expect(signal(csf, { kind: 'inversion-recovery', tr, ti, te: 0 })).toBeLessThan(1e-12);
  });
  it('parses named and explicit sequences, and rejects bad ones', () => {
    expect(parseSequence('T2')).toEqual(CONTRASTS.t2);
    expect(parseSequence('gre:tr=20,te=4,flip=25')).toEqual({ kind: 'gradient-echo', tr: 20, te: 4, flip: 25 });
    expect(parseSequence('ir:tr=9000,ti=2500,te=120')).toEqual({ kind: 'inversion-recovery', tr: 9000, ti: 2500, te: 120 });
    expect(() => parseSequence('t7')).toThrow(/unknown contrast/);
    expect(() => parseSequence('se:tr=500')).toThrow(/needs tr, te/);
  });
  it('jitter stays within the asked fraction', () => {
    let u = 0;
    const seq = jitterSequence(CONTRASTS.t1, 0.1, () => (u = (u + 0.37) % 1));
    expect(seq.kind).toBe('spin-echo');
    expect(Math.abs((seq as { tr: number }).tr / 500 - 1)).toBeLessThanOrEqual(0.1);
  });
});

describe('procedural brain phantom', () => {
  const anatomy = brainAnatomy(H, W, 7);
  const n = H * W;

  it('has tissue fractions in [0, 1] that sum to 1 at every pixel', () => {
    let worstSum = 0, smallest = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < TISSUES.length; k++) {
        const f = anatomy.fractions[k * n + i]!;
        smallest = Math.min(smallest, f);
        s += f;
      }
      worstSum = Math.max(worstSum, Math.abs(s - 1));
    }
    expect(smallest).toBeGreaterThanOrEqual(-1e-6);
    expect(worstSum).toBeLessThan(1e-5);
  });

  it('contains every normal tissue class, with partial volume at boundaries', () => {
    const counts = new Array(TISSUES.length).fill(0);
    for (const l of dominantTissue(anatomy)) counts[l]++;
    for (const t of ['background', 'csf', 'gm', 'wm', 'fat', 'bone', 'marrow'] as const) expect(counts[TISSUE_INDEX[t]]).toBeGreaterThan(20);
    expect(counts[TISSUE_INDEX.lesion]).toBe(0);
    let mixed = 0;
    for (let i = 0; i < n; i++) if (anatomy.fractions[TISSUE_INDEX.gm * n + i]! > 0.1 && anatomy.fractions[TISSUE_INDEX.gm * n + i]! < 0.9) mixed++;
    expect(mixed).toBeGreaterThan(50);
  });

  it('is reproducible from its seed and varies between seeds', () => {
    expect(brainAnatomy(H, W, 7).fractions).toEqual(anatomy.fractions);
    const other = brainAnatomy(H, W, 8).fractions;
    let diff = 0;
    for (let i = 0; i < other.length; i++) diff += Math.abs(other[i]! - anatomy.fractions[i]!);
    expect(diff / n).toBeGreaterThan(0.05);
  });

  it('adds white-matter lesions only when asked, in place of white matter', () => {
    const withLesions = brainAnatomy(H, W, 7, { lesions: true });
    const L = TISSUE_INDEX.lesion, WM = TISSUE_INDEX.wm;
    let lesion = 0, worst = 0;
    for (let i = 0; i < n; i++) {
      const l = withLesions.fractions[L * n + i]!;
      lesion += l;
      // lesion + WM here equals the WM of the lesion-free anatomy (same seed, same geometry)
      worst = Math.max(worst, Math.abs(l + withLesions.fractions[WM * n + i]! - anatomy.fractions[WM * n + i]!));
    }
    expect(worst).toBeLessThan(1e-5);
    expect(lesion).toBeGreaterThan(10);
  });

  for (const field of [1.5, 3] as FieldStrength[]) {
    it(`gives the clinical contrast ordering at ${field} T`, () => {
      const t1 = tissueMeans(anatomy, renderContrast(anatomy, CONTRASTS.t1, field));
      expect(t1.wm).toBeGreaterThan(t1.gm);
      expect(t1.gm).toBeGreaterThan(t1.csf);
      expect(t1.fat).toBeGreaterThan(t1.wm); // fat bright on T1
      const t1gre = tissueMeans(anatomy, renderContrast(anatomy, CONTRASTS['t1-gre'], field));
      expect(t1gre.wm).toBeGreaterThan(t1gre.gm);
      expect(t1gre.gm).toBeGreaterThan(t1gre.csf);
      const t2 = tissueMeans(anatomy, renderContrast(anatomy, CONTRASTS.t2, field));
      expect(t2.csf).toBeGreaterThan(t2.gm);
      expect(t2.gm).toBeGreaterThan(t2.wm);
      const pd = tissueMeans(anatomy, renderContrast(anatomy, CONTRASTS.pd, field));
      expect(pd.gm).toBeGreaterThan(pd.wm);
      const flair = tissueMeans(anatomy, renderContrast(anatomy, CONTRASTS.flair, field));
      expect(flair.csf).toBeLessThan(0.25 * flair.wm); // CSF suppressed
      expect(flair.gm).toBeGreaterThan(flair.wm);
      for (const m of [t1, t2, pd, flair]) {
        expect(m.background).toBeLessThan(0.01 * m.wm);
        expect(m.bone).toBeLessThan(0.15 * Math.max(m.wm, m.gm, m.csf));
      }
    });
  }
});

describe('phantom generator', () => {
  it('is reproducible, scales each image to its 99.5th percentile, and describes each image', async () => {
    const gen = new PhantomGenerator({ field: 1.5, contrasts: ['t1', 't2', 'flair'], lesions: 0.5 });
    const a = await gen.sampleWithInfo(4, 11, [H, W]);
    const b = await gen.sample(4, 11, [H, W]);
    expect(b).toEqual(a.images);
    for (const img of a.images) expect(percentile(img, 99.5)).toBeCloseTo(1, 5);
    expect(a.info.map((i) => i.contrast).every((c) => ['t1', 't2', 'flair'].includes(c as string))).toBe(true);
    const c = await gen.sample(4, 12, [H, W]);
    expect(c[0]).not.toEqual(a.images[0]);
    expect(gen.provenance).toMatchObject({ generator: 'phantom', field: 1.5, anatomy: 'procedural' });
  });

  it('rejects bad options with a clear message', () => {
    expect(() => new PhantomGenerator({ field: 7 as FieldStrength })).toThrow(/field strength 7 T/);
    expect(() => new PhantomGenerator({ contrasts: ['t9'] })).toThrow(/unknown contrast 't9'/);
    expect(() => new PhantomGenerator({ lesions: 2 })).toThrow(/lesions must be in \[0, 1\]/);
  });
});
