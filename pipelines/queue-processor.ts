/**
 * The job processor BullMQ runs in a child process for `modl worker`
 * (pipelines/queue.ts): it runs one queued job and returns its result.
 */
import type { SandboxedJob } from 'bullmq';
import '../src/generative/generators.js';
import { initBackend } from '../src/backend/index.js';
import { runQueuedJob, type QueuedJob } from './queue.js';

// A worker that dies takes its jobs with it (their locks lapse and other workers redo them): this
// child must not outlive it. Its IPC channel closing says so, unless that happened before this
// module was loaded; being handed to another parent says so too.
const parent = process.ppid;
const orphaned = () => process.ppid !== parent || (typeof process.send === 'function' && !process.connected);
process.on('disconnect', () => process.exit(1));
setInterval(() => { if (orphaned()) process.exit(1); }, 500).unref();
if (orphaned()) process.exit(1);

export default async function processQueuedJob(job: SandboxedJob<QueuedJob>): Promise<unknown> {
  if (job.data.kind === 'recon' && job.data.job.methods.includes('modl')) await initBackend();
  return runQueuedJob(job.data, (pct) => job.updateProgress(pct), () => job.getChildrenValues());
}
