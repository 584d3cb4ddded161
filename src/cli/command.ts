/** One `modl <name>` sub-command. Each lives in its own file under cli/commands. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text, printed by `modl <name> --help`. */
  usage: string;
  run(argv: string[]): Promise<void>;
}
