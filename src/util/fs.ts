import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statfsSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { errnoProblem, fileError, ModlError } from './errors.js';
import { formatBytes } from './memory.js';

/**
 * mkdir -p. Node's recursive mkdirSync never returns for a path under /proc
 * (it retries the ENOENT there forever), so each missing level is made on its own.
 */
export function ensureDir(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) ensureDir(parent);
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** The largest file read whole into memory (Node's own limit for one read). */
export const MAX_WHOLE_FILE_BYTES = 2 ** 31 - 1;

/** The stat of an input file, refusing what is missing or not a regular file (a FIFO would block the reader). */
export function regularFileStat(path: string): Stats {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw fileError(path, 'no such file');
  if (!st.isFile()) throw fileError(path, 'not a regular file (a FIFO, device or socket cannot be read as an input)');
  return st;
}

/**
 * Reads a whole input file, after checking that it is a regular file (a FIFO
 * or a device would block or never end) of a size that one buffer can hold.
 */
export function readRegularFile(path: string): Buffer {
  const st = regularFileStat(path);
  if (st.size > MAX_WHOLE_FILE_BYTES) throw fileError(path, `is ${formatBytes(st.size)}; inputs over 2 GiB are not supported (split the volume)`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw fileError(path, `cannot read: ${(e as Error).message}`);
  }
}

/**
 * The temporary name beside `path` that an atomic write of it uses while it
 * runs (`kind` 'tmp'), or for the old version while it is being replaced ('old').
 */
function besideName(path: string, kind: 'tmp' | 'old'): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${kind}`);
}

/** besideName's names, of any process: `.NAME.PID.tmp` or `.NAME.PID.old`. */
const BESIDE = /^\.(.+)\.\d+\.(tmp|old)$/;

/**
 * Removes what a killed atomic write of `path` left beside it (its temporary
 * and moved-aside names, of any process), so that a rerun starts clean.
 */
export function removeStaleTemps(path: string): void {
  removeStaleTempsIn(dirname(path), basename(path));
}

/** Removes every killed atomic write's leftovers in folder `dir` (or only those of `name`). */
export function removeStaleTempsIn(dir: string, name?: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) {
    const m = BESIDE.exec(f);
    if (m && (name === undefined || m[1] === name)) rmSync(join(dir, f), { recursive: true, force: true });
  }
}

/** Bytes read per call when a file is read into memory in slices. */
const READ_SLICE = 2 ** 30;

/**
 * Reads a whole regular file into `target`, which must be its size, slice by
 * slice: files over 2 GiB (one read's limit) too, with no second copy.
 */
export function readRegularFileInto(path: string, target: Uint8Array, sliceBytes = READ_SLICE): void {
  const st = regularFileStat(path);
  if (st.size !== target.byteLength) throw fileError(path, `holds ${st.size} bytes, expected ${target.byteLength}`);
  const fd = openSync(path, 'r');
  try {
    for (let at = 0; at < target.byteLength;) {
      const n = readSync(fd, target, at, Math.min(sliceBytes, target.byteLength - at), at);
      if (n === 0) throw fileError(path, `ended after ${at} of ${target.byteLength} bytes`);
      at += n;
    }
  } catch (e) {
    if (e instanceof ModlError) throw e;
    throw fileError(path, `cannot read: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a file atomically: to a temporary name beside it, then renames, so a
 * killed process never leaves a half-written output under the final name.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  ensureDir(dirname(path));
  const tmp = besideName(path, 'tmp');
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw withPath(e, path, tmp);
  }
}

/**
 * An error of an atomic write, about `path`: a file-system error that does not
 * say which file (a failed write(2) does not) gets the path, and one naming the
 * temporary `tmp` names the final path instead.
 */
