import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
