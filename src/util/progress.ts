/**
 * A small progress bar for long runs (dataset synthesis, training epochs):
 *
 *   synth [###########---------]  552/1000  11.8/s  ETA 38s  loss 0.012
 *
 * On a terminal it redraws one line in place (at most ~10 times a second); on
 * a pipe or a log file it prints a plain line every `logEverySeconds` instead,
 * so logs stay readable. The rate counts only the work done in this session,
 * which keeps the ETA honest when a run resumes with part of the work done.
 */
import type { WriteStream } from 'node:tty';

export interface ProgressOptions {
  label?: string;
  /** Default: process.stderr. */
  stream?: NodeJS.WritableStream;
  /** Bar width in characters (default 24). */
  width?: number;
  /** Items already done before this session (resumed runs). */
  initial?: number;
  /** Non-terminal output: seconds between log lines (default 10). */
  logEverySeconds?: number;
  /** Unit shown after the rate (default '/s'). */
  unit?: string;
}

export class ProgressBar {
  private done: number;
  private readonly initial: number;
  private readonly started = performance.now();
  private lastDraw = -Infinity;
  private lastDrawnDone = -1;
  private status = '';
  private finished = false;
  private readonly stream: NodeJS.WritableStream;
  private readonly tty: boolean;

  constructor(readonly total: number, private readonly opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = (this.stream as WriteStream).isTTY === true;
    this.initial = this.done = opts.initial ?? 0;
  }

  /** Marks `n` more items done. */
  tick(n = 1): void {
    this.update(this.done + n);
  }

  /** Sets the number of items done. */
  update(done: number): void {
    this.done = Math.min(done, this.total);
    this.draw(false);
  }

  /** A short free-form status shown at the end of the line (e.g. the current loss). */
  setStatus(text: string): void {
    this.status = text;
    this.draw(false);
  }

  /** Items per second in this session. */
  rate(): number {
    const seconds = (performance.now() - this.started) / 1000;
    return seconds > 0 ? (this.done - this.initial) / seconds : 0;
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (this.finished) return;
    this.draw(true);
    this.finished = true;
    if (this.tty) this.stream.write('\n');
  }

  /** The line as it is drawn now (without cursor control). */
  render(): string {
    const width = this.opts.width ?? 24;
    const frac = this.total > 0 ? this.done / this.total : 1;
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    const digits = String(this.total).length;
    const rate = this.rate();
    const eta = rate > 0 && this.done < this.total ? `ETA ${formatDuration((this.total - this.done) / rate)}` : `${formatDuration((performance.now() - this.started) / 1000)}`;
    const parts = [
      this.opts.label ?? '',
      bar,
      `${String(this.done).padStart(digits)}/${this.total}`,
      `${rate.toFixed(rate < 10 ? 2 : 1)}${this.opts.unit ?? '/s'}`,
      eta,
      this.status,
    ];
    return parts.filter((p) => p !== '').join('  ');
  }

  private draw(force: boolean): void {
    if (this.finished) return;
    const now = performance.now();
    const every = this.tty ? 100 : 1000 * (this.opts.logEverySeconds ?? 10);
    const justEnded = this.done >= this.total && this.lastDrawnDone !== this.done;
    if (!force && !justEnded && now - this.lastDraw < every) return;
    // a log gets no repeated line for the same count (e.g. the last item, then finish())
    if (!this.tty && force && this.lastDrawnDone === this.done) return;
    const line = this.render();
    this.lastDraw = now;
    this.lastDrawnDone = this.done;
    if (this.tty) this.stream.write(`\r${line}\x1b[K`);
    else this.stream.write(`${line}\n`);
  }
}

/** 75 → "1m15s", 4000 → "1h06m", 8.3 → "8s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
