import type { OptionTable } from './args.js';

/** One `modl <name>` sub-command. Each lives in its own file under cli/commands. */
export interface Command {
  name: string;
  summary: string;
  /** Its options, declared once: parsed from the command line and listed in `usage`. */
  options: OptionTable;
  /** Full help text, printed by `modl <name> --help` (commandUsage of the text and the table). */
  usage: string;
  run(argv: string[]): Promise<void>;
}
