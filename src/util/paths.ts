import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The modl package root (the folder with package.json), from sources or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('modl package root not found');
    dir = up;
  }
  return dir;
}

/** Where the shipped checkpoints live. */
export function shippedCheckpoint(name: 'modl' | 'vae' | 'gan'): string {
  return join(packageRoot(), 'checkpoints', name);
}
