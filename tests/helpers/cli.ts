import { spawn, type ChildProcess } from 'node:child_process';

export interface CliResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** A run past this is killed (signal SIGKILL): a hang fails its test instead of the suite. */
const LIMIT_MS = 180_000;

/**
 * `modl ARGS` from the sources, run without blocking this test worker's event loop
 * (a long spawnSync starves vitest's RPC on a busy machine and fails a passing run).
 */
export function modl(...args: string[]): Promise<CliResult> {
  return startModl(...args).result;
}

/** `modl ARGS` started: the process (to kill it), and its result when it has ended. */
export function startModl(...args: string[]): { child: ChildProcess; result: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const result = new Promise<CliResult>((done) => {
    let stdout = '', stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr });
    });
  });
  return { child, result };
}
