import { parseArgs } from 'node:util';
import { ModlError } from '../util/errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
}

export type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined;
};

/** node:util parseArgs (strict) with errors turned into ModlErrors that name the command. */
export function parseCommandArgs<O extends Record<string, OptionSpec>>(
  command: string, argv: string[], options: O, allowPositionals = false,
): { values: OptionValues<O>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals, strict: true });
    return { values: values as unknown as OptionValues<O>, positionals };
  } catch (e) {
    throw new ModlError(`${command}: ${(e as Error).message} (see modl ${command} --help)`);
  }
}

/** Parses a numeric option, naming it in the error. */
export function numberOption(name: string, value: string | undefined, fallback: number, check?: (v: number) => boolean): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (!Number.isFinite(v) || (check && !check(v))) throw new ModlError(`--${name}: invalid value '${value}'`);
  return v;
}

/** Parses an option with a fixed set of values, naming it and them in the error. */
export function choiceOption<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new ModlError(`--${name}: '${value}' is not ${choices.join(' or ')}`);
  return value as T;
}

export function requireOption(command: string, name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new ModlError(`${command}: --${name} is required (see modl ${command} --help)`);
  return value;
}
