/**
 * The quality report of a trained generator, written beside it:
 *   samples-vs-real.png   a grid of samples next to a grid of training images
 *   histogram.png         intensity histograms, generated vs real
 *   spectrum.png          radially averaged power spectra, generated vs real
 *   nn-distance.png       distribution of nearest-neighbour distances to the training set
 *   nearest.png           the samples closest to a training image, each above that image
 *   report.md, report.json
 *
 * The memorisation check compares the distance of each sample to its nearest
 * training image with the same distance for new real images drawn the way the
 * training set was (same sources, fresh anatomy and augmentation): a ratio well
 * below 1 means samples sit closer to training images than new data does.
 * Each reference statistic also gets a baseline, the held-out real images
 * against the training images, which shows the size of sampling noise.
 */
import { join } from 'node:path';
import { writePng, writePngTiles } from '../io/png.js';
import { resolveCheckpoint, writeFileAtomic } from '../util/fs.js';
import { Rng } from '../util/random.js';
import { existsSync } from 'node:fs';
import { fileError } from '../util/errors.js';
import { loadGenerator, type GeneratorMeta } from './checkpoint.js';
import { buildTrainingSet, heldOutSpec, image, type TrainingSet, type TrainingSetSpec } from './data.js';
import type { GenerativeModel } from './model.js';
import { COLORS, linePlot, mosaic } from './plot.js';
import { histogram, histogramDistance, meanPowerSpectrum2d, median, nearestNeighbours, quantile, radialAverage, spectralExcess, spectrumDistanceDb } from './stats.js';
import { generateImages } from './train.js';

type SpectralExcess = ReturnType<typeof spectralExcess>;

export interface ReportInput {
  model: GenerativeModel;
  meta: GeneratorMeta;
  checkpoint: string;
  trainingSet: TrainingSet;
  /** New real images drawn like the training set (another seed). */
  heldOut: TrainingSet;
  samples: number;
  seed: number;
  outDir: string;
}

export interface QualityNumbers {
  samples: number;
  trainingImages: number;
  heldOutImages: number;
  nearestNeighbour: {
    generatedToTrain: { median: number; p5: number; min: number };
    heldOutToTrain: { median: number; p5: number; min: number };
    trainToTrain: { median: number; p5: number; min: number };
    /** median(generated → train) / median(held-out → train). */
    ratio: number;
    /** Fraction of samples closer to the training set than the 5th percentile of held-out images. */
    closerThanHeldOutP5: number;
  };
  histogram: { bins: number; generatedVsTrain: number; heldOutVsTrain: number; meanIntensity: { generated: number; train: number } };
  spectrum: {
    generatedVsTrainDb: number; heldOutVsTrainDb: number;
    /** Artefacts such as grids and stripes: the largest excess of power over the training images' (stats.spectralExcess). */
    excess: { generated: SpectralExcess; heldOut: SpectralExcess };
  };
}

const BINS = 64;

function summary(d: Float32Array): { median: number; p5: number; min: number } {
  return { median: median(d), p5: quantile(d, 5), min: Math.min(...d) };
}

function flat(images: Float32Array[]): Float32Array {
  const out = new Float32Array(images.reduce((s, i) => s + i.length, 0));
  let k = 0;
  for (const img of images) { out.set(img, k); k += img.length; }
  return out;
}

