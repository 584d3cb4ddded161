/**
 * Each command declares its options once, in a table that parseArgs reads and
 * --help prints; enum options refuse values they do not know, naming the valid
 * ones, before any work.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/cli/command.js';
import { phantomTrainingSet } from '../helpers/datasets.js';
import { modl } from '../helpers/cli.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';
import { relErr } from '../helpers/random.js';
import { readCfl } from '../../src/io/cfl.js';


const COMMANDS = ['demo', 'recon', 'info', 'maps', 'train', 'eval', 'synth', 'train-generator', 'generator-report', 'site-retrain', 'worker', 'jobs'];

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

  it('refuses a value outside an option\'s choices, naming them', async () => {
    const run = await modl('recon', 'x.nii', '--out', '/nonexistent/out', '--mask-type', 'spiral');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/recon: --mask-type: 'spiral' is not one of random, equispaced, poisson/);
    const ensemble = await modl('recon', 'x.nii', '--out', '/nonexistent/out', '--ensemble', '3');
    expect(ensemble.stderr).toMatch(/recon: --ensemble: '3' is not one of 1, 2, 4, 8/);
    const symmetric = await modl('recon', 'x.nii', '--out', '/nonexistent/out', '--symmetries', '6');
    expect(symmetric.stderr).toMatch(/recon: --symmetries: '6' is not one of 1, 2, 4, 8/);
    const precision = await modl('recon', 'x.nii', '--out', '/nonexistent/out', '--precision', 'int4');
    expect(precision.stderr).toMatch(/recon: --precision: 'int4' is not one of float32, int8/);
    const backend = await modl('eval', '--real', '/nonexistent', '--backend', 'tpu');
    expect(backend.stderr).toMatch(/eval: --backend: 'tpu' is not one of auto, node-gpu, node, wasm, cpu/);
  });
});

describe('modl recon and eval --precision', () => {
  it('runs the shipped network with int8 convolutions, says so, and gives nearly the float32 image', async (ctx) => {
    const kspace = shared('kspace', 'brain_8coil_poisson8x');
    const hasOnnxRuntime = await import('onnxruntime-node' as string).then(() => true, () => false);
    if (!HAS_SHARED || !hasOnnxRuntime) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'modl-precision-'));
    try {
      const runs = await Promise.all(['float32', 'int8'].map((p) => modl('recon', '--method', 'modl', '--kspace', `${kspace}.cfl`, '--precision', p, '--out', join(dir, p))));
      runs.forEach((r) => expect(r.status, r.stderr).toBe(0));
      expect(runs[1]!.stdout).toMatch(/denoiser on ONNX Runtime, int8/);
      const [float, int8] = ['float32', 'int8'].map((p) => readCfl(join(dir, p)).array.data);
      // measured 0.27 %; a broken quantisation moves the image by several percent
      expect(relErr(int8!, float!)).toBeLessThan(0.01);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('eval refuses --precision where it runs the training validation (--data, --kspace)', async () => {
    const run = await modl('eval', '--kspace', '/nonexistent.h5', '--masks', 'random:4', '--precision', 'int8');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/eval: --precision applies to --real/);
  });
});

describe('modl train options', () => {
  it('refuses an unknown --loss instead of training with MSE', async () => {
    const run = await modl('train', '--out', '/nonexistent/run', '--data', '/nonexistent/data', '--loss', 'huber');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/train: --loss: 'huber' is not one of mse, l1/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown mask kind in --masks, listing the kinds', async () => {
    const run = await modl('train', '--out', '/nonexistent/run', '--data', '/nonexistent/data', '--masks', 'spiral:4');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--masks: expected KIND\[\+KIND\]:R\[,R\] with kinds random, equispaced, poisson \(got 'spiral:4'\)/);
  });

  it('continues a run folder only with --resume, and only with the settings it was started with', async () => {
    const run = mkdtempSync(join(tmpdir(), 'modl-train-run-'));
    try {
      const fresh = await modl('train', '--out', run, '--data', '/nonexistent/data', '--resume');
      expect(fresh.status).not.toBe(0);
      expect(fresh.stderr).toMatch(/holds no training run to resume \(no latest\.json or run\.json\); leave out --resume to start one/);
      // a run started with --lr 1e-3 --data /nonexistent/data (the defaults otherwise)
      writeFileSync(join(run, 'latest.json'), JSON.stringify({ checkpoint: 'epoch-0001', epoch: 1 }));
      writeFileSync(join(run, 'run.json'), JSON.stringify({
        data: '/nonexistent/data', kspace: null, masks: null, 'val-fraction': 0.1, 'val-slices': 8, stages: 1, init: null, depth: 5, width: 64,
        'cg-iterations': 10, lambda: 0.05, 'batch-size': 2, 'steps-per-epoch': null, lr: 0.001, clip: 1, loss: 'mse', seed: 0,
      }));
      const again = await modl('train', '--out', run, '--data', '/nonexistent/data');
      expect(again.status).not.toBe(0);
      expect(again.stderr).toMatch(/already holds a training run: add --resume to continue it, or choose another --out/);
      const changed = await modl('train', '--out', run, '--data', '/nonexistent/data', '--resume', '--lr', '5e-4', '--width', '32', '--epochs', '20');
      expect(changed.status).not.toBe(0);
      expect(changed.stderr).toMatch(/other settings \(--width: 64 there, 32 now; --lr: 0\.001 there, 0\.0005 now\); only --epochs may change/);
      // the same settings (1e-3 written another way) get past the check, to the missing data
      const same = await modl('train', '--out', run, '--data', '/nonexistent/data', '--resume', '--lr', '1e-3', '--epochs', '20');
      expect(same.stderr).toMatch(/nonexistent\/data.*dataset folder not found/);
      // an annealed run's schedule spans its epochs: those may not change either
      const settings = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(run, 'run.json'), JSON.stringify({ ...settings, 'final-lr': 1e-5, epochs: 10 }));
      const longer = await modl('train', '--out', run, '--data', '/nonexistent/data', '--resume', '--final-lr', '1e-5', '--epochs', '20');
      expect(longer.stderr).toMatch(/other settings \(--epochs: 10 there, 20 now\); nothing may change on --resume of a run with --final-lr/);
      const annealed = await modl('train', '--out', run, '--data', '/nonexistent/data', '--resume', '--final-lr', '1e-5', '--epochs', '10');
      expect(annealed.stderr).toMatch(/nonexistent\/data.*dataset folder not found/);
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  });

  it('--symmetries and --symmetry-plan set how the denoiser averages over symmetries, recorded in the checkpoint, and may not change on --resume', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'modl-train-sym-'));
    try {
      const bad = await modl('train', '--out', join(tmp, 'x'), '--data', '/nonexistent/data', '--symmetries', '3');
      expect(bad.stderr).toMatch(/train: --symmetries: '3' is not one of 1, 2, 4, 8/);
      const data = join(tmp, 'data');
      await phantomTrainingSet(data, { count: 4, size: 24, shardSize: 2 });
      const run = join(tmp, 'run');
      const args = ['train', '--data', data, '--out', run, '--epochs', '1', '--steps-per-epoch', '1', '--batch-size', '1', '--width', '8', '--depth', '3',
        '--val-fraction', '0.5', '--val-slices', '1', '--backend', 'cpu', '--stages', '2'];
      const badPlan = await modl(...args, '--symmetry-plan', 'rotated');
      expect(badPlan.stderr).toMatch(/train: --symmetry-plan: 'rotated' is not one of fixed, cycled/);
      const trained = await modl(...args, '--symmetries', '2', '--symmetry-plan', 'cycled');
      expect(trained.status, trained.stderr).toBe(0);
      const saved = JSON.parse(readFileSync(join(run, 'epoch-0001', 'model.json'), 'utf8')) as { config: { denoiser: object } };
      expect(saved.config.denoiser).toMatchObject({ symmetries: 2, symmetryPlan: 'cycled' });
      const changed = await modl(...args, '--resume', '--symmetries', '4', '--symmetry-plan', 'fixed', '--epochs', '2');
      expect(changed.status).not.toBe(0);
      expect(changed.stderr).toMatch(/--symmetries: 2 there, 4 now; --symmetry-plan: cycled there, fixed now/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
