/**
 * SIGKILL at a random moment, then the same command again (with --resume where
 * a training run continues): no partial file under a final name, no temporary
 * left, and outputs identical to an uninterrupted run. At small size, one
 * command per test: synth, train, train-generator and recon.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNiftiArray } from '../../src/io/nifti.js';
import { modl, startModl } from '../helpers/cli.js';
import { expectSameDatasets } from '../helpers/datasets.js';
import { rng } from '../helpers/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-kill-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const random = rng(2026);

/**
 * Runs `modl ARGS` and kills it (SIGKILL) a random 0–`spreadMs` after `ready()`
 * first holds; returns whether the kill landed before the command had ended.
 */
async function killAfter(args: string[], ready: () => boolean, spreadMs: number): Promise<boolean> {
  const { child, result } = startModl(...args);
  let ended = false;
  void result.then(() => { ended = true; });
  while (!ended && !ready()) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, random() * spreadMs));
  const killed = !ended;
  child.kill('SIGKILL');
  const run = await result;
  if (killed) expect(run.signal).toBe('SIGKILL');
  return killed;
}

/** Every file under `dir`, relative, temporaries (dot-names) included. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

const noTemporaries = (dir: string) => expect(tree(dir).filter((f) => f.split('/').some((p) => p.startsWith('.')))).toEqual([]);

/** A run folder's newest checkpoint weights. */
function latestWeights(run: string): Buffer {
  const { checkpoint } = JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8')) as { checkpoint: string };
  return readFileSync(join(run, checkpoint, 'weights.bin'));
}

/**
 * A training run killed `spreadMs` at most after its folder holds `marker`, then
 * resumed: the same final weights as the run `name`-ref never killed, no temporaries.
 */
async function expectResumedAsUninterrupted(name: string, args: (out: string) => string[], marker: string, spreadMs: number): Promise<void> {
  const reference = join(tmp, `${name}-ref`);
  const ref = await modl(...args(reference));
  expect(ref.status, ref.stderr).toBe(0);
  const out = join(tmp, name);
  expect(await killAfter(args(out), () => existsSync(join(out, marker)), spreadMs)).toBe(true);
  const rerun = await modl(...args(out), '--resume');
  expect(rerun.status, rerun.stderr).toBe(0);
  noTemporaries(out);
  expect(latestWeights(out)).toEqual(latestWeights(reference));
}

describe('killed with SIGKILL and run again: nothing partial, the same outputs', () => {
  it('synth', async () => {
    const args = (out: string) => ['synth', '--out', out, '--count', '60', '--shard-size', '2', '--size', '32', '--coils', '2', '--workers', '0', '--quiet'];
    expect((await modl(...args(join(tmp, 'synth-ref')))).status).toBe(0);
    const out = join(tmp, 'synth');
    const killed = await killAfter(args(out), () => existsSync(join(out, 'data', 'shard-00001.h5')), 300);
    expect(killed).toBe(true);
    expect((await modl(...args(out))).status).toBe(0);
    noTemporaries(out);
    await expectSameDatasets(out, join(tmp, 'synth-ref'));
  });

  it('train (--resume on the rerun)', async () => {
    const data = join(tmp, 'train-data');
    expect((await modl('synth', '--out', data, '--count', '8', '--shard-size', '2', '--size', '32', '--coils', '2', '--workers', '0', '--quiet')).status).toBe(0);
    const args = (out: string) => ['train', '--data', data, '--out', out, '--epochs', '6', '--steps-per-epoch', '2', '--batch-size', '1',
      '--width', '8', '--depth', '3', '--val-fraction', '0.25', '--val-slices', '1', '--backend', 'cpu'];
    await expectResumedAsUninterrupted('train', args, 'epoch-0002', 300);
  });

  it('train-generator (--resume on the rerun)', async () => {
    const args = (out: string) => ['train-generator', '--model', 'vae', '--out', out, '--phantom', '8', '--size', '32', '--latent', '8',
      '--base-channels', '4', '--max-channels', '8', '--epochs', '3', '--batch-size', '8', '--report-samples', '8', '--backend', 'cpu'];
    await expectResumedAsUninterrupted('gen', args, 'epoch-0001', 800);
  });

  it('recon of a study (the same command: the killed run left no folder)', async () => {
    const image = join(tmp, 'img.nii');
    const r = rng(5);
    writeNiftiArray(image, Float32Array.from({ length: 64 * 64 * 16 }, () => r()), [64, 64, 16], false);
    const args = (out: string) => ['recon', image, '--simulate-accel', '2', '--methods', 'zero-filled,cgsense', '--out', out];
    expect((await modl(...args(join(tmp, 'recon-ref')))).status).toBe(0);
    const out = join(tmp, 'recon');
    const killed = await killAfter(args(out), () => existsSync(tmp) && readdirSync(tmp).some((f) => f.startsWith('.recon.')), 300);
    expect(killed).toBe(true);
    expect(existsSync(out)).toBe(false); // written under a temporary name until complete
    expect((await modl(...args(out))).status).toBe(0);
    noTemporaries(tmp);
    for (const f of ['zero-filled.nii.gz', 'cgsense.nii.gz']) expect(readFileSync(join(out, f)), f).toEqual(readFileSync(join(tmp, 'recon-ref', f)));
    const metrics = (dir: string) => {
      const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).metrics as Record<string, { seconds?: number }>;
      for (const v of Object.values(m)) delete v.seconds;
      return m;
    };
    expect(metrics(out)).toEqual(metrics(join(tmp, 'recon-ref')));
  });
});
