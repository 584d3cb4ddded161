/**
 * The memory a job may plan to use: MODL_MEMORY_BUDGET (bytes, or with a K, M
 * or G suffix), by default half of the memory the system has available. Readers
 * and jobs compare what a file's header or a study's size asks for with it
 * before allocating, so a hostile or absurd input ends in a message, not in
 * swapping or the out-of-memory killer.
 */
import { freemem } from 'node:os';
import { fileError, ModlError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function memoryBudget(): number {
  const text = process.env.MODL_MEMORY_BUDGET?.trim();
  if (!text) return Math.floor(freemem() / 2);
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(text);
  if (!m) throw new ModlError(`MODL_MEMORY_BUDGET: '${text}' is not a size (e.g. 8G, 512M or bytes)`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

export const formatBytes = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/**
 * Refuses work that needs about `bytes` of memory when the budget is smaller;
 * `what` says what it is for, `file` (when given) is named first.
 */
export function checkMemory(bytes: number, what: string, file?: string): void {
  const budget = memoryBudget();
  if (bytes > budget) {
    const problem = `${what} needs about ${formatBytes(bytes)} of memory; the budget is ${formatBytes(budget)} (half the available memory, or MODL_MEMORY_BUDGET)`;
    throw file === undefined ? new ModlError(problem) : fileError(file, problem);
  }
}
