/**
 * What a reconstruction job leaves behind: per method a NIfTI volume, a DICOM
 * series and PNG previews; metrics against the reference (fastMRI's volume
 * conventions); comparison figures; and a Markdown report tying them together.
 */
import { join } from 'node:path';
import type { CArray } from '../physics/complex.js';
import { reconMagnitude } from '../physics/classical.js';
import { volumeMetrics, type Metrics } from '../physics/metrics.js';
import { writeDicomSeries } from '../io/dicom-write.js';
import { writeNifti } from '../io/nifti.js';
import { writePng, writePngTiles } from '../io/png.js';
import type { ImageVolume } from '../io/volume.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { reconstruct, type MethodSettings, type ReconMethod } from './methods.js';
import { adaptSummary, type AdaptReport } from '../nn/adapt.js';
import type { Study } from './study.js';

export interface MethodResult {
  method: ReconMethod;
  /** Shown in tables and figures and keys metrics.json (default: the method's label); tells two MoDL checkpoints apart. */
  label?: string;
  images: CArray[];
  seconds: number;
  metrics?: Metrics;
  /** The scan-specific fine-tuning MoDL ran first, when it did. */
  adapted?: AdaptReport;
}

export const METHOD_LABELS: Record<ReconMethod, string> = { 'zero-filled': 'zero-filled', cgsense: 'CG-SENSE', modl: 'MoDL' };

export const labelOf = (r: MethodResult) => r.label ?? METHOD_LABELS[r.method];

/**
 * One method on a study's slices, timed, scored with the volume metrics when
 * the study has a reference: the evaluation step of every job that compares methods.
 */
export async function runMethod(study: Study, method: ReconMethod, settings: MethodSettings = {}, label?: string): Promise<MethodResult> {
  const t0 = performance.now();
  let adapted: AdaptReport | undefined;
  const images = await reconstruct(study.samples, method, { ...settings, onAdapted: (a) => { adapted = a; settings.onAdapted?.(a); } });
  return {
    method, images, seconds: (performance.now() - t0) / 1000,
    ...(label ? { label } : {}),
    ...(adapted ? { adapted } : {}),
    ...(study.reference ? { metrics: volumeMetrics(study.reference, images.map(reconMagnitude), study.H, study.W) } : {}),
  };
}

/** A metric for a table: 'n/a' where it is not defined (SSIM of images under 7×7). */
const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** Writes <method>.nii.gz, dicom/<method>/ and png/<method>_NNN.png; returns the paths. */
export async function writeMethodOutputs(outDir: string, study: Study, r: MethodResult): Promise<{ nifti: string; dicom: string; png: string }> {
  const { H, W } = study;
  const data = new Float32Array(r.images.length * H * W);
  r.images.forEach((x, i) => data.set(reconMagnitude(x), i * H * W));
  const vol: ImageVolume = { ...study.geometry, data, shape: [r.images.length, H, W] };
  const description = `modl ${METHOD_LABELS[r.method]} reconstruction`;
  const nifti = join(outDir, `${r.method}.nii.gz`);
  writeNifti(nifti, vol, { description });
  const dicom = join(outDir, 'dicom', r.method);
  await writeDicomSeries(dicom, vol, { seriesDescription: description, overwrite: true });
  const pngDir = join(outDir, 'png');
  ensureDir(pngDir);
  r.images.forEach((x, i) => writePng(join(pngDir, `${r.method}_${String(i).padStart(3, '0')}.png`), reconMagnitude(x), H, W));
  return { nifti, dicom, png: pngDir };
}

/**
 * One row of tiles per slice shown: reference (when known), then each method;
 * a second figure holds the error maps |x − ref| on a common scale.
 */
