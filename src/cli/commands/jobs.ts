/** `modl jobs`: the state of a BullMQ queue of modl jobs (pipelines/queue.ts). */
import type { Command } from '../command.js';
import { commandUsage, parseCommandArgs, requireOption } from '../args.js';

const options = {
  queue: { type: 'string', arg: 'URL', help: 'the queue: redis://HOST:PORT/NAME' },
  json: { type: 'boolean', help: 'print the summary as JSON' },
} as const;

const usage = commandUsage(`modl jobs: progress and failures of a job queue

usage: modl jobs --queue redis://HOST:PORT/NAME [--json]`, options);

const jobs: Command = {
  name: 'jobs',
  summary: 'show the jobs of a BullMQ/Redis queue: counts, progress, failures',
  options,
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('jobs', argv, options);
    const { parseQueueUrl, queueSummary } = await import('../../../pipelines/queue.js');
    const s = await queueSummary(parseQueueUrl(requireOption('jobs', 'queue', values.queue)));
    if (values.json) {
      console.log(JSON.stringify(s, null, 2));
      return;
    }
    console.log(Object.entries(s.counts).map(([k, n]) => `${k} ${n}`).join(', '));
    for (const a of s.active) console.log(`active  ${a.id}  ${JSON.stringify(a.progress)}`);
    for (const f of s.failed) console.log(`failed  ${f.id}  after ${f.attempts} attempt(s): ${f.reason}`);
  },
};

export default jobs;
