#!/usr/bin/env node
import '../generative/generators.js';
import { fileSystemMessage, ModlError } from '../util/errors.js';
import type { Command } from './command.js';

/** Sub-commands, loaded lazily so that `modl info` does not pay for tfjs start-up. */
const commands: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./commands/demo.js')).default,
  recon: async () => (await import('./commands/recon.js')).default,
  info: async () => (await import('./commands/info.js')).default,
  maps: async () => (await import('./commands/maps.js')).default,
  train: async () => (await import('./commands/train.js')).default,
  eval: async () => (await import('./commands/eval.js')).default,
  synth: async () => (await import('./commands/synth.js')).default,
  'train-generator': async () => (await import('./commands/train-generator.js')).default,
  'generator-report': async () => (await import('./commands/generator-report.js')).default,
  'site-retrain': async () => (await import('./commands/site-retrain.js')).default,
  worker: async () => (await import('./commands/worker.js')).default,
  jobs: async () => (await import('./commands/jobs.js')).default,
};

function usage(): string {
  return [
    'modl: model-based deep-learning MRI reconstruction',
    '',
    'usage: modl <command> [options]      (modl <command> --help for details)',
    '',
    'commands:',
    ...Object.keys(commands).map((c) => `  ${c}`),
    `  submit recon|synth …   the same as recon|synth … --queue URL`,
  ].join('\n');
}

/** `modl submit recon|synth ARGS` is `modl recon|synth ARGS`, which needs --queue to enqueue. */
const QUEUEABLE = ['recon', 'synth'];

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'submit') {
    if (!QUEUEABLE.includes(argv[1] ?? '')) throw new ModlError(`submit: which job? modl submit ${QUEUEABLE.join('|')} … --queue redis://HOST:PORT/NAME`);
    const isHelp = argv.includes('--help') || argv.includes('-h');
    if (!isHelp && !argv.some((a) => a === '--queue' || a.startsWith('--queue='))) throw new ModlError(`submit ${argv[1]}: --queue redis://HOST:PORT/NAME is required`);
    argv = argv.slice(1);
  }
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const load = commands[name];
  if (!load) {
    console.error(`modl: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  await cmd.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ModlError || (err instanceof Error && err.name === 'ModlError')) {
      console.error(`modl: error: ${err.message}`);
    } else if (err instanceof TypeError && /parseArgs|option/i.test(String(err.message)) && 'code' in err) {
      console.error(`modl: ${err.message}`);
    } else if (fileSystemMessage(err)) {
      console.error(`modl: error: ${fileSystemMessage(err)}`);
    } else {
      console.error(err);
    }
    process.exitCode = 1;
  },
);
