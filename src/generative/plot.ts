/**
 * Pictures for the quality report: image mosaics (grey, via src/io/png.ts) and
 * simple line plots drawn into an RGB pixel buffer and written with pngjs:
 * axes, grid lines with tick values, a title and a legend.
 */
import pngjs from 'pngjs';
import { writeFileAtomic } from '../util/fs.js';
import { FONT } from '../io/png.js';

const { PNG } = pngjs;

/** Images (size×size each) in a grid of `cols` columns, `gap` pixels of `gapValue` between them. */
export function mosaic(images: Float32Array[], size: number, cols: number, gap = 2, gapValue = 1): { data: Float32Array; rows: number; cols: number } {
  const rowsOfTiles = Math.ceil(images.length / cols);
  const H = rowsOfTiles * (size + gap) - gap, W = cols * (size + gap) - gap;
  const data = new Float32Array(H * W).fill(gapValue);
  images.forEach((img, k) => {
    const top = Math.floor(k / cols) * (size + gap), left = (k % cols) * (size + gap);
    for (let y = 0; y < size; y++) data.set(img.subarray(y * size, (y + 1) * size), (top + y) * W + left);
  });
  return { data, rows: H, cols: W };
}

export type Rgb = [number, number, number];

export interface Series {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color: Rgb;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Legend corner (default top-right). */
  legend?: 'top-right' | 'top-left' | 'bottom-right';
  /** Axis ranges (default: the data's). */
  xRange?: [number, number];
  yRange?: [number, number];
}

export const COLORS = { generated: [214, 96, 26] as Rgb, real: [32, 96, 200] as Rgb, other: [60, 160, 60] as Rgb };

/** Writes a line plot of the series as a PNG. */
export function linePlot(path: string, series: Series[], o: PlotOptions): void {
  const W = o.width ?? 640, H = o.height ?? 400;
  const canvas = new RgbCanvas(W, H);
  const finite = (a: ArrayLike<number>) => Array.from(a).filter(Number.isFinite);
  const xs = series.flatMap((s) => finite(s.x)), ys = series.flatMap((s) => finite(s.y));
  const [x0, x1] = o.xRange ?? [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = o.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y0 + 1];
  const box = { left: 70, right: W - 20, top: 40, bottom: H - 50 };
  const px = (x: number) => box.left + ((x - x0) / (x1 - x0 || 1)) * (box.right - box.left);
  const py = (y: number) => box.bottom - ((y - y0) / (y1 - y0)) * (box.bottom - box.top);

  for (const t of ticks(x0, x1)) {
    canvas.line(px(t), box.top, px(t), box.bottom, [225, 225, 225], 1);
    canvas.text(fmt(t), px(t) - 3 * fmt(t).length, box.bottom + 8, [60, 60, 60]);
  }
  for (const t of ticks(y0, y1)) {
    canvas.line(box.left, py(t), box.right, py(t), [225, 225, 225], 1);
    canvas.text(fmt(t), box.left - 8 - 6 * fmt(t).length, py(t) - 3, [60, 60, 60]);
  }
  canvas.rect(box.left, box.top, box.right, box.bottom, [0, 0, 0]);
  for (const s of series) {
    let prev: [number, number] | null = null;
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i]!, y = s.y[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) { prev = null; continue; }
      const p: [number, number] = [px(x), py(Math.min(y1, Math.max(y0, y)))];
      if (prev) canvas.line(prev[0], prev[1], p[0], p[1], s.color, 2);
      prev = p;
    }
  }
  canvas.text(o.title, box.left, 6, [0, 0, 0], 2);
  canvas.text(o.xLabel, (box.left + box.right) / 2 - 3 * o.xLabel.length, H - 20, [0, 0, 0]);
  canvas.text(o.yLabel, 4, box.top - 12, [0, 0, 0]);
  const legendWidth = 24 + 6 * Math.max(...series.map((t) => t.label.length));
  const legendLeft = o.legend === 'top-left' ? box.left + 12 : box.right - 12 - legendWidth;
  const legendTop = o.legend === 'bottom-right' ? box.bottom - 10 - 14 * series.length : box.top + 10;
  series.forEach((s, i) => {
    const y = legendTop + 14 * i, x = legendLeft;
    canvas.line(x, y + 3, x + 18, y + 3, s.color, 3);
    canvas.text(s.label, x + 24, y, [0, 0, 0]);
  });
  canvas.write(path);
}

/** About five round tick values spanning [a, b]. */
export function ticks(a: number, b: number): number[] {
  const span = b - a;
  if (!(span > 0)) return [a];
  const raw = span / 5, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= 6)!;
  const out: number[] = [];
  for (let t = Math.ceil(a / step) * step; t <= b + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

class RgbCanvas {
  private readonly png: InstanceType<typeof PNG>;
  constructor(readonly width: number, readonly height: number) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }

  dot(x: number, y: number, c: Rgb, thick: number): void {
    const r = Math.floor((thick - 1) / 2);
    for (let dy = -r; dy < thick - r; dy++) {
      for (let dx = -r; dx < thick - r; dx++) {
        const xx = Math.round(x) + dx, yy = Math.round(y) + dy;
        if (xx < 0 || yy < 0 || xx >= this.width || yy >= this.height) continue;
        const i = 4 * (yy * this.width + xx);
        this.png.data[i] = c[0]; this.png.data[i + 1] = c[1]; this.png.data[i + 2] = c[2];
      }
    }
  }

  line(xa: number, ya: number, xb: number, yb: number, c: Rgb, thick: number): void {
    const n = Math.max(1, Math.ceil(Math.hypot(xb - xa, yb - ya)));
    for (let k = 0; k <= n; k++) this.dot(xa + ((xb - xa) * k) / n, ya + ((yb - ya) * k) / n, c, thick);
  }

  rect(l: number, t: number, r: number, b: number, c: Rgb): void {
    this.line(l, t, r, t, c, 1); this.line(r, t, r, b, c, 1); this.line(r, b, l, b, c, 1); this.line(l, b, l, t, c, 1);
  }

  /** 5×7 glyphs, `scale` pixels per glyph pixel, 6·scale per character. */
  text(s: string, x: number, y: number, c: Rgb, scale = 1): void {
    [...s.toUpperCase()].forEach((ch, k) => {
      const g = FONT[ch];
      if (!g) return;
      for (let gy = 0; gy < 7; gy++) {
        const bits = parseInt(g.slice(2 * gy, 2 * gy + 2), 16);
        for (let gx = 0; gx < 5; gx++) if (bits & (16 >> gx)) this.dot(x + (6 * k + gx) * scale, y + gy * scale, c, scale);
      }
    });
  }

  write(path: string): void {
    writeFileAtomic(path, PNG.sync.write(this.png));
  }
}
