import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import synth, { parseContrasts, parseRange, parseSize } from '../../src/cli/commands/synth.js';
import { openDataset } from '../../src/synth/dataset.js';
import { formatDuration, ProgressBar } from '../../src/util/progress.js';

const tmp = mkdtempSync(join(tmpdir(), 'modl-synth-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('modl synth command line', () => {
  it('parses sizes, ranges and contrast lists', () => {
    expect(parseSize('256')).toEqual([256, 256]);
    expect(parseSize('320x256')).toEqual([320, 256]);
    expect(() => parseSize('big')).toThrow(/--size/);
    expect(parseRange('coils', '8')).toEqual([8, 8]);
    expect(parseRange('coils', '4-12')).toEqual([4, 12]);
    expect(parseRange('snr', 'inf', true)).toEqual([Infinity, Infinity]);
    expect(() => parseRange('coils', '12-4')).toThrow(/backwards/);
    expect(parseContrasts('t1,se:tr=500,te=15,flair')).toEqual(['t1', 'se:tr=500,te=15', 'flair']);
  });

  it('makes a phantom dataset with the asked coils, accelerations, masks and SNR', async () => {
    const out = join(tmp, 'ds');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await synth.run(['--out', out, '--count', '5', '--size', '40x32', '--coils', '3-5', '--accel', '4,8', '--mask', 'equispaced,poisson',
        '--snr', '25', '--shard-size', '2', '--seed', '9', '--workers', '0', '--quiet', '--field', '1.5', '--contrast', 't2,flair', '--lesions', '0.5']);
      expect(log.mock.calls.flat().join('\n')).toMatch(/5 pairs made .* pairs\/s[\s\S]*peak memory/);
    } finally {
      log.mockRestore();
    }
    const ds = openDataset(out);
    expect(ds.length).toBe(5);
    expect(ds.manifest.parameters).toMatchObject({ count: 5, size: [40, 32], coils: [3, 5], accelerations: [4, 8], masks: ['equispaced', 'poisson'], snrDb: [25, 25], seed: 9 });
    expect(ds.manifest.generator.provenance).toMatchObject({ field: 1.5, lesions: 0.5 });
    for (let i = 0; i < ds.length; i++) {
      const m = ds.meta(i);
      expect([4, 8]).toContain(m.acceleration);
      expect(['equispaced', 'poisson']).toContain(m.mask);
      expect(['t2', 'flair']).toContain(m.source?.contrast);
      expect(m.coils).toBeGreaterThanOrEqual(3);
      expect(m.coils).toBeLessThanOrEqual(5);
    }
  });

  it('names the problem in bad input', async () => {
    await expect(synth.run(['--count', '3'])).rejects.toThrow(/--out is required/);
    await expect(synth.run(['--out', join(tmp, 'x'), '--generator', 'diffusion'])).rejects.toThrow(/unknown --generator 'diffusion' \(available: phantom, images/);
    await expect(synth.run(['--out', join(tmp, 'x'), '--images', join(tmp, 'missing'), '--workers', '0', '--quiet'])).rejects.toThrow(/missing: no such folder/);
    await expect(synth.run(['--out', join(tmp, 'x'), '--generator', 'images', '--images', tmp, '--field', '3'])).rejects.toThrow(/--field is a phantom option/);
    await expect(synth.run(['--out', join(tmp, 'x'), '--mask', 'radial', '--workers', '0'])).rejects.toThrow(/mask kinds \[radial\]/);
    await expect(synth.run(['--out', join(tmp, 'x'), '--size', '8', '--workers', '0'])).rejects.toThrow(/size 8x8/);
    await expect(synth.run(['--out', join(tmp, 'x'), '--contrast', 't1,t9', '--count', '1', '--workers', '0', '--quiet'])).rejects.toThrow(/unknown contrast 't9'/);
  });
});

describe('progress bar', () => {
  function capture(): { stream: Writable; text: () => string } {
    let s = '';
    const stream = new Writable({ write(chunk, _enc, cb) { s += String(chunk); cb(); } });
    return { stream, text: () => s };
  }

  it('logs plain lines (no cursor control) to a non-terminal, with counts, rate and status', () => {
    const { stream, text } = capture();
    const bar = new ProgressBar(10, { label: 'test', stream, logEverySeconds: 3600, width: 10 });
    bar.tick(3);
    bar.setStatus('loss 0.5');
    bar.update(10);
    bar.finish();
    const lines = text().trim().split('\n');
    expect(text()).not.toMatch(/\r|\x1b/);
    expect(lines[0]).toMatch(/^test {2}\[###-------\] {2} 3\/10 {2}[\d.]+\/s {2}ETA/);
    expect(lines.at(-1)).toMatch(/\[##########\] {2}10\/10 .*loss 0\.5$/);
    expect(lines).toHaveLength(2); // first line, and the end once (finish() does not repeat it)
  });

  it('counts the rate from work done in this session only (resumed runs)', () => {
    const bar = new ProgressBar(100, { initial: 60, stream: capture().stream });
    expect(bar.render()).toMatch(/60\/100 {2}0\.00\/s/);
    expect(formatDuration(75)).toBe('1m15s');
    expect(formatDuration(4000)).toBe('1h06m');
    expect(formatDuration(8.3)).toBe('8s');
  });
});
