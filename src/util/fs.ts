import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/**
 * Writes a file atomically: to a temporary name beside it, then renames, so a
 * killed process never leaves a half-written output under the final name.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
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
  mkdirSync(dirname(path), { recursive: true });
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
