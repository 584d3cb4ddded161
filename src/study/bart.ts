/**
 * BART (Uecker et al.) as a reference reconstruction, when Debian's `bart` is
 * installed: arrays go through .cfl files in a temporary folder, so results are
 * exactly what `bart pics` computes on the same data.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CArray } from '../physics/complex.js';
import { readCfl, writeCfl } from '../io/cfl.js';

export function hasBart(): boolean {
  return spawnSync('bart', ['version'], { stdio: 'ignore' }).status === 0;
}

/** BART dims of a modl slice array [.., H, W]: W in dim 1, H in dim 2, then coils (3) and map sets (4). */
function bartDims(shape: readonly number[]): number[] {
  const [W, H, ...rest] = [...shape].reverse();
  return [1, W!, H!, ...rest];
}

/**
 * `bart pics ARGS kspace maps out` on k-space [C, H, W] (unsampled entries zero) and maps
 * [C, H, W] or [S, C, H, W]; returns the image [H, W] or [S, H, W].
 */
export function bartPics(kspace: CArray, maps: CArray, args: string[]): CArray {
  const dir = mkdtempSync(join(tmpdir(), 'modl-bart-'));
  try {
    writeCfl(join(dir, 'k'), kspace, bartDims(kspace.shape));
    writeCfl(join(dir, 's'), maps, bartDims(maps.shape));
    const run = spawnSync('bart', ['pics', ...args, join(dir, 'k'), join(dir, 's'), join(dir, 'x')], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`bart pics ${args.join(' ')} failed: ${(run.stderr || run.error?.message || '').trim()}`);
    const { array } = readCfl(join(dir, 'x'));
    const shape = maps.shape.length === 4 ? [maps.shape[0]!, ...maps.shape.slice(2)] : maps.shape.slice(1);
    return { data: array.data, shape };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
