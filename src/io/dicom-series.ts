/**
 * DICOM files and folders -> ordered ImageVolumes.
 *
 * A folder is scanned recursively for files with the DICOM preamble; frames are
 * grouped by SeriesInstanceUID (and image size and orientation, so a series mixing
 * them still gives consistent volumes), de-duplicated by SOPInstanceUID, and
 * ordered by ImagePositionPatient projected on the slice normal (row x column
 * direction), falling back to InstanceNumber when positions are missing. A series
 * holding several images at each position (echoes, dynamics) gives one volume per
 * repetition. The affine is built from the first slice's position, the direction
 * cosines, PixelSpacing and the step between the first and last slice.
 */
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { fileError, ModlError } from '../util/errors.js';
import { listFolder } from '../util/fs.js';
import { hasDicomPreamble, readDicomFile, type DicomFile, type DicomFrame } from './dicom.js';
import { checkAllocation, type ImageVolume } from './volume.js';

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface DicomReadResult {
  volumes: ImageVolume[];
  /** Files in a folder that looked like DICOM but could not be read, with why. */
  skipped: SkippedFile[];
}

const MAX_FILES = 100_000;

/** Files under `dir` (recursively, following symbolic links, each folder once) that start with the DICOM preamble. */
export function findDicomFiles(dir: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const walk = (d: string) => {
    let entries;
    try {
      const real = realpathSync(d);
      if (seen.has(real)) return;
      seen.add(real);
      entries = listFolder(d);
    } catch (e) {
      throw fileError(d, `cannot list folder: ${(e as Error).message}`);
    }
    for (const e of entries) {
      if (e.isDirectory) walk(e.path);
      else if (e.isFile && startsLikeDicom(e.path)) {
        found.push(e.path);
        if (found.length > MAX_FILES) throw fileError(dir, `more than ${MAX_FILES} DICOM files; point modl at one series`);
      }
    }
  };
  walk(dir);
  return found;
}

function startsLikeDicom(path: string): boolean {
  const head = new Uint8Array(132);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return readSync(fd, head, 0, 132, 0) === 132 && hasDicomPreamble(head);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** For a folder without DICOM: the other inputs modl reads that it holds, to be given one by one. */
function otherInputsHint(folder: string): string {
  const others = listFolder(folder).filter((f) => f.isFile && /\.(nii|nii\.gz|h5|cfl|png)$/i.test(f.name)).map((f) => f.name);
  if (others.length === 0) return '';
  const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? `, … (${others.length})` : '');
  return `; it holds ${shown}: give a file (a folder is read as a DICOM series)`;
}

/**
 * Reads a DICOM file or a folder of them into one ImageVolume per series (and per
 * repetition at the same positions). In a folder, unreadable files are skipped and
 * listed; a single unreadable file is an error.
 */
export async function readDicom(path: string): Promise<DicomReadResult> {
  const isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory();
  if (isDir === undefined) throw fileError(path, 'no such file or folder');
  const files = isDir ? findDicomFiles(path) : [path];
  if (files.length === 0) throw fileError(path, `no DICOM files (with the DICM preamble) in this folder${otherInputsHint(path)}`);
  const read: DicomFile[] = [];
  const skipped: SkippedFile[] = [];
  let totalValues = 0;
  for (const f of files) {
    try {
      const file = await readDicomFile(f);
      totalValues += file.frames.length * file.frames[0]!.rows * file.frames[0]!.cols;
      checkAllocation(path, totalValues, 'the DICOM images in this folder');
      read.push(file);
    } catch (e) {
      if (!isDir || !(e instanceof ModlError)) throw e;
      skipped.push({ file: f, reason: e.message.startsWith(f) ? e.message.slice(f.length + 2) : e.message });
    }
  }
  if (read.length === 0) throw fileError(path, `none of the ${files.length} DICOM files could be read (first: ${skipped[0]?.reason})`);
  return { volumes: buildVolumes(path, read), skipped };
}

