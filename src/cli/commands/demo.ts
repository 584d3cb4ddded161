import type { Command } from '../command.js';
import { parseCommandArgs } from '../args.js';
import { BACKEND_USAGE, backendCliOptions, initBackendFromCli } from '../../backend/index.js';
import { METHOD_LABELS } from '../../recon/outputs.js';

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
      console.log(`\n${name}`);
      console.log(`  ${'method'.padEnd(12)} ${'PSNR dB'.padStart(8)} ${'SSIM'.padStart(7)} ${'NMSE'.padStart(8)} ${'time s'.padStart(7)}`);
      for (const r of rs) {
        const m = r.metrics!;
        console.log(`  ${METHOD_LABELS[r.method].padEnd(12)} ${m.psnr.toFixed(2).padStart(8)} ${m.ssim.toFixed(4).padStart(7)} ${m.nmse.toFixed(5).padStart(8)} ${r.seconds.toFixed(2).padStart(7)}`);
      }
    }
    console.log(`\nreport: ${report}`);
  },
};

export default demo;
