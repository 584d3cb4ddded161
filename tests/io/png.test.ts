/** PNG previews: windowing, tiling with labels, and reading back. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { percentileWindow, readPng, windowToBytes, writePng, writePngTiles } from '../../src/io/png.js';
import { ModlError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'modl-png-'));
// A 20 x 30 ramp 0..599 with one huge outlier that must not set the window.
const ramp = Float32Array.from({ length: 600 }, (_, i) => i);
ramp[599] = 1e6;

describe('PNG', () => {
  it('windows at the 0.5-99.5 percentiles by default, so an outlier does not grey the image', () => {
    const [lo, hi] = percentileWindow(ramp);
    expect(lo).toBeCloseTo(0.005 * 599, 6);
    expect(hi).toBeLessThan(600);
    const { bytes } = windowToBytes(ramp);
    expect(bytes[0]).toBe(0);
    expect(bytes[300]).toBeGreaterThan(120);
    expect(bytes[300]).toBeLessThan(135);
    expect(bytes[598]).toBe(255);
    for (let i = 1; i < 599; i++) expect(bytes[i]!).toBeGreaterThanOrEqual(bytes[i - 1]!);
  });

  it('writes and reads back one image, with an explicit window', () => {
    const path = join(dir, 'ramp.png');
    expect(writePng(path, ramp, 20, 30, { window: [0, 599] })).toEqual([0, 599]);
    const back = readPng(path);
    expect([back.rows, back.cols]).toEqual([20, 30]);
    expect(back.data[0]).toBe(0);
    expect(back.data[299]).toBe(Math.round((299 * 255) / 599));
    expect(back.data[599]).toBe(255);
    writePng(join(dir, 'x3.png'), ramp, 20, 30, { scale: 3 });
    expect(readPng(join(dir, 'x3.png')).cols).toBe(90);
  });

  it('tiles images side by side with labels above and a window per tile', () => {
    const path = join(dir, 'row.png');
    const a = new Float32Array(64 * 64).fill(1);
    const b = Float32Array.from({ length: 32 * 48 }, (_, i) => i % 48);
    const windows = writePngTiles(path, [
      { data: a, rows: 64, cols: 64, label: 'Ground truth', window: [0, 2] },
      { data: b, rows: 32, cols: 48, label: 'Error x10' },
    ], { gap: 4 });
    expect(windows[0]).toEqual([0, 2]);
    const png = readPng(path);
    expect(png.cols).toBe(64 + 4 + 48);
    const labelHeight = png.rows - 64;
    expect(labelHeight).toBeGreaterThan(7);
    // The label strip holds white text pixels over the first tile; the tile itself is mid-grey.
    const strip = png.data.subarray(0, labelHeight * png.cols);
    expect(strip.some((v) => v === 255)).toBe(true);
    expect(png.data[(labelHeight + 10) * png.cols + 10]).toBe(128);
    // Without labels there is no strip.
    writePngTiles(join(dir, 'nolabel.png'), [{ data: a, rows: 64, cols: 64 }]);
    expect(readPng(join(dir, 'nolabel.png')).rows).toBe(64);
  });

  it('rejects mismatched sizes and unreadable files', () => {
    expect(() => writePng(join(dir, 'bad.png'), ramp, 10, 10)).toThrow(ModlError);
    expect(() => readPng(join(dir, 'missing.png'))).toThrow(/missing\.png/);
  });
});
