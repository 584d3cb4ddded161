import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/data beside the project root; tests that need it skip cleanly when it is absent. */
export const SHARED_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
export const HAS_SHARED = existsSync(join(SHARED_DATA, 'README.md'));
if (!HAS_SHARED) console.warn(`[modl tests] ${SHARED_DATA} is absent: tests on real data are skipped`);

export function shared(...parts: string[]): string {
  return join(SHARED_DATA, ...parts);
}

/** Debian's python3 with h5py and numpy, which the interoperability tests run (they skip without it). */
export const HAS_H5PY = spawnSync('/usr/bin/python3', ['-c', 'import h5py, numpy'], { stdio: 'ignore' }).status === 0;