export async function writeQualityReport(input: ReportInput): Promise<QualityNumbers> {
  const { model, trainingSet: train, heldOut, outDir } = input;
  const S = model.size, n = S * S;
  const rng = new Rng(input.seed);
  const latents = Float32Array.from({ length: input.samples * model.latent }, () => rng.normal());
  const generated = generateImages(model, latents);
  const subset = Array.from(rng.permutation(train.count).subarray(0, Math.min(input.samples, train.count)));
  const real = subset.map((i) => image(train, i));
  const held = Array.from({ length: heldOut.count }, (_, i) => image(heldOut, i));

  // memorisation: nearest training image of samples, of held-out images, and of training images (leave-one-out)
  const genNn = nearestNeighbours(flat(generated), train.data, n);
  const heldNn = nearestNeighbours(heldOut.data, train.data, n);
  const trainNn = nearestNeighbours(flat(real), train.data, n, Int32Array.from(subset));
  const heldP5 = quantile(heldNn.distance, 5);

  const hGen = histogram(generated, BINS), hTrain = histogram(real, BINS), hHeld = histogram(held, BINS);
  const [gen2d, train2d, held2d] = [generated, real, held].map((images) => meanPowerSpectrum2d(images, S)) as [Float64Array, Float64Array, Float64Array];
  const [pGen, pTrain, pHeld] = [gen2d, train2d, held2d].map((p) => radialAverage(p, S)) as [Float64Array, Float64Array, Float64Array];
  const mean = (imgs: Float32Array[]) => imgs.reduce((s, i) => s + i.reduce((a, b) => a + b, 0), 0) / (imgs.length * n);

  const numbers: QualityNumbers = {
    samples: generated.length,
    trainingImages: train.count,
    heldOutImages: heldOut.count,
    nearestNeighbour: {
      generatedToTrain: summary(genNn.distance),
      heldOutToTrain: summary(heldNn.distance),
      trainToTrain: summary(trainNn.distance),
      ratio: median(genNn.distance) / median(heldNn.distance),
      closerThanHeldOutP5: genNn.distance.filter((d) => d < heldP5).length / generated.length,
    },
    histogram: { bins: BINS, generatedVsTrain: histogramDistance(hGen, hTrain), heldOutVsTrain: histogramDistance(hHeld, hTrain), meanIntensity: { generated: mean(generated), train: mean(real) } },
    spectrum: {
      generatedVsTrainDb: spectrumDistanceDb(pGen, pTrain), heldOutVsTrainDb: spectrumDistanceDb(pHeld, pTrain),
      excess: { generated: spectralExcess(gen2d, train2d, S), heldOut: spectralExcess(held2d, train2d, S) },
    },
  };

  // pictures
  const grid = 8, shown = grid * grid;
  const gm = mosaic(generated.slice(0, shown), S, grid), rm = mosaic(real.slice(0, shown), S, grid);
  writePng(join(outDir, 'samples.png'), gm.data, gm.rows, gm.cols, { window: [0, 1] });
  writePngTiles(join(outDir, 'samples-vs-real.png'), [
    { data: gm.data, rows: gm.rows, cols: gm.cols, window: [0, 1], label: `generated (${input.meta.kind})` },
    { data: rm.data, rows: rm.rows, cols: rm.cols, window: [0, 1], label: 'real (training set)' },
  ], { gap: 16 });
  const centres = Array.from({ length: BINS }, (_, b) => (b + 0.5) / BINS);
  const log10 = (a: Float64Array) => Array.from(a, (v) => (v > 0 ? Math.log10(v) : NaN));
  linePlot(join(outDir, 'histogram.png'), [
    { label: 'generated', x: centres, y: log10(hGen), color: COLORS.generated },
    { label: 'real (train)', x: centres, y: log10(hTrain), color: COLORS.real },
    { label: 'real (held out)', x: centres, y: log10(hHeld), color: COLORS.other },
  ], { title: 'Intensity histogram', xLabel: 'intensity (99.5th percentile = 1)', yLabel: 'log10 fraction of pixels', xRange: [0, 1] });
  const freqs = Array.from({ length: pGen.length - 1 }, (_, r) => (r + 1) / S);
  linePlot(join(outDir, 'spectrum.png'), [
    { label: 'generated', x: freqs, y: log10(pGen.subarray(1)), color: COLORS.generated },
    { label: 'real (train)', x: freqs, y: log10(pTrain.subarray(1)), color: COLORS.real },
    { label: 'real (held out)', x: freqs, y: log10(pHeld.subarray(1)), color: COLORS.other },
  ], { title: 'Radially averaged power spectrum', xLabel: 'spatial frequency (cycles/pixel)', yLabel: 'log10 power', xRange: [0, 0.5] });
  const cdf = (d: Float32Array) => {
    const s = Float32Array.from(d).sort();
    return { x: Array.from(s), y: Array.from(s, (_, i) => (i + 1) / s.length) };
  };
  const maxD = Math.max(quantile(genNn.distance, 99), quantile(heldNn.distance, 99), quantile(trainNn.distance, 99));
  linePlot(join(outDir, 'nn-distance.png'), [
    { label: 'generated to train', ...cdf(genNn.distance), color: COLORS.generated },
    { label: 'held out to train', ...cdf(heldNn.distance), color: COLORS.other },
    { label: 'train to train', ...cdf(trainNn.distance), color: COLORS.real },
  ], { title: 'Nearest-neighbour distance (CDF)', xLabel: 'RMS difference to nearest training image', yLabel: 'fraction', xRange: [0, maxD], yRange: [0, 1], legend: 'top-left' });
  const closest = Array.from(genNn.distance.keys()).sort((a, b) => genNn.distance[a]! - genNn.distance[b]!).slice(0, 8);
  writePngTiles(join(outDir, 'nearest.png'), closest.map((i) => {
    const pair = mosaic([generated[i]!, image(train, genNn.index[i]!)], S, 1);
    return { data: pair.data, rows: pair.rows, cols: pair.cols, window: [0, 1] as [number, number], label: `rms ${genNn.distance[i]!.toFixed(3)}` };
  }), { gap: 4 });

  writeFileAtomic(join(outDir, 'report.json'), JSON.stringify(numbers, null, 2));
  writeFileAtomic(join(outDir, 'report.md'), markdown(input, numbers));
  return numbers;
}

