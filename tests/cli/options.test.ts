/** Enum options of the CLI refuse values they do not know, naming the valid ones, before any work. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const modl = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

describe('modl train options', () => {
  it('refuses an unknown --loss instead of training with MSE', () => {
    const run = modl('train', '--out', '/nonexistent/run', '--data', '/nonexistent/data', '--loss', 'huber');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--loss: 'huber' is not mse or l1/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown mask kind in --masks, listing the kinds', () => {
    const run = modl('train', '--out', '/nonexistent/run', '--data', '/nonexistent/data', '--masks', 'spiral:4');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--masks: expected KIND\[\+KIND\]:R\[,R\] with kinds random, equispaced, poisson \(got 'spiral:4'\)/);
  });
});
