import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ReconJob } from '../../../pipelines/recon.js';
import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs } from '../args.js';
import { ENSEMBLE_SIZES, parseSymmetrySetting } from '../../physics/symmetry.js';
import { parsePrecision, precisionCliOption, symmetryCliOptions } from '../network-options.js';
import type { CArray } from '../../physics/complex.js';
import { kspaceSample, mapsProblem } from '../../physics/sample.js';
import { CG_SENSE_DEFAULTS, reconMagnitude } from '../../physics/classical.js';
import { cflBase, imageDimsLike, loadCflSlice, writeCfl } from '../../io/cfl.js';
import { writePng } from '../../io/png.js';
import { isMethod, METHODS, reconstruct, type MethodSettings, type ReconMethod } from '../../study/methods.js';
import { backendCliOptions } from '../../backend/options.js';
import { fileError, ModlError } from '../../util/errors.js';
import { MASK_KINDS, type MaskKind } from '../../physics/masks.js';
import { checkOutputLocation } from '../../util/fs.js';

const options = {
  method: { type: 'string', default: 'cgsense', arg: 'M', choices: METHODS, help: `single-slice mode:
zero-filled: the SENSE adjoint Aᴴy (coil-combined zero-filled image)
cgsense:     CG-SENSE, argmin ‖Ax − y‖² + λ‖x‖² (like bart pics -l2 -r λ)
modl:        the MoDL network of --checkpoint (default: the shipped one)` },
  kspace: { type: 'string', arg: 'K.cfl', help: 'single-slice mode: multi-coil k-space, BART dims with the slice in two of dims 0-2, coils in dim 3' },
  maps: { type: 'string', arg: 'S.cfl', help: `coil sensitivities with the k-space's dims; several ESPIRiT sets in dim 4 (ecalib -m2)
give soft-SENSE, one image per set in the output's dim 4 (as bart pics), PNG = their RSS;
default: ESPIRiT maps from the k-space's calibration region (like bart ecalib -m1)` },
  mask: { type: 'string', arg: 'M.cfl', help: 'sampling pattern (1 = sampled); default: the non-zero pattern of the k-space' },
  lambda: { type: 'string', arg: 'λ', help: `CG-SENSE Tikhonov weight λ (default ${CG_SENSE_DEFAULTS.lambda}; AᴴA has spectrum in [0, 1])` },
  iterations: { type: 'string', arg: 'N', help: `CG-SENSE iterations (default ${CG_SENSE_DEFAULTS.iterations})` },
  checkpoint: { type: 'string', arg: 'DIR', help: 'MoDL checkpoint folder (default: checkpoints/modl)' },
  out: { type: 'string', arg: 'X.cfl|DIR', help: "single slice: output image, .cfl/.hdr in the k-space's spatial dimension layout;\nstudy: the output folder" },
  png: { type: 'string', arg: 'X.png', help: 'single slice: magnitude preview (default: the output name with .png)' },
  methods: { type: 'string', arg: 'M,...', help: 'study mode: comma-separated methods (default: all three)' },
  'simulate-accel': { type: 'string', arg: 'R', help: 'undersample images / fully sampled k-space retrospectively at R×' },
  'mask-type': { type: 'string', arg: 'KIND', choices: MASK_KINDS, help: 'retrospective mask: random or equispaced (1D, fastMRI: whole lines across the phase encodes, the last axis of .h5 k-space, the slower in-plane one of .cfl/NIfTI) or poisson (2D); default random' },
  coils: { type: 'string', arg: 'N', help: 'coils simulated for image inputs (default 8)' },
  snr: { type: 'string', arg: 'DB', help: "SNR in dB of the simulated acquisition (default 40; 'inf' for none)" },
  seed: { type: 'string', arg: 'N', help: 'seed of the simulation and masks (default 0)' },
  series: { type: 'string', arg: 'N', help: 'which image series / volume of a multi-series input (default 0)' },
  slices: { type: 'string', arg: 'A:B', help: 'reconstruct slices A to B−1 only' },
  'batch-size': { type: 'string', arg: 'N', help: 'slices per MoDL batch (default 4)' },
  adapt: { type: 'string', arg: 'STEPS', help: `MoDL: first fine-tune the network on this study's own undersampled k-space, at most
STEPS steps (zero-shot SSDU; 10 % of the samples held out to stop early; 60 takes about 5 minutes a
slice on 2 cores and gains 0.56 dB at 4× on the real validation case; off by default)` },
  ensemble: { type: 'string', arg: 'N', choices: ENSEMBLE_SIZES, help: `MoDL: the mean over N exact symmetries of each slice (flips, conjugation; 1, 2, 4 or 8;
default 1): 8 gains 0.3–0.5 dB on the real validation case at 8× the network's time` },
  ...symmetryCliOptions,
  ...precisionCliOption,
  'no-images': { type: 'boolean', help: 'write metrics and the report only (no NIfTI, DICOM or PNG per method)' },
  force: { type: 'boolean', help: 'study mode: replace a non-empty --out, all of it (default: refuse)' },
  queue: { type: 'string', arg: 'URL', help: `study mode: enqueue the job on redis://HOST:PORT/NAME for \`modl worker\`s instead of
running it (the same as modl submit recon …); submitting it again adds nothing` },
  ...backendCliOptions,
} as const;

