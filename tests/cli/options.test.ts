/**
 * Each command declares its options once, in a table that parseArgs reads and
 * --help prints; enum options refuse values they do not know, naming the valid
 * ones, before any work.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/cli/command.js';

const modl = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

const COMMANDS = ['demo', 'recon', 'info', 'maps', 'train', 'eval', 'synth', 'train-generator', 'generator-report', 'site-retrain'];

describe('option tables', () => {
  it('every command lists each option of its table in its --help, with the help text', async () => {
    for (const name of COMMANDS) {
      const cmd = (await import(`../../src/cli/commands/${name}.ts`)).default as Command;
      expect(cmd.name).toBe(name);
      for (const [option, spec] of Object.entries(cmd.options)) {
        const line = cmd.usage.split('\n').find((l) => l.startsWith(`  --${option} `) || l === `  --${option}`);
        expect(line, `${name} --${option}`).toBeDefined();
        expect(cmd.usage).toContain(spec.help.split('\n')[0]!);
      }
    }
  });

  it('refuses a value outside an option\'s choices, naming them', () => {
    const run = modl('recon', 'x.nii', '--out', '/nonexistent/out', '--mask-type', 'spiral');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/recon: --mask-type: 'spiral' is not one of random, equispaced, poisson/);
    const backend = modl('eval', '--real', '/nonexistent', '--backend', 'tpu');
    expect(backend.stderr).toMatch(/eval: --backend: 'tpu' is not one of auto, node-gpu, node, wasm, cpu/);
  });
});

describe('modl train options', () => {
  it('refuses an unknown --loss instead of training with MSE', () => {
    const run = modl('train', '--out', '/nonexistent/run', '--data', '/nonexistent/data', '--loss', 'huber');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/train: --loss: 'huber' is not one of mse, l1/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown mask kind in --masks, listing the kinds', () => {
    const run = modl('train', '--out', '/nonexistent/run', '--data', '/nonexistent/data', '--masks', 'spiral:4');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--masks: expected KIND\[\+KIND\]:R\[,R\] with kinds random, equispaced, poisson \(got 'spiral:4'\)/);
  });
});
