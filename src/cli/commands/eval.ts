import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs } from '../args.js';
import { ENSEMBLE_SIZES, parseSymmetrySetting } from '../../physics/symmetry.js';
import { parsePrecision, precisionCliOption, symmetryCliOptions } from '../network-options.js';
import { parseMaskSpec } from './train.js';
import { initBackendFromCli } from '../../backend/index.js';
import { backendCliOptions } from '../../backend/options.js';
import { ModlReconstructor } from '../../nn/infer.js';
import { ADAPT_LEARNING_RATE, adaptProgressText, adaptSummary, type AdaptProgress } from '../../nn/adapt.js';
import { concat, datasetSources, kspaceFileSource, limit, remask } from '../../nn/sources.js';
import { validate, type PairSource } from '../../nn/train.js';
import { loadRealCase, REAL_ACCELERATIONS, REAL_CASE, REAL_SEEDS } from '../../nn/real-validation.js';
import { hasBart } from '../../study/bart.js';
import { evaluateRealCase, realCaseTable, writeRealCaseFigures } from '../../study/real-case.js';
import { shippedCheckpoint } from '../../util/paths.js';
import { checkOutputLocation, writeFileAtomic } from '../../util/fs.js';
import { ModlError } from '../../util/errors.js';

const options = {
  checkpoint: { type: 'string', arg: 'DIR', help: 'MoDL checkpoint or training run (default: checkpoints/modl)' },
  data: { type: 'string', arg: 'DIR,...', help: 'modl synth datasets (every pair is evaluated)' },
  kspace: { type: 'string', arg: 'FILE,...', help: 'fully sampled k-space files (ESPIRiT maps, SENSE-combined reference)' },
  masks: { type: 'string', arg: 'SPEC', help: 'retrospective masks KIND[+KIND]:R[,R] (required with --kspace; replaces stored masks)' },
  real: { type: 'string', arg: 'DIR', help: `the real validation case in DIR (../shared/data/kspace: brain_alias_8ch_full, its masks,
two ESPIRiT map sets and reference) by its README's protocol at 4×, 6×, 8× (mean of 3
seeds), with zero-filled, CG-SENSE and, when \`bart\` is installed, BART's tuned L1-wavelet` },
  adapt: { type: 'string', arg: 'STEPS', help: `with --real: also MoDL fine-tuned on each case's own undersampled k-space for at most
STEPS steps first (zero-shot SSDU, early-stopped on held-out k-space): row 'MoDL + adapt'` },
  'adapt-lr': { type: 'string', arg: 'LR', help: 'Adam step size of --adapt (default 1e-4)' },
  ...symmetryCliOptions,
  ...precisionCliOption,
  ensemble: { type: 'string', arg: 'N', choices: ENSEMBLE_SIZES, help: `with --real: also MoDL's self-ensemble over N exact symmetries of each case (flips,
conjugation; 2, 4 or 8; default 8; 1: none): row 'MoDL ×N'` },
  accelerations: { type: 'string', arg: 'R,...', help: 'with --real: only these of 4,6,8 (default all)' },
  figure: { type: 'string', arg: 'PREFIX', help: 'with --real: PREFIX-4x.png, … (seed 0: reference and each method, PSNR in the labels)' },
  slices: { type: 'string', arg: 'N', help: 'evaluate at most N slices (default: all)' },
  seed: { type: 'string', arg: 'N', help: 'seed of retrospective masks (default 0)' },
  json: { type: 'string', arg: 'OUT.json', help: 'also write the table as JSON' },
  ...backendCliOptions,
} as const;

const usage = commandUsage(`modl eval: the metrics table of MoDL against zero-filled and CG-SENSE over a dataset

usage: modl eval [--checkpoint DIR] --data DIR[,DIR...] [--masks SPEC] [--slices N] [--json OUT.json]
       modl eval [--checkpoint DIR] --kspace FILE[,FILE...] --masks SPEC [--slices N]
       modl eval [--checkpoint DIR] --real DIR [--accelerations 4,6] [--ensemble 8] [--adapt STEPS] [--json OUT.json] [--figure PREFIX]

Metrics (mean over slices): PSNR and SSIM with data range = max of each reference, NMSE (fastMRI).`, options);

/** K, the denoiser's symmetries where it averages over more than one or cycles through them, and int8 where it runs so. */
function networkText(net: ModlReconstructor): string {
  const { symmetries, symmetryPlan } = net.model.denoiser.symmetrySetting;
  const int8 = net.precision === 'int8' ? ', int8' : '';
  if (symmetryPlan === 'cycled') return `K=${net.model.stages}, denoiser averaged over ${symmetries} symmetr${symmetries > 1 ? 'ies' : 'y'} a stage, cycled through all 8${int8}`;
  return `K=${net.model.stages}${symmetries > 1 ? `, denoiser averaged over ${symmetries} symmetries` : ''}${int8}`;
}

