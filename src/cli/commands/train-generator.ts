/**
 * `modl train-generator`: trains the VAE or the GAN image generator on phantom
 * images and slices of real volumes, with a resumable checkpoint and a sample
 * grid per epoch; `--export DIR` writes the final weights and their quality report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { choiceOption, commandUsage, numberOption, parseCommandArgs, requireOption } from '../args.js';
import { initBackendFromCli } from '../../backend/index.js';
import { backendCliOptions } from '../../backend/options.js';
import { loadGenerator, saveGenerator } from '../../generative/checkpoint.js';
import { buildTrainingSet, type TrainingSetSpec } from '../../generative/data.js';
import { DEFAULT_GAN, type Gan, type GanConfig } from '../../generative/gan.js';
import type { GenerativeConfig } from '../../generative/model.js';
import type { NetConfig } from '../../generative/nets.js';
import { reportForCheckpoint } from '../../generative/report.js';
import { describeTrainingSet, trainGenerator } from '../../generative/train.js';
import { DEFAULT_VAE, type VaeConfig } from '../../generative/vae.js';
import { fileError, ModlError } from '../../util/errors.js';
import { checkOutputLocation, resolveCheckpoint, writeFileAtomic } from '../../util/fs.js';
import { formatDuration, ProgressBar } from '../../util/progress.js';

const options = {
  model: { type: 'string', arg: 'vae|gan', choices: ['vae', 'gan'], help: 'which generator to train' },
  out: { type: 'string', arg: 'RUN', help: 'run folder: epoch-NNNN/, samples/epoch-NNNN.png, train.jsonl, run.json' },
  phantom: { type: 'string', arg: 'N', help: 'training set: procedural phantom brains (default 600)' },
  labels: { type: 'string', arg: 'FILE', help: 'training set: a crisp label volume (BrainWeb) for phantom brains with its anatomy' },
  labelled: { type: 'string', arg: 'N', help: 'training set: phantom brains with the --labels anatomy (default 600 with --labels)' },
  images: { type: 'string', arg: 'PATH,...', help: 'training set: real image volumes, DICOM/NIfTI files or folders' },
  real: { type: 'string', arg: 'N', help: 'training set: augmented axial slices of them (default 1800 with --images)' },
  'min-content': { type: 'string', arg: 'F', help: 'keep planes with ≥ F of pixels above 10 % of the 99.5th percentile (default 0.15)' },
  'drop-inferior': { type: 'string', arg: 'F', help: 'drop that fraction of the lowest kept planes: neck and face (default 0.35)' },
  size: { type: 'string', arg: 'S', help: 'image size (default 128)' },
  latent: { type: 'string', arg: 'N', help: 'network: latent dimension (default 128)' },
  'base-channels': { type: 'string', arg: 'N', help: 'network: channels at full resolution (default 16)' },
  'max-channels': { type: 'string', arg: 'N', help: 'network: channel cap (default 256)' },
  'start-res': { type: 'string', arg: 'N', help: 'network: resolution of the first decoder block (default 8)' },
  upsample: { type: 'string', arg: 'U', choices: ['nearest', 'subpixel'], help: `decoder/generator upsampling: nearest (default; resize-conv, free of the grid
artefacts a sub-pixel GAN generator drifts into) or subpixel` },
  beta: { type: 'string', arg: 'B', help: 'VAE: KL weight (default 1)' },
  'noise-std': { type: 'string', arg: 'S', help: 'VAE: decoder standard deviation (default 0.2)' },
  'init-generator': { type: 'string', arg: 'DIR', help: `GAN: start the generator from this VAE's decoder (same --size, --latent and
channels; a training run, for its encoder), its sampling distribution folded in` },
  reconstruction: { type: 'string', arg: 'λ', help: `GAN: also decode the --init-generator VAE's codes of real images, paying
λ·mean|G(ε(x)) − x| (VAE-GAN anchor; default 100 with --init-generator, else 0)` },
  'critic-channels': { type: 'string', arg: 'N', help: 'GAN: critic channels at full resolution (default 16)' },
  'critic-downsample': { type: 'string', arg: 'D', choices: ['avgpool', 'unshuffle'], help: 'GAN: critic downsampling, avgpool (default) or unshuffle' },
  'critic-norm': { type: 'string', arg: 'N', choices: ['none', 'spectral'], help: 'GAN: none (held by R1; default) or spectral normalisation of the critic' },
  r1: { type: 'string', arg: 'γ', help: 'GAN: weight of the R1 penalty on the critic (default 0.2)' },
  'r1-interval': { type: 'string', arg: 'N', help: 'GAN: critic steps between R1 evaluations (default 4)' },
  'instance-noise': { type: 'string', arg: 'σ', help: 'GAN: the critic sees images plus Gaussian noise of std σ·(1 − t/T) (default 0.1; 0: none)' },
  'instance-noise-steps': { type: 'string', arg: 'T', help: 'GAN: critic steps over which the instance noise falls to 0 (default 1500)' },
  'critic-warmup': { type: 'string', arg: 'N', help: 'GAN: first N steps train the critic alone (default 50)' },
  'ema-decay': { type: 'string', arg: 'D', help: "GAN: samples come from a moving average of the generator's weights with\nthis decay per step (default 0.995; 0: the live generator)" },
  epochs: { type: 'string', arg: 'N', help: 'epochs (default 10)' },
  'batch-size': { type: 'string', arg: 'N', help: 'images per step (default 16)' },
  seed: { type: 'string', arg: 'N', help: 'seed of the training set, weights and data order (default 0)' },
  lr: { type: 'string', arg: 'R', help: 'learning rate: VAE 1e-3, GAN generator 1e-4 (defaults)' },
  'lr-critic': { type: 'string', arg: 'R', help: 'GAN critic learning rate (default 2e-4); Adam β = (0.5, 0.999) for the GAN' },
  resume: { type: 'boolean', help: 'continue RUN from its last checkpoint with the settings in RUN/run.json\n(only --epochs may change)' },
  keep: { type: 'string', arg: 'N', help: 'epoch checkpoints kept (default 2)' },
  export: { type: 'string', arg: 'DIR', help: `after training, the weights sampling needs (decoder or generator; no encoder,
critic or optimiser state) and their quality report (report.md + PNGs) in DIR` },
  'report-samples': { type: 'string', arg: 'N', help: 'samples in the quality report (default 256)' },
  ...backendCliOptions,
} as const;

const usage = commandUsage(`modl train-generator: train a VAE or GAN magnitude-image generator

usage: modl train-generator --model vae|gan --out RUN [--images PATH,...] [--labels FILE] [options]

The training set is a fixed pool, rebuilt from its settings (99.5th percentile = 1, clipped to [0, 1]).`, options);

interface RunSettings { config: GenerativeConfig; trainingSet: TrainingSetSpec; batchSize: number; seed: number; initGenerator?: string }

const posInt = (x: number) => Number.isInteger(x) && x > 0;
const count = (x: number) => Number.isInteger(x) && x >= 0;

function ganConfig(net: NetConfig, str: (k: string) => string | undefined): GanConfig {
  const num = (k: string, fallback: number, ok: (x: number) => boolean) => numberOption(k, str(k), fallback, ok);
  const nonNegative = (x: number) => x >= 0;
  const config: GanConfig = {
    ...DEFAULT_GAN, ...net,
    criticChannels: num('critic-channels', DEFAULT_GAN.criticChannels, posInt),
    criticDownsample: choiceOption('critic-downsample', str('critic-downsample'), ['avgpool', 'unshuffle'], DEFAULT_GAN.criticDownsample),
    criticNorm: choiceOption('critic-norm', str('critic-norm'), ['none', 'spectral'], DEFAULT_GAN.criticNorm),
    r1Gamma: num('r1', DEFAULT_GAN.r1Gamma, nonNegative),
    r1Interval: num('r1-interval', DEFAULT_GAN.r1Interval, posInt),
    instanceNoise: num('instance-noise', DEFAULT_GAN.instanceNoise, nonNegative),
    instanceNoiseSteps: num('instance-noise-steps', DEFAULT_GAN.instanceNoiseSteps, posInt),
    criticWarmupSteps: num('critic-warmup', DEFAULT_GAN.criticWarmupSteps, count),
    emaDecay: num('ema-decay', DEFAULT_GAN.emaDecay, (x) => x >= 0 && x < 1),
    reconstructionWeight: num('reconstruction', str('init-generator') ? 100 : 0, nonNegative),
    learningRateGenerator: num('lr', DEFAULT_GAN.learningRateGenerator, (x) => x > 0),
    learningRateCritic: num('lr-critic', DEFAULT_GAN.learningRateCritic, (x) => x > 0),
  };
  if (config.criticNorm === 'none' && config.r1Gamma === 0) throw new ModlError('--critic-norm none leaves the critic unconstrained: give --r1 γ > 0');
  return config;
}

function settingsFromArgs(v: Record<string, string | boolean | undefined>): RunSettings {
  const str = (k: string) => v[k] as string | undefined;
  const kind = str('model');
  if (kind !== 'vae' && kind !== 'gan') throw new ModlError(`train-generator: --model must be vae or gan (got '${kind ?? ''}')`);
  const images = (str('images') ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((p) => resolve(p));
  for (const p of images) if (!existsSync(p)) throw fileError(p, 'not found');
  const labels = str('labels') ? resolve(str('labels')!) : undefined;
  if (labels && !existsSync(labels)) throw fileError(labels, 'not found');
  const size = numberOption('size', str('size'), 128, posInt);
  const trainingSet: TrainingSetSpec = {
    size, images, labels,
    phantom: numberOption('phantom', str('phantom'), 600, count),
    labelled: numberOption('labelled', str('labelled'), labels ? 600 : 0, count),
    real: numberOption('real', str('real'), images.length ? 1800 : 0, count),
    minContent: numberOption('min-content', str('min-content'), 0.15, (x) => x >= 0 && x < 1),
    dropInferior: numberOption('drop-inferior', str('drop-inferior'), 0.35, (x) => x >= 0 && x < 1),
    seed: numberOption('seed', str('seed'), 0, count),
  };
  const net = {
    size,
    latent: numberOption('latent', str('latent'), 128, posInt),
    baseChannels: numberOption('base-channels', str('base-channels'), 16, posInt),
    maxChannels: numberOption('max-channels', str('max-channels'), 256, posInt),
    startRes: numberOption('start-res', str('start-res'), 8, posInt),
    upsample: choiceOption('upsample', str('upsample'), ['nearest', 'subpixel'], DEFAULT_GAN.upsample),
  };
  const config: VaeConfig | GanConfig = kind === 'vae'
    ? { ...DEFAULT_VAE, ...net, beta: numberOption('beta', str('beta'), DEFAULT_VAE.beta, (x) => x >= 0), noiseStd: numberOption('noise-std', str('noise-std'), DEFAULT_VAE.noiseStd, (x) => x > 0), learningRate: numberOption('lr', str('lr'), DEFAULT_VAE.learningRate, (x) => x > 0) }
    : ganConfig(net, str);
  if (Math.log2(size / config.startRes) % 1 !== 0 || size <= config.startRes) throw new ModlError(`--size ${size} must be --start-res ${config.startRes} times a power of two`);
  const initGenerator = str('init-generator') ? resolve(str('init-generator')!) : undefined;
  if (initGenerator && kind !== 'gan') throw new ModlError('--init-generator goes with --model gan');
  if (initGenerator && !existsSync(initGenerator)) throw fileError(initGenerator, 'not found');
  if (config.kind === 'gan' && config.reconstructionWeight > 0 && !initGenerator) throw new ModlError('--reconstruction needs --init-generator (the VAE whose encoder gives the codes)');
  return { config, trainingSet, batchSize: numberOption('batch-size', str('batch-size'), 16, posInt), seed: trainingSet.seed, initGenerator };
}

const command: Command = {
  name: 'train-generator',
  summary: 'train the VAE or GAN image generator (phantom + real slices), with quality report',
  options,
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('train-generator', argv, options);
    const out = resolve(requireOption('train-generator', 'out', v.out));
    checkOutputLocation(out, 'folder');
    const runFile = join(out, 'run.json');
    let settings: RunSettings;
    if (v.resume && existsSync(runFile)) {
      settings = JSON.parse(readFileSync(runFile, 'utf8')) as RunSettings;
      console.error(`train-generator: resuming ${out} with the settings of ${runFile}`);
    } else {
      settings = settingsFromArgs(v);
      if (existsSync(runFile) && !v.resume) throw new ModlError(`${out} already holds a training run (use --resume, or another --out)`);
    }
    const epochs = numberOption('epochs', v.epochs, 10, posInt);
    const backend = await initBackendFromCli(v);
    writeFileAtomic(runFile, JSON.stringify(settings, null, 2));

    let bar: ProgressBar | null = null;
    const set = await buildTrainingSet(settings.trainingSet, (done, total) => {
      bar ??= new ProgressBar(total, { label: 'training set', initial: done });
      bar.update(done);
      if (done === total) bar.finish();
    });
    const t0 = performance.now();
    const { model, history } = await trainGenerator({
      outDir: out, config: settings.config, trainingSet: set, epochs, batchSize: settings.batchSize, seed: settings.seed,
      resume: v.resume === true, keep: numberOption('keep', v.keep, 2, posInt),
      notes: { backend: backend.description, ...(settings.initGenerator ? { initGenerator: settings.initGenerator } : {}) },
      async init(m) {
        if (!settings.initGenerator) return;
        // the anchor needs the VAE's encoder: a sampling-only checkpoint is refused
        const { model: vae } = await loadGenerator(resolveCheckpoint(settings.initGenerator), 'vae', { forTraining: (m as Gan).config.reconstructionWeight > 0 });
        try {
          (m as Gan).initGeneratorFromVae(vae);
        } catch (e) {
          throw new ModlError(`--init-generator ${settings.initGenerator}: ${(e as Error).message}`);
        } finally {
          vae.dispose();
        }
        console.error(`train-generator: generator initialised from the decoder of ${settings.initGenerator}`);
      },
      onStart({ epoch, stepsPerEpoch, model: m }) {
        const p = m.parameterCounts(), f = m.flopsPerImage();
        console.error(`train-generator: ${m.kind}, ${Object.entries(p).map(([k, n]) => `${k} ${(n / 1e6).toFixed(2)}M parameters / ${(f[k]! / 1e6).toFixed(0)} MFLOP per image`).join(', ')}; `
          + `${set.count} training images, ${stepsPerEpoch} steps of ${settings.batchSize} per epoch${epoch > 0 ? `; resuming after epoch ${epoch}` : ''}`);
      },
      onStep(s) {
        if (s.step === 1) bar = new ProgressBar(s.stepsPerEpoch, { label: `epoch ${s.epoch}/${epochs}`, unit: ' steps/s', initial: 1 });
        bar!.update(s.step);
        bar!.setStatus(Object.entries(s.losses).map(([k, x]) => `${k} ${x.toPrecision(4)}`).join(' '));
        if (s.step === s.stepsPerEpoch) bar!.finish();
      },
      onEpoch(e) {
        console.log(`epoch ${e.epoch}: ${Object.entries(e.losses).map(([k, x]) => `${k} ${x.toPrecision(4)}`).join(', ')} (${formatDuration(e.seconds)}) → ${join(out, e.checkpoint)}, ${e.samples}`);
      },
    });
    console.error(`train-generator: ${history.length} epochs done (${formatDuration((performance.now() - t0) / 1000)} in this session)`);
    if (v.export) {
      const dest = resolve(v.export);
      const last = history[history.length - 1];
      await saveGenerator(dest, model, {
        samplingOnly: true,
        trainingSet: describeTrainingSet(set),
        training: {
          epochs: last?.epoch ?? 0, steps: (last?.epoch ?? 0) * Math.floor(set.count / settings.batchSize), batchSize: settings.batchSize, seed: settings.seed,
          seconds: Math.round(history.reduce((s, e) => s + e.seconds, 0)), backend: backend.description, run: out,
          ...(settings.initGenerator ? { initGenerator: settings.initGenerator } : {}),
          history: history.map((e) => ({ epoch: e.epoch, losses: e.losses, seconds: Math.round(e.seconds) })),
        },
      });
      const { numbers } = await reportForCheckpoint(dest, { samples: numberOption('report-samples', v['report-samples'], 256, posInt) });
      console.log(`exported ${dest}; quality: NN-distance ratio ${numbers.nearestNeighbour.ratio.toFixed(3)}, histogram EMD ${numbers.histogram.generatedVsTrain.toFixed(4)}, spectrum ${numbers.spectrum.generatedVsTrainDb.toFixed(2)} dB, spectral excess ${numbers.spectrum.excess.generated.ratio.toFixed(2)} → ${join(dest, 'report.md')}`);
    }
    model.dispose();
  },
};

export default command;
