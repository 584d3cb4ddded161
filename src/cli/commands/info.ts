/**
 * `modl info FILE_OR_FOLDER`: prints what modl sees in any supported input —
 * format, series, dimensions, spacing, orientation, datatype and value range —
 * or in a MoDL checkpoint folder (or a training run's, by its latest epoch).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { ModlError } from '../../util/errors.js';
import { readCfl } from '../../io/cfl.js';
import { COMPRESSED_SYNTAXES } from '../../io/dicom-codecs.js';
import { readDicom } from '../../io/dicom-series.js';
import { detectFormat, FORMAT_NAMES, loadImageVolumes } from '../../io/detect.js';
import { readFastmri, type H5Array } from '../../io/hdf5.js';
import { bartLayout } from '../../io/kspace.js';
import { readNifti, niftiToVolumes } from '../../io/nifti.js';
import { affineColumn, directionLetters, valueRange, type ImageVolume } from '../../io/volume.js';
import { resolveCheckpoint } from '../../util/fs.js';

const UNCOMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
};

const fmt = (x: number) => (Math.abs(x) < 1e-9 ? '0' : Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toPrecision(5).replace(/\.?0+$/, ''));
const line = (label: string, value: string, indent = 2) => `${' '.repeat(indent)}${label.padEnd(13)}${value}`;

function mean(data: Float32Array): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]!;
  return data.length ? s / data.length : 0;
}

/** The lines describing one image volume. */
export function describeVolume(v: ImageVolume, indent = 4): string[] {
  const [slices, rows, cols] = v.shape;
  const [ds, dr, dc] = v.spacing;
  const [lo, hi] = valueRange(v.data);
  const dirs = [0, 1, 2].map((c) => directionLetters(affineColumn(v.affine, c)) || '?');
  const origin = affineColumn(v.affine, 3).map(fmt).join(', ');
  const s = v.source;
  const out = [
    line('size', `${cols} x ${rows} x ${slices} (cols x rows x slices)`, indent),
    line('spacing', `${fmt(dc)} x ${fmt(dr)} x ${fmt(ds)} mm`, indent),
    line('orientation', `cols -> ${dirs[0]}, rows -> ${dirs[1]}, slices -> ${dirs[2]}; first voxel at (${origin}) mm LPS`, indent),
  ];
  if (s.storedType) {
    const syntax = s.transferSyntax ? `, ${UNCOMPRESSED[s.transferSyntax] ?? COMPRESSED_SYNTAXES[s.transferSyntax]?.name ?? 'transfer syntax'} (${s.transferSyntax})` : '';
    out.push(line('datatype', `${s.storedType} stored${syntax}; read as float32`, indent));
  }
  out.push(line('values', `${fmt(lo)} .. ${fmt(hi)} (mean ${fmt(mean(v.data))})`, indent));
  const t = s.dicomTags;
  if (t) {
    const who = [t.PatientID && `patient ${t.PatientID}`, t.StudyDate && `study ${t.StudyDate}`, t.StudyDescription && `"${t.StudyDescription}"`].filter(Boolean);
    if (who.length) out.push(line('patient', who.join(', '), indent));
  }
  return out;
}

async function describeDicom(path: string, folder: boolean): Promise<string[]> {
  const { volumes, skipped } = await readDicom(path);
  const files = new Set(volumes.flatMap((v) => v.source.files ?? []));
  const out = [line('format', `${folder ? 'DICOM folder' : 'DICOM file'}: ${files.size} file(s) used, ${volumes.length} volume(s)`)];
  volumes.forEach((v, i) => {
    const t = v.source.dicomTags ?? {};
    const rep = v.source.frame ? ` [repetition ${v.source.frame.index + 1} of ${v.source.frame.count}]` : '';
    out.push(`  series ${i + 1}: "${v.source.description ?? ''}" ${t.Modality ?? ''} #${t.SeriesNumber ?? '?'}${rep}, ${v.source.files?.length ?? 0} file(s)`);
    out.push(line('uid', v.source.seriesInstanceUID ?? '(none)', 4));
    out.push(...describeVolume(v));
  });
  for (const s of skipped) out.push(`  skipped ${s.file}: ${s.reason}`);
  return out;
}

