import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ModlError } from '../util/errors.js';

/**
 * One option of a command. A command declares its options once, in a table of
 * these: the table is what parseArgs reads and what `--help` prints.
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
  /** The value's name in the help (string options), e.g. 'DIR'. */
  arg?: string;
  /** What the option does; more lines after '\n'. */
  help: string;
  /** The only values accepted (others are refused, naming these). */
  choices?: readonly string[];
}

export type OptionTable = Record<string, OptionSpec>;

export type OptionValues<O extends OptionTable> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined;
};

const HELP_COLUMN = 22;

/** The options part of a command's --help, one entry per option of the table, in its order. */
export function optionsHelp(options: OptionTable): string {
  return Object.entries(options).map(([name, o]) => {
    const head = `  --${name}${o.type === 'string' ? ` ${o.arg ?? 'X'}` : ''}`;
    const lines = o.help.split('\n');
    if (o.choices && !o.help.includes(o.choices[0]!)) lines[lines.length - 1] += ` (${o.choices.join(', ')})`;
    if (typeof o.default === 'string') lines[lines.length - 1] += ` (default ${o.default})`;
    const first = head.length < HELP_COLUMN ? head.padEnd(HELP_COLUMN) + lines[0] : `${head}\n${' '.repeat(HELP_COLUMN)}${lines[0]}`;
    return [first, ...lines.slice(1).map((l) => ' '.repeat(HELP_COLUMN) + l)].join('\n');
  }).join('\n');
}

/** A command's full --help: its text, then every option of its table. */
export function commandUsage(text: string, options: OptionTable): string {
  return `${text}\n\noptions:\n${optionsHelp(options)}`;
}

/** node:util parseArgs (strict) on the table, with errors and values outside `choices` turned into ModlErrors that name the command. */
export function parseCommandArgs<O extends OptionTable>(
  command: string, argv: string[], options: O, allowPositionals = false,
): { values: OptionValues<O>; positionals: string[] } {
  const config = Object.fromEntries(Object.entries(options).map(([name, { type, short, default: fallback }]) => [name, {
    type, ...(short === undefined ? {} : { short }), ...(fallback === undefined ? {} : { default: fallback }),
  }]));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: config as NonNullable<ParseArgsConfig['options']>, allowPositionals, strict: true });
  } catch (e) {
    throw new ModlError(`${command}: ${(e as Error).message} (see modl ${command} --help)`);
  }
  for (const [name, o] of Object.entries(options)) {
    const v = (parsed.values as Record<string, unknown>)[name];
    if (o.choices && typeof v === 'string' && !o.choices.includes(v)) {
      throw new ModlError(`${command}: --${name}: '${v}' is not one of ${o.choices.join(', ')}`);
    }
  }
  return { values: parsed.values as unknown as OptionValues<O>, positionals: parsed.positionals };
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
