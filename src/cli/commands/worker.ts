/**
 * `modl worker`: runs the recon and synth jobs queued on a BullMQ queue
 * (pipelines/queue.ts) until interrupted.
 */
import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs, requireOption } from '../args.js';

const options = {
  queue: { type: 'string', arg: 'URL', help: 'the queue: redis://HOST:PORT/NAME' },
  concurrency: { type: 'string', arg: 'N', help: 'jobs at once (default 1; at most the cores and one per GiB of free memory)' },
  'lock-seconds': { type: 'string', arg: 'S', help: `a job's lock without renewal; a dead worker's job is redone by another after
about this long (default 30)` },
} as const;

const usage = commandUsage(`modl worker: run queued reconstruction and synthesis jobs

usage: modl worker --queue redis://HOST:PORT/NAME [--concurrency 1]
  jobs come from modl submit recon|synth … --queue URL; each runs in a child process,
  failed jobs are retried (3 attempts in all), SIGINT/SIGTERM finish the jobs in hand and stop`, options);

const worker: Command = {
  name: 'worker',
  summary: 'run the jobs of a BullMQ/Redis queue (modl submit …)',
  options,
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('worker', argv, options);
    const { parseQueueUrl, startQueueWorker, workerConcurrency } = await import('../../../pipelines/queue.js');
    const address = parseQueueUrl(requireOption('worker', 'queue', values.queue));
    const concurrency = numberOption('concurrency', values.concurrency, 1, (x) => Number.isInteger(x) && x >= 1);
    const lockSeconds = numberOption('lock-seconds', values['lock-seconds'], 30, (x) => x >= 1);
    const log = (line: string) => console.log(`worker ${process.pid}: ${line}`);
    const w = startQueueWorker(address, { concurrency, lockSeconds, log });
    log(`serving ${address.url} (${workerConcurrency(concurrency)} at a time)`);
    await new Promise<void>((done) => {
      const stop = () => { log('stopping after the jobs in hand'); void w.close().then(done); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};

export default worker;
