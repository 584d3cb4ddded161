/**
 * Tissue relaxation properties and MR signal equations for the brain phantom.
 *
 * Values are rounded literature figures (times in ms, PD relative to water):
 *  - 1.5 T brain and CSF: the MRiLab brain-phantom table (Liu et al., IEEE
 *    TMI 2017), which ships with the BrainWeb labels (see
 *    ../shared/data/README.md): CSF (1, 4500, 2200), GM (0.8, 950, 100),
 *    WM (0.65, 600, 80), muscle/skin (0.7, 1100, 35), skull (0.05, 100, 10).
 *  - 3 T grey and white matter: Wansapura et al., JMRI 9:531 (1999):
 *    WM T1 832 / T2 80, GM T1 1331 / T2 110. CSF changes little with field.
 *  - Subcutaneous fat, yellow marrow and muscle T1/T2 at both fields: Gold et
 *    al., AJR 183:343 (2004); their PDs (0.9, 0.85, 0.7) are our choice.
 *  - T2*: 1/T2* = 1/T2 + R2′, with one reversible-dephasing rate R2′ per field
 *    taken from the brain T2* and T2 values of Peters et al., MRI 25:748 (2007)
 *    (about 2.5 s⁻¹ at 1.5 T, 6 s⁻¹ at 3 T).
 *  - The optional lesion (a white-matter hyperintensity) has prolonged T1 and
 *    T2 and raised PD relative to WM, as in demyelinating lesions; its values
 *    are illustrative, not a measurement.
 */

export const TISSUES = ['background', 'csf', 'gm', 'wm', 'fat', 'muscle', 'bone', 'marrow', 'lesion'] as const;
export type Tissue = (typeof TISSUES)[number];
export const TISSUE_INDEX: Record<Tissue, number> = Object.fromEntries(TISSUES.map((t, i) => [t, i])) as Record<Tissue, number>;

export type FieldStrength = 1.5 | 3;

export interface Relaxation {
  /** Proton density relative to water. */
  pd: number;
  t1: number;
  t2: number;
}

const RELAXATION: Record<FieldStrength, Record<Tissue, Relaxation>> = {
  1.5: {
    background: { pd: 0, t1: 1, t2: 1 },
    csf: { pd: 1, t1: 4500, t2: 2200 },
    gm: { pd: 0.8, t1: 950, t2: 100 },
    wm: { pd: 0.65, t1: 600, t2: 80 },
    fat: { pd: 0.9, t1: 343, t2: 58 },
    muscle: { pd: 0.7, t1: 1130, t2: 35 },
    bone: { pd: 0.05, t1: 100, t2: 10 },
    marrow: { pd: 0.85, t1: 549, t2: 49 },
    lesion: { pd: 0.75, t1: 1000, t2: 150 },
  },
  3: {
    background: { pd: 0, t1: 1, t2: 1 },
    csf: { pd: 1, t1: 4300, t2: 2000 },
    gm: { pd: 0.8, t1: 1331, t2: 110 },
    wm: { pd: 0.65, t1: 832, t2: 80 },
    fat: { pd: 0.9, t1: 382, t2: 68 },
    muscle: { pd: 0.7, t1: 1420, t2: 32 },
    bone: { pd: 0.05, t1: 100, t2: 10 },
    marrow: { pd: 0.85, t1: 586, t2: 49 },
    lesion: { pd: 0.75, t1: 1400, t2: 150 },
  },
};

/** Reversible dephasing rate R2′ in 1/ms. */
const R2_PRIME: Record<FieldStrength, number> = { 1.5: 0.0025, 3: 0.006 };

export function relaxation(tissue: Tissue, field: FieldStrength): Relaxation & { t2star: number } {
  const r = RELAXATION[field][tissue];
  return { ...r, t2star: 1 / (1 / r.t2 + R2_PRIME[field]) };
}

/** A pulse sequence with its timing: times in ms, flip angle in degrees. */
export type Sequence =
  | { kind: 'spin-echo'; tr: number; te: number }
  | { kind: 'gradient-echo'; tr: number; te: number; flip: number }
  | { kind: 'inversion-recovery'; tr: number; te: number; ti: number };