export function writeComparisonFigures(outDir: string, study: Study, results: MethodResult[], slice: number): { images: string; errors?: string } {
  const { H, W } = study;
  const ref = study.reference?.[slice];
  const window = ref ? ([0, percentileOf(ref, 99.5)] as [number, number]) : undefined;
  const tiles = [
    ...(ref ? [{ data: ref, rows: H, cols: W, label: 'reference', window }] : []),
    ...results.map((r) => ({ data: reconMagnitude(r.images[slice]!), rows: H, cols: W, label: labelOf(r), window })),
  ];
  const images = join(outDir, `figure_slice${slice}.png`);
  writePngTiles(images, tiles, { scale: H < 200 ? 2 : 1 });
  if (!ref) return { images };
  const errs = results.map((r) => reconMagnitude(r.images[slice]!).map((v, i) => Math.abs(v - ref[i]!)));
  const top = Math.max(...errs.map((e) => percentileOf(e, 99.5))) || 1;
  const errors = join(outDir, `errors_slice${slice}.png`);
  writePngTiles(errors, results.map((r, i) => ({ data: errs[i]!, rows: H, cols: W, label: `|${labelOf(r)} - ref|`, window: [0, top] as [number, number] })),
    { scale: H < 200 ? 2 : 1 });
  return { images, errors };
}

function percentileOf(x: Float32Array, p: number): number {
  const s = Float32Array.from(x).sort();
  return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))]!;
}

export interface ReportContent {
  title: string;
  study: Study;
  results: MethodResult[];
  figures: { images: string; errors?: string }[];
  notes?: string[];
}

/** The metrics table in Markdown (also used by the README and the eval command). */
export function metricsTable(results: MethodResult[]): string {
  const rows = results.map((r) => {
    const m = r.metrics;
    const cells = m ? [fixed(m.psnr, 2), fixed(m.ssim, 4), fixed(m.nmse, 5)] : ['–', '–', '–'];
    return `| ${labelOf(r)} | ${cells.join(' | ')} | ${r.seconds.toFixed(2)} |`;
  });
  return ['| method | PSNR (dB) | SSIM | NMSE | time (s) |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The same table as plain text for the terminal. */
export function metricsText(results: MethodResult[]): string {
  const width = Math.max(14, ...results.map((r) => labelOf(r).length));
  const head = `  ${'method'.padEnd(width)} ${'PSNR dB'.padStart(8)} ${'SSIM'.padStart(7)} ${'NMSE'.padStart(8)} ${'time s'.padStart(7)}`;
  return [head, ...results.map((r) => {
    const m = r.metrics;
    const cells = m ? [fixed(m.psnr, 2).padStart(8), fixed(m.ssim, 4).padStart(7), fixed(m.nmse, 5).padStart(8)] : ['–'.padStart(8), '–'.padStart(7), '–'.padStart(8)];
    return `  ${labelOf(r).padEnd(width)} ${cells.join(' ')} ${r.seconds.toFixed(2).padStart(7)}`;
  })].join('\n');
}

export const REPORT_FILE = 'report.md';

/** Writes report.md and metrics.json into outDir. */
export function writeReport(outDir: string, c: ReportContent): string {
  const rel = (p: string) => p.slice(outDir.length + 1);
  const lines = [
    `# ${c.title}`, '',
    `Input: \`${c.study.input}\` (${c.study.samples.length} slice(s), ${c.study.H}×${c.study.W})`, '',
    ...c.study.preparation.map((p) => `- ${p}`), '',
    c.study.reference ? metricsTable(c.results) : `No reference image exists for this input, so no metrics: judge the images.\n\n${metricsTable(c.results)}`, '',
    ...(c.study.reference ? ['Metrics as fastMRI computes them: PSNR and NMSE over the volume, SSIM (7×7, K1 0.01, K2 0.03) averaged over slices, data range = the maximum of the reference.', ''] : []),
    ...c.figures.flatMap((f) => [`![reconstructions](${rel(f.images)})`, '', ...(f.errors ? [`![error maps](${rel(f.errors)})`, ''] : [])]),
    ...c.results.filter((r) => r.adapted).map((r) => `${labelOf(r)}: fine-tuned on this study's own k-space first (zero-shot SSDU): ${adaptSummary(r.adapted!)}.\n`),
    ...(c.notes ?? []), '',
  ];
  const path = join(outDir, REPORT_FILE);
  writeFileAtomic(path, lines.join('\n'));
  const metrics = Object.fromEntries(c.results.map((r) => [r.label ?? r.method, { ...r.metrics, seconds: r.seconds, ...(r.adapted ? { adapted: r.adapted } : {}) }]));
  writeFileAtomic(join(outDir, 'metrics.json'), JSON.stringify({ input: c.study.input, slices: c.study.samples.length, metrics }, null, 2));
  return path;
}