const command: Command = {
  name: 'eval',
  summary: 'metrics of MoDL vs zero-filled and CG-SENSE over a dataset',
  options,
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('eval', argv, options);
    if (v.json) checkOutputLocation(v.json, 'file');
    if (v.figure) checkOutputLocation(`${v.figure}-4x.png`, 'file');
    if (v.real) {
      const precision = await parsePrecision(v);
      const realCase = loadRealCase(v.real);
      await initBackendFromCli(v);
      const net = ModlReconstructor.load(v.checkpoint ?? shippedCheckpoint('modl'), { ...parseSymmetrySetting(v), precision });
      const bart = hasBart();
      if (!bart) console.log('bart is not installed: BART L1-wavelet is left out');
      const seed0 = new Map<string, Float32Array>();
      const accelerations = v.accelerations?.split(',').map((r) => numberOption('accelerations', r, 4, (x) => (REAL_ACCELERATIONS as readonly number[]).includes(x)));
      const adapt = v.adapt === undefined ? undefined : {
        steps: numberOption('adapt', v.adapt, 0, (x) => Number.isInteger(x) && x > 0),
        learningRate: numberOption('adapt-lr', v['adapt-lr'], ADAPT_LEARNING_RATE, (x) => x > 0),
        onProgress: (p: AdaptProgress) => process.stderr.write(`\r${adaptProgressText(p)}   `),
      };
      const ensemble = Number(v.ensemble ?? 8);
      const rows = await evaluateRealCase(realCase, {
        net, bart, accelerations, adapt, ensemble,
        onAdapt: (R, seed, a) => console.log(`\n${R}× seed ${seed}: adapted, ${adaptSummary(a)}`),
        onProgress: (w) => process.stderr.write(`\r${w}   `),
        onImage: (R, seed, method, m) => { if (v.figure && seed === REAL_SEEDS[0]) seed0.set(`${R}/${method}`, m); },
      });
      process.stderr.write('\n');
      net.dispose();
      console.log(`real case ${REAL_CASE}, checkpoint ${net.path} (${networkText(net)}), mean of ${REAL_SEEDS.length} seeds`);
      console.log(realCaseTable(rows));
      if (v.json) writeFileAtomic(v.json, JSON.stringify({ checkpoint: net.path, case: REAL_CASE, rows }, null, 2));
      if (v.figure) for (const path of writeRealCaseFigures(v.figure, realCase, rows, seed0)) console.log(`figure: ${path}`);
      return;
    }
    if (v.precision !== undefined) throw new ModlError('eval: --precision applies to --real (the --data and --kspace tables run the training validation, float32)');
    const seed = numberOption('seed', v.seed, 0, Number.isInteger);
    const plan = v.masks ? parseMaskSpec(v.masks, seed) : undefined;
    const sources: PairSource[] = [];
    for (const dir of v.data ? v.data.split(',') : []) {
      const { dataset } = datasetSources(dir, 0, seed);
      const all: PairSource = { length: dataset.length, load: (i) => dataset.load(i), describe: () => ({ dir }) };
      sources.push(plan ? remask(all, plan) : all);
    }
    if (v.kspace) {
      if (!plan) throw new ModlError('eval: --kspace needs --masks');
      sources.push(await kspaceFileSource(v.kspace.split(','), plan));
    }
    if (sources.length === 0) throw new ModlError('eval: give --data DIR or --kspace FILE (see modl eval --help)');
    const source = limit(concat(sources), v.slices ? numberOption('slices', v.slices, 1, (x) => Number.isInteger(x) && x > 0) : Infinity);
    await initBackendFromCli(v);
    const net = ModlReconstructor.load(v.checkpoint ?? shippedCheckpoint('modl'), parseSymmetrySetting(v));
    const result = await validate(net.model, source, net.model.stages, new Map());
    net.dispose();
    console.log(`${result.slices} slices, checkpoint ${net.path} (${networkText(net)})`);
    console.log(`${'method'.padEnd(12)} ${'PSNR dB'.padStart(8)} ${'SSIM'.padStart(7)} ${'NMSE'.padStart(9)}`);
    for (const [name, m] of [['zero-filled', result.zeroFilled], ['CG-SENSE', result.cgsense], ['MoDL', result.modl]] as const) {
      console.log(`${name.padEnd(12)} ${m.psnr.toFixed(2).padStart(8)} ${m.ssim.toFixed(4).padStart(7)} ${m.nmse.toFixed(5).padStart(9)}`);
    }
    if (v.json) writeFileAtomic(v.json, JSON.stringify({ checkpoint: net.path, ...result }, null, 2));
  },
};

export default command;
