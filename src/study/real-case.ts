/**
 * The real-data scorecard: the validation protocol of ../shared/data/README.md
 * on its fully sampled brain (nn/real-validation.ts loads it), every method
 * scored as that README says (RSS over the map images, PSNR with the
 * reference's maximum as data range, SSIM 7×7, NMSE), mean of the 3 seeds per
 * acceleration. BART's L1-wavelet runs when `bart` is installed, tuned as the
 * README's table: the best λ of 0.002/0.005/0.01 per acceleration.
 */
import { cgSense, reconMagnitude, zeroFilledSense } from '../physics/classical.js';
import { maskKspace } from '../physics/sense.js';
import { imageMetrics, meanMetrics, type Metrics } from '../physics/metrics.js';
import type { CArray } from '../physics/complex.js';
import { meanImage, type ModlReconstructor } from '../nn/infer.js';
import type { AdaptOptions, AdaptReport } from '../nn/adapt.js';
import { caseMaps, REAL_ACCELERATIONS, REAL_SEEDS, transposeComplex, type RealCase } from '../nn/real-validation.js';
import { bartPics } from './bart.js';
import { writePngTiles } from '../io/png.js';

export const BART_L1_LAMBDAS = [0.002, 0.005, 0.01] as const;
/** The protocol's CG-SENSE (`bart pics -S -l2 -r 0.001 -i 10`). */
const CG_SENSE = { lambda: 0.001, iterations: 10 };

export interface RealCaseRow {
  acceleration: number;
  method: string;
  /** The name onImage gives this method's images ('L1 0.005' for BART at that weight). */
  key: string;
  /** Mean over the seeds. */
  metrics: Metrics;
  perSeed: Metrics[];
}

export interface RealCaseOptions {
  net?: ModlReconstructor;
  /** Run BART's L1-wavelet (needs `bart` on the PATH). */
  bart?: boolean;
  /** The L1-wavelet weights tried (the best mean PSNR is reported; default BART_L1_LAMBDAS). */
  bartLambdas?: readonly number[];
  accelerations?: readonly number[];
  /** Only these of the seeds 0, 1, 2 (default all; the protocol's scores are their mean). */
  seeds?: readonly number[];
  /** Also MoDL's self-ensemble over this many symmetries of each case (2, 4 or 8; row 'MoDL ×N'). */
  ensemble?: number;
  /** Also MoDL fine-tuned on each case's undersampled k-space first ('MoDL + adapt'; the net is reset after each). */
  adapt?: AdaptOptions;
  onAdapt?: (acceleration: number, seed: number, report: AdaptReport) => void;
  /** Receives each magnitude image (for figures), by method ('L1 0.005': BART at that weight). */
  onImage?: (acceleration: number, seed: number, method: string, magnitude: Float32Array) => void;
  onProgress?: (what: string) => void;
}

