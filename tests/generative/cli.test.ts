/**
 * `modl train-generator` refuses GAN settings that cannot work, before it
 * builds a training set or writes anything.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import trainGenerator from '../../src/cli/commands/train-generator.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-train-generator-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('modl train-generator command line', () => {
  it('refuses an unconstrained critic, an anchor without a VAE, and unknown choices', async () => {
    const out = join(tmp, 'run');
    const run = (...args: string[]) => trainGenerator.run(['--model', 'gan', '--out', out, ...args]);
    await expect(run('--critic-norm', 'none', '--r1', '0')).rejects.toThrow(/--critic-norm none leaves the critic unconstrained/);
    await expect(run('--reconstruction', '50')).rejects.toThrow(/--reconstruction needs --init-generator/);
    await expect(run('--critic-norm', 'batch')).rejects.toThrow(/--critic-norm/);
    await expect(run('--init-generator', join(tmp, 'no-vae'))).rejects.toThrow(/no-vae: not found/);
    expect(existsSync(out)).toBe(false);
  });
});
