import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { fileError } from './errors.js';

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
  if (st.size > MAX_WHOLE_FILE_BYTES) throw fileError(path, `is ${(st.size / 2 ** 30).toFixed(1)} GiB; inputs over 2 GiB are not supported (split the volume)`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw fileError(path, `cannot read: ${(e as Error).message}`);
  }
}

/**
 * Writes a file atomically: to a temporary name beside it, then renames, so a
 * killed process never leaves a half-written output under the final name.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  ensureDir(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Runs `write(tmpPath)` and renames the result to `path` once it succeeded. */
export async function withAtomicPath<T>(path: string, write: (tmp: string) => Promise<T> | T): Promise<T> {
  ensureDir(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const result = await write(tmp);
    renameSync(tmp, path);
    return result;
  } catch (e) {
    rmSync(tmp, { force: true, recursive: true });
    throw e;
  }
}

/**
 * Writes a folder atomically: `write` fills a temporary folder beside `dir`,
 * which then replaces `dir` (the old one is moved aside first and removed last).
 */
export async function writeFolderAtomic(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    await write(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
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