const usage = commandUsage(`modl recon: reconstruct undersampled multi-coil MRI

One slice in BART files:
  modl recon --method zero-filled|cgsense|modl --kspace K.cfl [--maps S.cfl] --out X.cfl
             [--mask M.cfl] [--lambda ${CG_SENSE_DEFAULTS.lambda}] [--iterations ${CG_SENSE_DEFAULTS.iterations}] [--checkpoint DIR] [--ensemble N] [--adapt STEPS] [--png X.png]

A study (k-space: .cfl, fastMRI .h5, complex NIfTI; images: DICOM/NIfTI with --simulate-accel):
  modl recon INPUT --out DIR [--methods zero-filled,cgsense,modl] [--simulate-accel R]
             [--mask-type random|equispaced|poisson] [--coils 8] [--snr 40] [--seed 0]
             [--maps S.cfl] [--series N] [--slices A:B] [--checkpoint DIR] [--batch-size 4] [--ensemble N]
             [--adapt STEPS] [--no-images]
  writes per method a NIfTI volume, a DICOM series and PNGs, plus metrics.json (when the input
  has a reference: image series, fully sampled or synthetic k-space), figures and report.md`, options);

function requireCfl(path: string): void {
  if (!existsSync(`${cflBase(path)}.cfl`)) throw fileError(`${cflBase(path)}.cfl`, 'file not found');
}

function readMask(path: string, H: number, W: number): Float32Array {
  const { kspace } = loadCflSlice(path);
  if (kspace.shape[1] !== H || kspace.shape[2] !== W || kspace.shape[0] !== 1) {
    throw fileError(path, `mask is ${kspace.shape[1]}×${kspace.shape[2]} with ${kspace.shape[0]} channels; the k-space slice is ${H}×${W}`);
  }
  return Float32Array.from({ length: H * W }, (_, i) => (kspace.data[2 * i] !== 0 || kspace.data[2 * i + 1] !== 0 ? 1 : 0));
}

/** --adapt STEPS (0 when absent); it applies to MoDL only. */
function adaptOption(v: Values): number {
  if (v.adapt === undefined) return 0;
  return numberOption('adapt', v.adapt, 0, (x) => Number.isInteger(x) && x > 0);
}

/**
 * Starts tfjs for MoDL: loaded here, when the network runs, so that the
 * classical methods start without it. Forward-only (`adapting` false) where
 * ONNX Runtime runs the denoiser.
 */
