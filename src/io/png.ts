/**
 * PNG previews of magnitude images (pngjs), windowed to 8-bit grey.
 *
 * The default window spans the 0.5–99.5 percentiles, so a few bright outliers
 * (fat, vessels, a k-space spike) do not turn the image grey. Several images can
 * be tiled side by side in one PNG with a label above each (ground truth, each
 * method, error maps): pass the same `window` to tiles that must be comparable.
 */
import pngjs from 'pngjs';
import { fileError, ModlError } from '../util/errors.js';
import { readRegularFile, writeFileAtomic } from '../util/fs.js';
import { checkAllocation, percentiles } from './volume.js';

const { PNG } = pngjs;

export interface WindowOptions {
  /** Explicit [black, white] values; overrides `percentiles`. */
  window?: [number, number];
  /** Percentiles (0–100) mapped to black and white; default [0.5, 99.5]. */
  percentiles?: [number, number];
}

/** The [black, white] window of an image at the given percentiles (default 0.5–99.5 %). */
export function percentileWindow(data: ArrayLike<number>, pct: [number, number] = [0.5, 99.5]): [number, number] {
  const [lo, hi] = percentiles(data, pct) as [number, number];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** Maps values to 0..255 through a window; NaN becomes 0. */
export function windowToBytes(data: ArrayLike<number>, opts: WindowOptions = {}): { bytes: Uint8Array; window: [number, number] } {
  const window = opts.window ?? percentileWindow(data, opts.percentiles);
  const [lo, hi] = window;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = (data[i]! - lo) * scale;
    bytes[i] = v > 0 ? (v < 255 ? Math.round(v) : 255) : 0;
  }
  return { bytes, window };
}

function checkSize(what: string, data: ArrayLike<number>, rows: number, cols: number): void {
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0) || data.length !== rows * cols) {
    throw new ModlError(`${what}: ${data.length} values do not make a ${rows} x ${cols} image`);
  }
}

/** Writes one row-major rows x cols image as an 8-bit grey PNG; returns the window used. */
export function writePng(path: string, magnitude: ArrayLike<number>, rows: number, cols: number, options: WindowOptions & { scale?: number } = {}): [number, number] {
  checkSize(`writePng ${path}`, magnitude, rows, cols);
  const { bytes, window } = windowToBytes(magnitude, options);
  const scale = Math.max(1, Math.round(options.scale ?? 1));
  const canvas = new Canvas(rows * scale, cols * scale);
  canvas.blit(bytes, rows, cols, 0, 0, scale);
  canvas.write(path);
  return window;
}

export interface Tile extends WindowOptions {
  data: ArrayLike<number>;
  rows: number;
  cols: number;
  /** Drawn above the image (A–Z, 0–9 and . - _ : / % ( ) = + , ; lower case is shown upper case). */
  label?: string;
}

/** Writes images side by side (labels above, `gap` pixels apart); returns each tile's window. */
export function writePngTiles(path: string, tiles: Tile[], options: { gap?: number; scale?: number } = {}): [number, number][] {
  if (tiles.length === 0) throw new ModlError(`writePngTiles ${path}: no images`);
  tiles.forEach((t, i) => checkSize(`writePngTiles ${path} (image ${i + 1})`, t.data, t.rows, t.cols));
  const scale = Math.max(1, Math.round(options.scale ?? 1));
  const gap = options.gap ?? 4;
  const maxRows = Math.max(...tiles.map((t) => t.rows)) * scale;
  const text = Math.max(1, Math.floor(Math.min(...tiles.map((t) => t.cols * scale)) / 128));
  const labelHeight = tiles.some((t) => t.label) ? 9 * text + 4 : 0;
  const width = tiles.reduce((w, t) => w + t.cols * scale, 0) + gap * (tiles.length - 1);
  const canvas = new Canvas(labelHeight + maxRows, width);
  const windows: [number, number][] = [];
  let x = 0;
  for (const t of tiles) {
    const { bytes, window } = windowToBytes(t.data, t);
    windows.push(window);
    canvas.blit(bytes, t.rows, t.cols, labelHeight, x, scale);
    if (t.label) canvas.text(t.label, 2 * text, x + 2 * text, text, t.cols * scale - 2 * text);
    x += t.cols * scale + gap;
  }
  canvas.write(path);
  return windows;
}

