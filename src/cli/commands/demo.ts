import type { Command } from '../command.js';
import { commandUsage, parseCommandArgs } from '../args.js';
import { initBackendFromCli } from '../../backend/index.js';
import { backendCliOptions } from '../../backend/options.js';
import { metricsText } from '../../study/outputs.js';
import { checkOutputLocation } from '../../util/fs.js';

const options = {
  out: { type: 'string', arg: 'DIR', help: 'report folder (default: out/demo in the modl folder)' },
  checkpoint: { type: 'string', arg: 'DIR', help: 'MoDL checkpoint (default: checkpoints/modl)' },
  ...backendCliOptions,
} as const;

const usage = commandUsage(`modl demo: synthesise a few phantom slices, reconstruct them with zero-filled,
CG-SENSE and the shipped MoDL checkpoint, and write a report with metrics and figures

usage: modl demo [--out DIR] [--checkpoint DIR]`, options);

const demo: Command = {
  name: 'demo',
  summary: 'synthesise test slices, reconstruct with every method, write a report',
  options,
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('demo', argv, options);
    if (values.out) checkOutputLocation(values.out, 'folder');
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