async function startNetworkBackend(v: Values, adapting: boolean): Promise<void> {
  const [{ initBackendFromCli }, { onnxRuntimeLoadable }] = await Promise.all([import('../../backend/index.js'), import('../../backend/onnx-runtime.js')]);
  await initBackendFromCli(v, { inference: !adapting && await onnxRuntimeLoadable() });
}

/** --adapt STEPS with its progress line and summary on stderr. */
async function adaptSettings(steps: number): Promise<Pick<MethodSettings, 'adapt' | 'onAdapted'>> {
  const { adaptProgressText, adaptSummary } = await import('../../nn/adapt.js');
  return {
    adapt: { steps, onProgress: (p) => process.stderr.write(`\r${adaptProgressText(p)}   `) },
    onAdapted: (a) => console.error(`\nadapted: ${adaptSummary(a)}`),
  };
}

/** The single-slice BART mode (--kspace). */
type Values = Partial<Record<keyof typeof options, string>>;

async function reconCfl(values: Values): Promise<void> {
  const method = values.method as ReconMethod;
  const kPath = values.kspace!;
  if (!values.out) throw new ModlError('recon: --out is required (see modl recon --help)');
  const out = cflBase(values.out);
  for (const p of [kPath, values.maps, values.mask]) if (p) requireCfl(p);
  for (const p of [`${out}.cfl`, values.png ?? `${out}.png`]) checkOutputLocation(p, 'file');
  const lambda = numberOption('lambda', values.lambda, CG_SENSE_DEFAULTS.lambda, (v) => v >= 0);
  const iterations = numberOption('iterations', values.iterations, CG_SENSE_DEFAULTS.iterations, (v) => Number.isInteger(v) && v > 0);
  const precision = await parsePrecision(values);

  const { kspace, layout } = loadCflSlice(kPath);
  const [C, H, W] = kspace.shape as [number, number, number];
  let fileMaps: CArray | undefined;
  if (values.maps) {
    // several ESPIRiT map sets (ecalib -m2): soft-SENSE, one image per set, as bart pics
    fileMaps = loadCflSlice(values.maps, { allSets: true }).kspace;
    const problem = mapsProblem(fileMaps, kspace);
    if (problem) throw fileError(values.maps, `${problem} (k-space: ${kPath})`);
  }
  const t = performance.now();
  const { maps, mask } = kspaceSample(kspace, { mask: values.mask ? readMask(values.mask, H, W) : undefined, maps: fileMaps });
  if (!fileMaps) console.error(`ESPIRiT maps of the acquired k-space (${((performance.now() - t) / 1000).toFixed(2)} s)`);
  const adapt = adaptOption(values);
  if (method === 'modl') await startNetworkBackend(values, adapt > 0);

  const t0 = performance.now();
  let engine = '';
  const [image] = await reconstruct([{ kspace, maps, mask }], method, {
    lambda, iterations, checkpoint: values.checkpoint, ensemble: Number(values.ensemble ?? 1), symmetry: parseSymmetrySetting(values), precision,
    onDenoiser: (e) => { engine = ` (denoiser on ${e === 'onnx' ? 'ONNX Runtime' : 'tfjs'}${precision === 'int8' ? ', int8' : ''})`; },
    ...(adapt ? await adaptSettings(adapt) : {}),
  });
  const ms = performance.now() - t0;
  const sets = maps.shape.length === 4 ? maps.shape[0]! : 1;
  writeCfl(out, image!, imageDimsLike(layout, H, W, sets));
  const png = values.png ?? `${out}.png`;
  writePng(png, reconMagnitude(image!), H, W);
  console.log(`${method}${engine}: ${C} coils, ${H}×${W}, ${(ms / 1000).toFixed(2)} s → ${out}.cfl, ${png}`);
}

