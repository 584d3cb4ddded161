import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { BACKEND_USAGE, backendCliOptions, initBackendFromCli } from '../../backend/index.js';
import { metricsText } from '../../recon/outputs.js';

const usage = `modl demo: synthesise a few phantom slices, reconstruct them with zero-filled,
CG-SENSE and the shipped MoDL checkpoint, and write a report with metrics and figures

usage: modl demo [--out DIR] [--checkpoint DIR]

  --out          report folder (default: out/demo in the modl folder)
  --checkpoint   MoDL checkpoint (default: checkpoints/modl)
${BACKEND_USAGE}`;

const demo: Command = {
  name: 'demo',
  summary: 'synthesise test slices, reconstruct with every method, write a report',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('demo', argv, { out: { type: 'string' }, checkpoint: { type: 'string' }, ...backendCliOptions });
    await initBackendFromCli(values);
    const { runDemo } = await import('../../../pipelines/demo.js');
    const { report, results } = await runDemo({ outDir: values.out, checkpoint: values.checkpoint });
    for (const [name, rs] of Object.entries(results)) {
      console.log(`\n${name}\n${metricsText(rs)}`);
    }
    console.log(`\nreport: ${report}`);
  },
};

export default demo;