function markdown(input: ReportInput, q: QualityNumbers): string {
  const { meta } = input;
  const f = (v: number, d = 4) => v.toFixed(d);
  const training = meta.training as { epochs?: number; steps?: number; batchSize?: number; seconds?: number; backend?: string; history?: { epoch: number; losses: Record<string, number> }[] } | undefined;
  const last = training?.history?.[training.history.length - 1]?.losses ?? {};
  const set = meta.trainingSet as { images?: number; bySource?: Record<string, number>; volumes?: { file: string }[] } | undefined;
  const nn = q.nearestNeighbour, excess = q.spectrum.excess, S = input.model.size;
  const freq = ([fy, fx]: [number, number]) => `(${f(fy, 3)}, ${f(fx, 3)})`;
  const verdict = nn.ratio < 0.7 || nn.closerThanHeldOutP5 > 0.2
    ? 'samples sit closer to training images than new real images do: **possible memorisation**, look at nearest.png'
    : 'samples are no closer to the training set than new real images are: no sign of memorisation';
  return `# Quality report: ${meta.kind.toUpperCase()} generator

Checkpoint \`${input.checkpoint}\`, created ${meta.created}.
Architecture: ${JSON.stringify(meta.config)}.
Trainable parameters: ${Object.entries(meta.parameters).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}.
Training: ${training?.epochs ?? '?'} epochs, ${training?.steps ?? '?'} steps of batch ${training?.batchSize ?? '?'}, ${training?.seconds !== undefined ? `${(training.seconds / 60).toFixed(1)} min` : '?'} on ${training?.backend ?? '?'}; last epoch's mean losses: ${Object.entries(last).map(([k, v]) => `${k} ${v.toPrecision(4)}`).join(', ')}.
Training set: ${set?.images ?? q.trainingImages} images ${set?.bySource ? `(${Object.entries(set.bySource).map(([k, v]) => `${k.split('/').slice(-2).join('/')}: ${v}`).join(', ')})` : ''}.

Statistics over ${q.samples} samples (latents seeded by ${input.seed}), ${q.samples} training images and ${q.heldOutImages} held-out real images
(drawn like the training set with another seed: new phantom anatomies, new augmentations of the real volumes).
Intensities are on the training scale (99.5th percentile = 1, clipped to [0, 1]); generated images are the network's
outputs in [0, 1], before the per-image 99.5th-percentile scaling that \`modl synth\` applies.

![generated vs real](samples-vs-real.png)

## Memorisation: nearest-neighbour distance to the ${q.trainingImages} training images

RMS difference per pixel to the nearest training image (L2 / √pixels):

| | median | 5th percentile | minimum |
|---|---|---|---|
| generated → train | ${f(nn.generatedToTrain.median)} | ${f(nn.generatedToTrain.p5)} | ${f(nn.generatedToTrain.min)} |
| held-out real → train | ${f(nn.heldOutToTrain.median)} | ${f(nn.heldOutToTrain.p5)} | ${f(nn.heldOutToTrain.min)} |
| train → train (leave one out) | ${f(nn.trainToTrain.median)} | ${f(nn.trainToTrain.p5)} | ${f(nn.trainToTrain.min)} |

Ratio median(generated → train) / median(held-out → train) = **${f(nn.ratio, 3)}**;
${(100 * nn.closerThanHeldOutP5).toFixed(1)} % of samples are closer to a training image than the 5th percentile of held-out images.
Verdict: ${verdict}.

![nearest-neighbour distances](nn-distance.png)
The 8 samples closest to a training image (top) above that image (bottom), with their RMS difference:

![closest samples and their nearest training images](nearest.png)

## Intensity histogram

Earth mover's distance between intensity distributions: generated vs train **${f(q.histogram.generatedVsTrain)}**,
held-out vs train ${f(q.histogram.heldOutVsTrain)} (the sampling-noise baseline). Mean intensity: generated ${f(q.histogram.meanIntensity.generated)}, train ${f(q.histogram.meanIntensity.train)}.

![intensity histograms](histogram.png)

## Radially averaged power spectrum

Mean |10·log10(P_generated / P_train)| over frequencies 1/S … 0.5 cycles/pixel: **${f(q.spectrum.generatedVsTrainDb, 2)} dB**
(held-out vs train: ${f(q.spectrum.heldOutVsTrainDb, 2)} dB). Generated spectra below the real ones at high frequencies mean blur.

Artefacts such as grids and stripes add energy that real images lack. The largest ratio of the mean 2D power
spectrum of the samples to that of the training images (at single frequencies and summed over 5×5 neighbouring
ones, beyond ${S / 16} cycles per image) is **${f(excess.generated.ratio, 2)}**, at ${freq(excess.generated.frequency)} cycles/pixel
(held-out real images: ${f(excess.heldOut.ratio, 2)}, the sampling-noise baseline); blur alone keeps it below 1.

![power spectra](spectrum.png)

## Data

The real pictures in samples-vs-real.png and nearest.png are 128×128 augmented axial slices of
${set?.volumes?.length ? set.volumes.map((v) => `\`${v.file.split('/').slice(-3).join('/')}\``).join(', ') : 'the training volumes'};
the licences and acknowledgements of those data sets apply to them. The weights hold no images.
`;
}

export interface CheckpointReportOptions {
  /** Where report.md and the PNGs go (default: the checkpoint folder). */
  outDir?: string;
  samples?: number;
  seed?: number;
  /** Replace the recorded real-image paths or label volume (data moved since training). */
  images?: string[];
  labels?: string;
  progress?: (what: string, done: number, total: number) => void;
}

/** Loads a checkpoint, rebuilds its training set from generator.json and writes the quality report. */
export async function reportForCheckpoint(dir: string, opts: CheckpointReportOptions = {}): Promise<{ numbers: QualityNumbers; outDir: string }> {
  const checkpoint = resolveCheckpoint(dir);
  const { model, meta } = await loadGenerator(checkpoint);
  try {
    const recorded = (meta.trainingSet as { spec?: TrainingSetSpec } | undefined)?.spec;
    if (!recorded) throw fileError(join(checkpoint, 'generator.json'), 'no trainingSet.spec: the training set cannot be rebuilt');
    const spec: TrainingSetSpec = { ...recorded, images: opts.images ?? recorded.images, labels: opts.labels ?? recorded.labels };
    for (const p of [...(spec.real > 0 ? spec.images : []), ...(spec.labelled > 0 && spec.labels ? [spec.labels] : [])]) {
      if (!existsSync(p)) throw fileError(p, 'training data recorded in generator.json not found (point at it with --images / --labels)');
    }
    const samples = opts.samples ?? 256;
    const trainingSet = await buildTrainingSet(spec, (d, t) => opts.progress?.('training set', d, t));
    const heldOut = await buildTrainingSet(heldOutSpec(spec, samples), (d, t) => opts.progress?.('held-out set', d, t));
    const outDir = opts.outDir ?? checkpoint;
    const numbers = await writeQualityReport({ model, meta, checkpoint, trainingSet, heldOut, samples, seed: opts.seed ?? 1, outDir });
    return { numbers, outDir };
  } finally {
    model.dispose();
  }
}