/** The study mode: the pipelines/recon.ts job. */
async function reconStudy(input: string, v: Values, flags: { noImages: boolean; force: boolean }): Promise<void> {
  const { DEFAULT_RECON_JOB, runReconJob } = await import('../../../pipelines/recon.js');
  const { metricsText } = await import('../../study/outputs.js');
  if (!existsSync(input)) throw fileError(input, 'not found');
  if (!v.out) throw new ModlError('recon: --out DIR is required (see modl recon --help)');
  const methods = (v.methods ?? DEFAULT_RECON_JOB.methods.join(',')).split(',').map((m) => m.trim());
  for (const m of methods) if (!isMethod(m)) throw new ModlError(`recon: unknown method '${m}' (${METHODS.join(', ')})`);
  const mask = (v['mask-type'] ?? 'random') as MaskKind;
  const simulate = v['simulate-accel'] === undefined ? undefined : {
    acceleration: numberOption('simulate-accel', v['simulate-accel'], 4, (x) => x >= 1),
    mask,
    coils: numberOption('coils', v.coils, 8, (x) => Number.isInteger(x) && x >= 1),
    snrDb: v.snr === 'inf' ? Infinity : numberOption('snr', v.snr, 40),
    seed: numberOption('seed', v.seed, 0, Number.isInteger),
  };
  let slices: [number, number] | undefined;
  if (v.slices) {
    const m = /^(\d+):(\d+)$/.exec(v.slices);
    if (!m) throw new ModlError(`--slices: expected A:B, got '${v.slices}'`);
    slices = [Number(m[1]), Number(m[2])];
  }
  const job: ReconJob = {
    ...DEFAULT_RECON_JOB,
    input, outDir: v.out, methods: methods as ReconMethod[], simulate, maps: v.maps, slices,
    series: v.series === undefined ? undefined : numberOption('series', v.series, 0, Number.isInteger),
    checkpoint: v.checkpoint,
    lambda: numberOption('lambda', v.lambda, DEFAULT_RECON_JOB.lambda, (x) => x >= 0),
    iterations: numberOption('iterations', v.iterations, DEFAULT_RECON_JOB.iterations, (x) => Number.isInteger(x) && x > 0),
    batchSize: numberOption('batch-size', v['batch-size'], DEFAULT_RECON_JOB.batchSize, (x) => Number.isInteger(x) && x > 0),
    adaptSteps: adaptOption(v),
    ensemble: Number(v.ensemble ?? 1),
    symmetry: parseSymmetrySetting(v),
    precision: await parsePrecision(v),
    writeImages: !flags.noImages,
  };
  if (v.queue) {
    const { parseQueueUrl, submitRecon } = await import('../../../pipelines/queue.js');
    const [id] = await submitRecon(parseQueueUrl(v.queue), [job]);
    console.log(`recon: queued as ${id} on ${v.queue} (results in ${resolve(v.out)})`);
    return;
  }
  checkOutputLocation(v.out, 'folder');
  if (!flags.force && existsSync(v.out) && readdirSync(v.out).length > 0) {
    throw fileError(v.out, 'is not empty: add --force to replace the outputs of an earlier run, or choose another --out');
  }
  if (methods.includes('modl')) await startNetworkBackend(v, job.adaptSteps > 0);
  const { results, report } = await runReconJob(job);
  console.log(metricsText(results));
  if (!results.some((r) => r.metrics)) console.log('  (no reference image for this input: judge the images)');
  console.log(`report: ${report}`);
}

const recon: Command = {
  name: 'recon',
  summary: 'reconstruct undersampled k-space (zero-filled, CG-SENSE, MoDL)',
  options,
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('recon', argv, options, true);
    if (values.kspace) {
      if (positionals.length) throw new ModlError(`recon: give either --kspace or an INPUT, not both (${positionals.join(' ')})`);
      if (values.queue) throw new ModlError('recon: --queue takes a study (INPUT), not the single-slice --kspace mode');
      return reconCfl(values as Values);
    }
    if (positionals.length !== 1) throw new ModlError('recon: give --kspace K.cfl, or one INPUT file or folder (see modl recon --help)');
    await reconStudy(positionals[0]!, values as Values, { noImages: values['no-images'] === true, force: values.force === true });
  },
};

export default recon;