/** Rows per acceleration: zero-filled, CG-SENSE, [BART L1-wavelet], [MoDL], [MoDL ×N], [MoDL + adapt]. */
export async function evaluateRealCase(c: RealCase, o: RealCaseOptions = {}): Promise<RealCaseRow[]> {
  const maps = caseMaps(c, 2);
  let at = { R: 0, seed: 0 };
  const score = (x: CArray, method: string) => {
    const m = reconMagnitude(x);
    o.onImage?.(at.R, at.seed, method, m);
    return imageMetrics(c.reference, m, c.H, c.W);
  };
  const rows: RealCaseRow[] = [];
  const ensembled = o.ensemble && o.ensemble > 1 ? `MoDL ×${o.ensemble}` : null;
  const lambdas = o.bartLambdas ?? BART_L1_LAMBDAS;
  for (const R of o.accelerations ?? REAL_ACCELERATIONS) {
    const per: Record<string, Metrics[]> = {};
    const add = (name: string, m: Metrics) => (per[name] ??= []).push(m);
    for (const s of o.seeds ?? REAL_SEEDS) {
      o.onProgress?.(`${R}× seed ${s}`);
      at = { R, seed: s };
      const mask = c.masks.get(`${R}/${s}`)!;
      add('zero-filled', score(zeroFilledSense(maskKspace(c.kspace, mask), maps), 'zero-filled'));
      add('CG-SENSE', score(cgSense(c.kspace, maps, mask, CG_SENSE).image, 'CG-SENSE'));
      if (o.bart) {
        // in the file's own orientation: the wavelet's results depend on it (by 0.3 dB at 4×)
        const k = transposeComplex(maskKspace(c.kspace, mask)), m = transposeComplex(maps);
        for (const lambda of lambdas) add(`L1 ${lambda}`, score(transposeComplex(bartPics(k, m, ['-S', '-R', `W:3:0:${lambda}`, '-i', '100'])), `L1 ${lambda}`));
      }
      if (o.net) {
        // the plain reconstruction is the ensemble's first term
        const [variants] = await o.net.variants([{ kspace: c.kspace, maps, mask }], ensembled ? o.ensemble! : 1);
        add('MoDL', score(variants![0]!, 'MoDL'));
        if (ensembled) add(ensembled, score(meanImage(variants!), ensembled));
      }
      if (o.net && o.adapt) {
        const sample = { kspace: maskKspace(c.kspace, mask), maps, mask };
        o.onAdapt?.(R, s, await o.net.adapt([sample], o.adapt));
        add('MoDL + adapt', score((await o.net.reconstruct([sample]))[0]!, 'MoDL + adapt'));
        o.net.reset();
      }
    }
    const row = (method: string, key = method) => rows.push({ acceleration: R, method, key, metrics: meanMetrics(per[key]!), perSeed: per[key]! });
    row('zero-filled');
    row('CG-SENSE');
    if (o.bart) {
      const best = lambdas.reduce((b, l) => (meanMetrics(per[`L1 ${l}`]!).psnr > meanMetrics(per[`L1 ${b}`]!).psnr ? l : b));
      row(`BART L1-wavelet (λ ${best})`, `L1 ${best}`);
    }
    if (o.net) row('MoDL');
    if (o.net && ensembled) row(`${ensembled} (self-ensemble)`, ensembled);
    if (o.net && o.adapt) row('MoDL + adapt');
  }
  return rows;
}

/** The scorecard as a Markdown table, one row per acceleration and method. */
export function realCaseTable(rows: RealCaseRow[]): string {
  const lines = ['| acceleration | method | PSNR (dB) | SSIM | NMSE |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.acceleration}× | ${r.method} | ${r.metrics.psnr.toFixed(2)} | ${r.metrics.ssim.toFixed(4)} | ${r.metrics.nmse.toFixed(5)} |`);
  return lines.join('\n');
}

/**
 * One figure per acceleration (PREFIX-4x.png, …): the reference and each
 * method's seed-0 image (`images` keyed "R/method" as onImage names them), all
 * in the reference's intensity window, with each image's PSNR on that seed.
 */
export function writeRealCaseFigures(prefix: string, c: RealCase, rows: RealCaseRow[], images: Map<string, Float32Array>): string[] {
  const window: [number, number] = [0, Float32Array.from(c.reference).sort()[Math.round(0.995 * (c.reference.length - 1))]!];
  const paths: string[] = [];
  for (const R of new Set(rows.map((r) => r.acceleration))) {
    const tiles = [{ data: c.reference, rows: c.H, cols: c.W, label: 'REFERENCE', window }];
    for (const r of rows.filter((x) => x.acceleration === R)) {
      const image = images.get(`${R}/${r.key}`);
      if (image) tiles.push({ data: image, rows: c.H, cols: c.W, label: `${r.method.replace(/ \(.*\)/, '').replace('×', 'x')} ${r.perSeed[0]!.psnr.toFixed(2)} DB` /* the label font is ASCII */, window });
    }
    const path = `${prefix}-${R}x.png`;
    writePngTiles(path, tiles, { scale: 1 });
    paths.push(path);
  }
  return paths;
}