function describeNifti(path: string): string[] {
  const img = readNifti(path);
  const aff = img.affineRas;
  const out = [
    line('format', `NIfTI-${img.version} ${img.littleEndian ? 'little' : 'big'} endian, ${img.datatype}${img.complex ? ' (complex: usable as k-space [x, y, slices, coils])' : ''}`),
    line('dims', `${img.dims.join(' x ')} (x fastest); pixdim ${img.pixdim.map(fmt).join(' x ')}`),
    line('scaling', `scl_slope ${fmt(img.sclSlope)}, scl_inter ${fmt(img.sclInter)}`),
    line('affine', `RAS ${[0, 1, 2].map((r) => `[${aff.slice(4 * r, 4 * r + 4).map(fmt).join(' ')}]`).join(' ')}`),
  ];
  if (img.description) out.push(line('description', img.description));
  const volumes = niftiToVolumes(img);
  out.push(`  ${volumes.length} volume(s)${img.complex ? ' (magnitude)' : ''}${volumes.length > 1 ? '; the first:' : ':'}`);
  out.push(...describeVolume(volumes[0]!));
  if (volumes.length > 1) {
    const [lo, hi] = valueRange(img.data);
    out.push(line('all values', `${fmt(lo)} .. ${fmt(hi)}`, 4));
  }
  return out;
}

function describeArray(name: string, a: H5Array): string {
  if ('complex' in a) {
    const d = a.complex.data;
    let max = 0;
    for (let i = 0; i < d.length; i += 2) max = Math.max(max, Math.hypot(d[i]!, d[i + 1]!));
    return line(name, `[${a.complex.shape.join(', ')}] complex64, max |x| ${fmt(max)}`, 4);
  }
  const [lo, hi] = valueRange(a.real.data);
  return line(name, `[${a.real.shape.join(', ')}] real, values ${fmt(lo)} .. ${fmt(hi)}`, 4);
}