function withPath(e: unknown, path: string, tmp: string): unknown {
  if (e instanceof ModlError) return e.message.includes(tmp) ? new ModlError(e.message.replaceAll(tmp, path)) : e;
  const err = e as NodeJS.ErrnoException;
  const problem = errnoProblem(err?.code);
  return problem && err.path === undefined ? fileError(path, problem) : e;
}

/** Runs `write(tmpPath)` and renames the result to `path` once it succeeded. */
export async function withAtomicPath<T>(path: string, write: (tmp: string) => Promise<T> | T): Promise<T> {
  ensureDir(dirname(path));
  const tmp = besideName(path, 'tmp');
  try {
    const result = await write(tmp);
    renameSync(tmp, path);
    return result;
  } catch (e) {
    rmSync(tmp, { force: true, recursive: true });
    throw withPath(e, path, tmp);
  }
}

/**
 * Writes a folder atomically: `write` fills a temporary folder beside `dir`,
 * which then replaces `dir` (the old one is moved aside first and removed last).
 */
export async function writeFolderAtomic(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = besideName(dir, 'tmp');
  rmSync(tmp, { recursive: true, force: true });
  try {
    await write(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw withPath(e, dir, tmp);
  }
  const old = besideName(dir, 'old');
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Checks, before any work, that an output can be written where the user asked:
 * `path` is not of the other kind (a file where a folder goes, or the reverse), no
 * part of it is a file, a file can be created in the nearest existing folder
 * (tried: permissions, read-only mounts and /proc all show only when one writes),
 * and, given `bytes`, that the file system has that much space free.
 */
export function checkOutputLocation(path: string, kind: 'file' | 'folder', bytes = 0): void {
  const stat = (p: string) => {
    try {
      return statSync(p, { throwIfNoEntry: false });
    } catch {
      return undefined; // ENOTDIR: found as a file further up
    }
  };
  const st = stat(path);
  if (st && kind === 'folder' && !st.isDirectory()) throw fileError(path, 'exists and is not a folder; choose another output folder');
  if (st && kind === 'file' && st.isDirectory()) throw fileError(path, 'is a folder; the output is a file');
  let dir = kind === 'folder' && st ? path : dirname(path);
  for (;;) {
    const up = stat(dir);
    if (up && !up.isDirectory()) throw fileError(path, `a part of this path is a file, not a folder (${dir})`);
    if (up || dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  const probe = join(dir, `.modl-write-check-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (e) {
    throw fileError(path, `cannot write in ${dir}: ${errnoProblem((e as NodeJS.ErrnoException).code) ?? (e as Error).message}`);
  } finally {
    rmSync(probe, { force: true });
  }
  if (bytes > 0) {
    const fsStat = statfsSync(dir);
    const free = fsStat.bavail * fsStat.bsize;
    if (free < bytes) throw fileError(path, `needs about ${formatBytes(bytes)} but only ${formatBytes(free)} is free on its file system`);
  }
}

/** The checkpoint folder a training run's latest.json points at, or `dir` itself when it is a checkpoint. */
export function resolveCheckpoint(dir: string): string {
  const latest = join(dir, 'latest.json');
  if (existsSync(latest) && !existsSync(join(dir, 'model.json'))) return join(dir, (JSON.parse(readFileSync(latest, 'utf8')) as { checkpoint: string }).checkpoint);
  return dir;
}

export interface FolderEntry {
  name: string;
  path: string;
  isFile: boolean;
  isDirectory: boolean;
}

/**
 * The entries of a folder, sorted by name, with symbolic links followed (a
 * folder of links to scans is a common way to pick a training set); broken
 * links are skipped.
 */
export function listFolder(dir: string): FolderEntry[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const path = join(dir, e.name);
      if (!e.isSymbolicLink()) return [{ name: e.name, path, isFile: e.isFile(), isDirectory: e.isDirectory() }];
      const st = statSync(path, { throwIfNoEntry: false });
      return st ? [{ name: e.name, path, isFile: st.isFile(), isDirectory: st.isDirectory() }] : [];
    });
}