/** Reads a PNG as grey values 0..255 (RGB averaged), row-major. */
export function readPng(path: string): { data: Float32Array; rows: number; cols: number } {
  const bytes = readRegularFile(path);
  // IHDR (width, height) comes first: the decoder's RGBA buffer and ours are sized before decoding
  if (bytes.length >= 24 && bytes.toString('latin1', 12, 16) === 'IHDR') {
    checkAllocation(path, 2 * bytes.readUInt32BE(16) * bytes.readUInt32BE(20), 'PNG image');
  }
  let png: InstanceType<typeof PNG>;
  try {
    png = PNG.sync.read(bytes);
  } catch (e) {
    throw fileError(path, `not a readable PNG (${e instanceof Error ? e.message : String(e)})`);
  }
  const data = new Float32Array(png.width * png.height);
  for (let i = 0; i < data.length; i++) data[i] = (png.data[4 * i]! + png.data[4 * i + 1]! + png.data[4 * i + 2]!) / 3;
  return { data, rows: png.height, cols: png.width };
}

/** An 8-bit grey image being assembled, written as a grey PNG by pngjs. */
class Canvas {
  readonly grey: Uint8Array;
  constructor(
    readonly rows: number,
    readonly cols: number,
  ) {
    if (rows * cols > 2 ** 28) throw new ModlError(`PNG of ${rows} x ${cols} pixels is too large`);
    this.grey = new Uint8Array(rows * cols);
  }

  blit(bytes: Uint8Array, rows: number, cols: number, top: number, left: number, scale: number): void {
    for (let r = 0; r < rows * scale; r++) {
      const src = Math.floor(r / scale) * cols;
      const dst = (top + r) * this.cols + left;
      for (let c = 0; c < cols * scale; c++) this.grey[dst + c] = bytes[src + Math.floor(c / scale)]!;
    }
  }

  text(label: string, top: number, left: number, size: number, maxWidth: number): void {
    let x = left;
    for (const ch of label.toUpperCase()) {
      if (x + 5 * size > left + maxWidth) break;
      const glyph = FONT[ch];
      if (glyph) {
        for (let gy = 0; gy < 7; gy++) {
          const bits = parseInt(glyph.slice(2 * gy, 2 * gy + 2), 16);
          for (let gx = 0; gx < 5; gx++) {
            if (!(bits & (16 >> gx))) continue;
            for (let dy = 0; dy < size; dy++) {
              const row = top + gy * size + dy;
              this.grey.fill(255, row * this.cols + x + gx * size, row * this.cols + x + (gx + 1) * size);
            }
          }
        }
      }
      x += 6 * size;
    }
  }

  write(path: string): void {
    // an 8-bit grey PNG straight from the grey bytes: a third of RGBA's size, and written in half its time
    const png = new PNG({ width: this.cols, height: this.rows });
    png.data = Buffer.from(this.grey.buffer, this.grey.byteOffset, this.grey.byteLength);
    writeFileAtomic(path, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
  }
}

/** A 5 x 7 pixel font: 7 rows per glyph, two hex digits each, bit 4 = leftmost column (also used by generative/plot.ts). */
export const FONT: Record<string, string> = {
  A: '0E11111F111111', B: '1E11111E11111E', C: '0E11101010110E', D: '1E11111111111E', E: '1F10101E10101F',
  F: '1F10101E101010', G: '0E11101711110F', H: '1111111F111111', I: '0E04040404040E', J: '0702020202120C',
  K: '11121418141211', L: '1010101010101F', M: '111B1515111111', N: '11111915131111', O: '0E11111111110E',
  P: '1E11111E101010', Q: '0E11111115120D', R: '1E11111E141211', S: '0F10100E01011E', T: '1F040404040404',
  U: '1111111111110E', V: '11111111110A04', W: '1111111515150A', X: '11110A040A1111', Y: '1111110A040404',
  Z: '1F01020408101F', '0': '0E11131519110E', '1': '040C040404040E', '2': '0E11010204081F', '3': '1F02040201110E',
  '4': '02060A121F0202', '5': '1F101E0101110E', '6': '0608101E11110E', '7': '1F010204080808', '8': '0E11110E11110E',
  '9': '0E11110F01020C', '.': '00000000000C0C', '-': '0000001F000000', _: '0000000000001F', ':': '000C0C000C0C00',
  '/': '00010204081000', '%': '18190204081303', '(': '02040808080402', ')': '08040202020408', '=': '00001F001F0000',
  '+': '0004041F040400', ',': '000000000C0408', ' ': '00000000000000', '^': '040A1100000000', '|': '04040404040404',
};
