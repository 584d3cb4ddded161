/**
 * Jobs on a real queue (pipelines/queue.ts): a local Redis on a free loopback
 * port, two `modl worker`s, 12 synth shards and 4 recon jobs, one worker
 * killed mid-job. Every output must exist once, equal a local run's, and no
 * partial file may remain. Skipped when `redis-server` is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../src/synth/dataset.js';
import { readManifest } from '../../src/synth/manifest.js';
import { parseQueueUrl, queueSummary } from '../../pipelines/queue.js';
import { modl } from '../helpers/cli.js';
import { expectSameDatasets } from '../helpers/datasets.js';

const HAS_REDIS = spawnSync('redis-server', ['--version']).status === 0;
const cli = ['--import', 'tsx', 'src/cli/main.ts'];

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Every file under dir (relative paths), hidden ones included. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe.skipIf(!HAS_REDIS)('modl worker / submit / jobs on a BullMQ queue (Redis)', () => {
  const root = mkdtempSync(join(tmpdir(), 'modl-queue-'));
  let redis: ChildProcess;
  let queue = '';
  const workers: ChildProcess[] = [];
  const synthArgs = ['--count', '24', '--shard-size', '2', '--size', '24', '--coils', '2-4', '--accel', '4', '--seed', '11', '--quiet'];
  const studies = [0, 3, 6, 9].map((i) => join(root, 'local', 'data', `shard-${String(i).padStart(5, '0')}.h5`));
  // the first study also runs MoDL: seconds of work, so the worker killed when it starts it dies mid-job
  const reconArgs = (i: number) => ['--methods', i === 0 ? 'zero-filled,cgsense,modl' : 'zero-filled,cgsense', '--no-images'];

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    queue = `redis://127.0.0.1:${port}/modl-test`;
    for (let i = 0; i < 50 && spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG'; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // the local runs the queued ones must equal (the shards double as the recon jobs' studies)
    expect((await modl('synth', '--out', join(root, 'local'), '--workers', '0', ...synthArgs)).status).toBe(0);
    for (const [i, s] of studies.entries()) expect((await modl('recon', s, '--out', join(root, 'recon-local', `s${i}`), ...reconArgs(i))).status).toBe(0);
  }, 300_000);

  afterAll(() => {
    for (const w of workers) w.kill('SIGKILL');
    redis?.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('runs 12 shards and 4 studies on two workers, one killed mid-job, with every output once and as a local run makes it', async () => {
    const submitSynth = () => modl('submit', 'synth', '--queue', queue, '--out', join(root, 'queued'), ...synthArgs);
    const first = await submitSynth();
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/12 shard jobs and the manifest job/);
    expect((await submitSynth()).status).toBe(0); // the same dataset again: the same 13 jobs
    for (const [i, s] of studies.entries()) {
      for (let twice = 0; twice < 2; twice++) expect((await modl('submit', 'recon', s, '--out', join(root, 'recon-queued', `s${i}`), '--queue', queue, ...reconArgs(i))).status).toBe(0);
    }
    expect(JSON.parse((await modl('jobs', '--queue', queue, '--json')).stdout).counts).toMatchObject({ waiting: 16, 'waiting-children': 1, completed: 0 });
    const counts = async () => (await queueSummary(parseQueueUrl(queue))).counts;

    const start = () => {
      const w = spawn(process.execPath, [...cli, 'worker', '--queue', queue, '--lock-seconds', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
      workers.push(w);
      return w;
    };
    const victim = start();
    // kill it as soon as it has started its second job: mid-job, with one job already done
    const orphans: number[] = []; // the job processes the killed worker had started
    // kill it as soon as it starts the first study (after the 12 shards and the manifest): mid-job
    const killedIn = await new Promise<string>((done) => {
      victim.stdout!.on('data', (chunk: Buffer) => {
        const m = /: (recon-\S+): started/.exec(chunk.toString());
        if (m) {
          orphans.push(...(spawnSync('pgrep', ['-P', String(victim.pid)], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean).map(Number));
          victim.kill('SIGKILL');
          done(m[1]!);
        }
      });
    });
    const survivor = start();
    let survivorLog = '';
    survivor.stdout!.on('data', (chunk: Buffer) => { survivorLog += chunk.toString(); });
    const deadline = Date.now() + 240_000;
    let c = await counts();
    while (c.completed! < 17 && c.failed === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      c = await counts();
    }
    expect(c).toMatchObject({ completed: 17, failed: 0, active: 0, waiting: 0 });
    // the job the killed worker had in hand was done by the other one (its lock lapsed)
    expect(survivorLog).toContain(`${killedIn}: done`);
    // and its job process did not outlive it
    expect(orphans.length).toBeGreaterThan(0);
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    expect(orphans.filter(alive)).toEqual([]);

    // the dataset: 12 shards, no temp files, the local run's content and manifest
    const queued = join(root, 'queued'), local = join(root, 'local');
    expect(files(queued)).toEqual(files(local));
    expect(openDataset(queued).length).toBe(24);
    await expectSameDatasets(queued, local);
    const { createdAt: _c, updatedAt: _u, ...mq } = readManifest(queued)!;
    const { createdAt: _c2, updatedAt: _u2, ...ml } = readManifest(local)!;
    expect(mq).toEqual(ml);

    // the studies: the same files and metrics as the local runs, no temp folder beside them
    expect(readdirSync(join(root, 'recon-queued')).sort()).toEqual(['s0', 's1', 's2', 's3']);
    for (let i = 0; i < 4; i++) {
      const [q, l] = [join(root, 'recon-queued', `s${i}`), join(root, 'recon-local', `s${i}`)];
      expect(files(q)).toEqual(files(l));
      // everything but the wall times
      const metrics = (dir: string) => JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'), (k, v: unknown) => (k === 'seconds' ? undefined : v));
      expect(metrics(q)).toEqual(metrics(l));
      expect(metrics(q).input).toBe(studies[i]);
    }
    expect(existsSync(join(root, 'queued', 'manifest.json'))).toBe(true);
  }, 400_000);

  it('refuses a malformed queue URL and a queue nobody listens on with one line', async () => {
    const bad = await modl('jobs', '--queue', 'http://example/x');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/^modl: error: --queue: .*redis:\/\/HOST:PORT\/NAME/m);
    expect((await modl('submit', 'synth', '--out', join(root, 'x'))).stderr).toMatch(/--queue redis:\/\/HOST:PORT\/NAME is required/);
    const nobody = await modl('jobs', '--queue', 'redis://127.0.0.1:1/x');
    expect(nobody.status).not.toBe(0);
    expect(nobody.stderr.trim()).toBe('modl: error: queue redis://127.0.0.1:1/x: connect ECONNREFUSED 127.0.0.1:1');
  });
});