/**
 * Steady-state signal of one tissue:
 *   spin echo             PD (1 − e^(−TR/T1)) e^(−TE/T2)
 *   spoiled gradient echo PD sin α (1 − E1) / (1 − cos α E1) e^(−TE/T2*),  E1 = e^(−TR/T1)
 *   inversion recovery    PD |1 − 2 e^(−TI/T1) + e^(−TR/T1)| e^(−TE/T2)   (magnitude, spin-echo readout)
 */
export function signal(r: Relaxation & { t2star: number }, seq: Sequence): number {
  if (r.pd === 0) return 0;
  switch (seq.kind) {
    case 'spin-echo':
      return r.pd * (1 - Math.exp(-seq.tr / r.t1)) * Math.exp(-seq.te / r.t2);
    case 'gradient-echo': {
      const a = (seq.flip * Math.PI) / 180;
      const e1 = Math.exp(-seq.tr / r.t1);
      return (r.pd * Math.sin(a) * (1 - e1)) / (1 - Math.cos(a) * e1) * Math.exp(-seq.te / r.t2star);
    }
    case 'inversion-recovery':
      return r.pd * Math.abs(1 - 2 * Math.exp(-seq.ti / r.t1) + Math.exp(-seq.tr / r.t1)) * Math.exp(-seq.te / r.t2);
  }
}

/** Signal of every tissue class (in TISSUES order) for one sequence. */
export function tissueSignals(seq: Sequence, field: FieldStrength): Float64Array {
  return Float64Array.from(TISSUES, (t) => signal(relaxation(t, field), seq));
}

/** Named contrasts with typical clinical timings. */
export const CONTRASTS = {
  t1: { kind: 'spin-echo', tr: 500, te: 12 },
  t2: { kind: 'spin-echo', tr: 4000, te: 100 },
  pd: { kind: 'spin-echo', tr: 3000, te: 15 },
  flair: { kind: 'inversion-recovery', tr: 9000, te: 120, ti: 2500 },
  't1-gre': { kind: 'gradient-echo', tr: 20, te: 4, flip: 25 },
} as const satisfies Record<string, Sequence>;
export type ContrastName = keyof typeof CONTRASTS;

/**
 * Parses a contrast: a name from CONTRASTS, or an explicit sequence such as
 * `se:tr=500,te=15`, `gre:tr=20,te=4,flip=25`, `ir:tr=9000,ti=2500,te=120`.
 */
export function parseSequence(text: string): Sequence {
  const t = text.trim().toLowerCase();
  if (t in CONTRASTS) return { ...CONTRASTS[t as ContrastName] };
  const m = t.match(/^(se|gre|ir):(.*)$/);
  if (!m) throw new Error(`unknown contrast '${text}' (one of ${Object.keys(CONTRASTS).join(', ')}, or se:tr=…,te=…, gre:tr=…,te=…,flip=…, ir:tr=…,ti=…,te=…)`);
  const p: Record<string, number> = {};
  for (const kv of m[2]!.split(',')) {
    const [k, v] = kv.split('=');
    const value = Number(v);
    if (!k || !Number.isFinite(value) || value < 0) throw new Error(`contrast '${text}': bad parameter '${kv}'`);
    p[k.trim()] = value;
  }
  const need = (...keys: string[]) => {
    for (const k of keys) if (p[k] === undefined) throw new Error(`contrast '${text}' needs ${keys.join(', ')}`);
  };
  const kind = m[1]!;
  if (kind === 'se') { need('tr', 'te'); return { kind: 'spin-echo', tr: p.tr!, te: p.te! }; }
  if (kind === 'gre') { need('tr', 'te', 'flip'); return { kind: 'gradient-echo', tr: p.tr!, te: p.te!, flip: p.flip! }; }
  need('tr', 'ti', 'te');
  return { kind: 'inversion-recovery', tr: p.tr!, te: p.te!, ti: p.ti! };
}

/** The sequence with each timing scaled by its own factor in [1 − f, 1 + f] (contrast variety). */
export function jitterSequence(seq: Sequence, f: number, uniform: () => number): Sequence {
  const s = (v: number) => v * (1 + f * (2 * uniform() - 1));
  switch (seq.kind) {
    case 'spin-echo': return { kind: seq.kind, tr: s(seq.tr), te: s(seq.te) };
    case 'gradient-echo': return { kind: seq.kind, tr: s(seq.tr), te: s(seq.te), flip: s(seq.flip) };
    case 'inversion-recovery': return { kind: seq.kind, tr: s(seq.tr), te: s(seq.te), ti: s(seq.ti) };
  }
}