async function describeHdf5(path: string): Promise<string[]> {
  const f = await readFastmri(path);
  const [slices, coils, h, w] = f.kspace.shape;
  const out = [line('format', `HDF5, fastMRI layout: ${slices} slice(s), ${coils} coil(s), ${h} x ${w} k-space`), '  datasets'];
  out.push(describeArray('kspace', { complex: f.kspace }));
  if (f.reference) out.push(describeArray('reference', { real: f.reference }));
  if (f.mask) {
    const sampled = f.mask.data.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0);
    out.push(line('mask', `[${f.mask.shape.join(', ')}], ${sampled} of ${f.mask.data.length} sampled (${fmt((100 * sampled) / f.mask.data.length)} %)`, 4));
  }
  for (const [name, a] of Object.entries(f.extra)) out.push(describeArray(name, a));
  const e = f.encoding;
  if (e?.encodedMatrix) out.push(line('encoding', `matrix ${e.encodedMatrix.join(' x ')}${e.encodedFovMm ? `, FOV ${e.encodedFovMm.map(fmt).join(' x ')} mm` : ''}`));
  if (e?.reconMatrix) out.push(line('recon', `matrix ${e.reconMatrix.join(' x ')}${e.reconFovMm ? `, FOV ${e.reconFovMm.map(fmt).join(' x ')} mm` : ''}`));
  const attrs = Object.entries(f.attrs).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`);
  if (attrs.length) out.push(line('attributes', attrs.join(', ')));
  return out;
}

function describeCfl(path: string): string[] {
  const { dims, array } = readCfl(path);
  const out = [line('format', `BART .cfl, dims ${dims.join(' ')} (first fastest), complex64`)];
  try {
    const { fast, slow, slices, coils } = bartLayout(path, dims);
    out.push(line('as k-space', `[slices ${slices}, coils ${coils}, H ${dims[slow]} (dim ${slow}), W ${dims[fast]} (dim ${fast})]`));
  } catch (e) {
    out.push(line('layout', e instanceof ModlError ? e.message : String(e)));
  }
  out.push(describeArray('values', { complex: array }).replace(/^ {4}/, '  '));
  return out;
}

/** What `modl info` reads of modl.json (nn/checkpoint.ts CheckpointMeta, without loading the weights). */
interface CheckpointJson {
  architecture?: { denoiser?: { depth: number; width: number; symmetries?: number; symmetryPlan?: string } };
  stages?: number; cgIterations?: number; lambda?: number; created?: string;
  trainedOn?: { curriculum?: { name: string }[]; pipeline?: string };
  training?: { steps?: number; loss?: string };
  validation?: { real?: { acceleration: number; method: string; psnr: number; ssim: number }[] };
}

/** A MoDL checkpoint folder: the network, its provenance, its recorded real-case scores, int8 readiness. */
async function describeCheckpoint(folder: string): Promise<string[]> {
  const dir = resolveCheckpoint(folder);
  const out = dir === folder ? [] : [line('run', `newest checkpoint: ${dir}`)];
  let meta: CheckpointJson, manifest: { weightsManifest?: { weights: { shape: number[] }[] }[] };
  try {
    meta = JSON.parse(readFileSync(join(dir, 'modl.json'), 'utf8'));
    manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  } catch (e) {
    throw new ModlError(`${dir}: not a readable modl checkpoint (${(e as Error).message})`);
  }
  const d = meta.architecture?.denoiser;
  const values = (manifest.weightsManifest ?? []).flatMap((g) => g.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  const symmetric = d?.symmetries && d.symmetries > 1 ? `, averaged over ${d.symmetries} symmetries a stage${d.symmetryPlan === 'cycled' ? ', cycled' : ''}` : '';
  out.push(
    line('format', `modl checkpoint (MoDL), created ${meta.created ?? '?'}`),
    line('network', `K=${meta.stages} stages, ${d?.depth}×${d?.width} denoiser${symmetric}, ${meta.cgIterations} CG iterations, λ ${fmt(meta.lambda ?? NaN)}`),
    line('weights', `${values} values (weights, per-stage batch-norm statistics, log λ)`),
  );
  const { int8CalibrationState } = await import('../../nn/checkpoint.js');
  out.push(line('int8', {
    current: 'activation ranges for these weights (int8.json)',
    'other-weights': 'int8.json is for other weights: calibrated on the first batch',
    absent: 'no stored ranges: calibrated on the first batch',
  }[int8CalibrationState(dir)]));
  const stages = meta.trainedOn?.curriculum?.map((s) => s.name);
  if (stages?.length) out.push(line('trained', `${stages.join(' → ')}${meta.trainedOn?.pipeline ? ` (${meta.trainedOn.pipeline})` : ''}`));
  else if (meta.training?.steps) out.push(line('trained', `${meta.training.steps} steps${meta.training.loss ? `, ${meta.training.loss} loss` : ''}`));
  const real = (meta.validation?.real ?? []).filter((r) => r.method === 'MoDL');
  real.forEach((r, i) => out.push(line(i === 0 ? 'real case' : '', `${r.acceleration}×: ${r.psnr.toFixed(2)} dB / SSIM ${r.ssim.toFixed(4)} (MoDL, mean of 3 seeds)`)));
  if (existsSync(join(dir, 'state.json'))) out.push(line('resumable', 'optimiser moments and training state beside it'));
  return out;
}

const isCheckpointFolder = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory()
  && (existsSync(join(path, 'modl.json')) || existsSync(join(path, 'latest.json')));

/** Everything `modl info` prints about one input. */
export async function describeInput(path: string): Promise<string> {
  if (isCheckpointFolder(path)) return [path, ...(await describeCheckpoint(path))].join('\n');
  const format = detectFormat(path);
  const head = `${path}`;
  let body: string[];
  switch (format) {
    case 'dicom':
    case 'dicom-folder':
      body = await describeDicom(path, format === 'dicom-folder');
      break;
    case 'nifti':
      body = describeNifti(path);
      break;
    case 'hdf5':
      body = await describeHdf5(path);
      break;
    case 'cfl':
      body = describeCfl(path);
      break;
    case 'png': {
      const [v] = await loadImageVolumes(path);
      body = [line('format', FORMAT_NAMES.png), ...describeVolume(v!, 2)];
      break;
    }
    default:
      throw new ModlError(`${path}: unrecognised format (modl reads DICOM files and folders, NIfTI, fastMRI HDF5, BART .cfl and PNG)`);
  }
  return [head, ...body].join('\n');
}

const info: Command = {
  name: 'info',
  summary: 'print what modl sees in a DICOM/NIfTI/HDF5/.cfl/PNG input or a MoDL checkpoint',
  options: {},
  usage: [
    'usage: modl info FILE_OR_FOLDER [...]',
    '',
    'Prints the format, series, dimensions, voxel spacing, orientation, stored datatype',
    'and value range of each input: a DICOM file or folder (searched recursively, grouped',
    'by series), NIfTI-1/2 (.nii, .nii.gz), fastMRI HDF5 (.h5), BART .cfl/.hdr, or PNG;',
    'for a MoDL checkpoint folder (or a training run\'s, by its newest epoch): the network,',
    'how it was trained, its recorded real-case scores and whether it is calibrated for int8.',
  ].join('\n'),
  async run(argv: string[]): Promise<void> {
    const { positionals } = parseCommandArgs('info', argv, {}, true);
    if (positionals.length === 0) throw new ModlError(`no input given\n\n${info.usage}`);
    for (const [i, p] of positionals.entries()) {
      if (i > 0) console.log('');
      console.log(await describeInput(p));
    }
  },
};

export default info;