/** Groups frames into series and builds ordered volumes. */
export function buildVolumes(path: string, files: DicomFile[]): ImageVolume[] {
  const byFile = new Map(files.map((f) => [f.path, f]));
  const groups = new Map<string, DicomFrame[]>();
  const seen = new Set<string>();
  for (const file of files) {
    for (const fr of file.frames) {
      const id = `${fr.sopInstanceUID}#${fr.frameIndex}`;
      if (seen.has(id)) continue; // the same instance stored twice (e.g. in two encodings)
      seen.add(id);
      const ori = fr.orientation?.map((v) => v.toFixed(3)).join(',') ?? '-';
      const key = `${file.seriesInstanceUID ?? file.path}|${fr.rows}x${fr.cols}|${ori}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(fr);
    }
  }
  const volumes: ImageVolume[] = [];
  for (const frames of groups.values()) {
    const stacks = orderFrames(frames);
    stacks.forEach((stack, i) => volumes.push(stackToVolume(path, stack, byFile.get(stack[0]!.file)!, i, stacks.length)));
  }
  const seriesNumber = (v: ImageVolume) => Number(v.source.dicomTags?.SeriesNumber ?? 0);
  return volumes.sort((a, b) => seriesNumber(a) - seriesNumber(b));
}

const cross = (a: number[], b: number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
const dot = (a: readonly number[], b: readonly number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/** Sorts frames along the slice normal; returns one stack per repetition at the same positions. */
export function orderFrames(frames: DicomFrame[]): DicomFrame[][] {
  const tieBreak = (a: DicomFrame, b: DicomFrame) =>
    (a.stackOrder ?? 0) - (b.stackOrder ?? 0) ||
    (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0) ||
    a.file.localeCompare(b.file) ||
    a.frameIndex - b.frameIndex;
  const geometric = frames.every((f) => f.position && f.orientation);
  if (!geometric) return [[...frames].sort(tieBreak)];
  const o = frames[0]!.orientation!;
  const normal = cross(o.slice(0, 3), o.slice(3, 6));
  const depth = new Map(frames.map((f) => [f, dot(f.position!, normal)]));
  const sorted = [...frames].sort((a, b) => depth.get(a)! - depth.get(b)! || tieBreak(a, b));
  // Group frames at the same position (within 0.01 mm).
  const positions: DicomFrame[][] = [];
  for (const f of sorted) {
    const last = positions[positions.length - 1];
    if (last && Math.abs(depth.get(f)! - depth.get(last[0]!)!) < 0.01) last.push(f);
    else positions.push([f]);
  }
  const reps = positions[0]!.length;
  if (reps === 1 || positions.some((p) => p.length !== reps)) return [sorted];
  return Array.from({ length: reps }, (_, r) => positions.map((p) => p[r]!));
}

/** PixelSpacing as given when both are positive and finite; otherwise 1 mm, with a warning (a zero spacing would make the affine singular). */
function usableSpacing(file: string, spacing: [number, number] | undefined): [number, number] {
  if (!spacing) return [1, 1];
  if (spacing.every((v) => Number.isFinite(v) && v > 0)) return spacing;
  console.warn(`warning: ${file}: PixelSpacing ${spacing.join('\\')} is not positive; 1 mm is used`);
  return [1, 1];
}

function stackToVolume(path: string, stack: DicomFrame[], file: DicomFile, index: number, count: number): ImageVolume {
  const first = stack[0]!;
  const last = stack[stack.length - 1]!;
  const { rows, cols } = first;
  const n = stack.length;
  const [rowSpacing, colSpacing] = usableSpacing(first.file, first.pixelSpacing);
  const o = first.orientation ?? [1, 0, 0, 0, 1, 0];
  const rowDir = o.slice(0, 3);
  const colDir = o.slice(3, 6);
  const tags = file.tags;
  const nominal = Number(tags.SpacingBetweenSlices ?? first.sliceThickness ?? tags.SliceThickness ?? 1) || 1;
  let sliceVec: number[];
  if (n > 1 && first.position && last.position) {
    sliceVec = [0, 1, 2].map((i) => (last.position![i]! - first.position![i]!) / (n - 1));
    if (Math.hypot(...sliceVec) < 1e-6) sliceVec = cross(rowDir, colDir).map((v) => v * nominal);
  } else {
    sliceVec = cross(rowDir, colDir).map((v) => v * nominal);
  }
  const origin = first.position ?? [0, 0, 0];
  const affine = [0, 1, 2].flatMap((i) => [rowDir[i]! * colSpacing, colDir[i]! * rowSpacing, sliceVec[i]!, origin[i]!]);
  affine.push(0, 0, 0, 1);
  const data = new Float32Array(n * rows * cols);
  stack.forEach((f, k) => data.set(f.pixels, k * rows * cols));
  const files = [...new Set(stack.map((f) => f.file))];
  return {
    data,
    shape: [n, rows, cols],
    spacing: [Math.hypot(...sliceVec), rowSpacing, colSpacing],
    affine,
    source: {
      format: 'dicom',
      path,
      files,
      description: typeof tags.SeriesDescription === 'string' ? tags.SeriesDescription : undefined,
      storedType: file.storedType,
      transferSyntax: file.transferSyntax,
      seriesInstanceUID: file.seriesInstanceUID,
      frame: count > 1 ? { index, count } : undefined,
      dicomTags: { ...tags },
    },
  };
}
