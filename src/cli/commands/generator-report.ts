/**
 * `modl generator-report`: the quality report of a trained VAE/GAN checkpoint
 * (sample grid next to real images, intensity histograms, power spectra,
 * nearest-neighbour distances to the training set).
 */
import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs, requireOption } from '../args.js';
import { initBackendFromCli } from '../../backend/index.js';
import { backendCliOptions } from '../../backend/options.js';
import { reportForCheckpoint } from '../../generative/report.js';
import { ProgressBar } from '../../util/progress.js';
import { checkOutputLocation } from '../../util/fs.js';

const options = {
  checkpoint: { type: 'string', arg: 'DIR', help: 'a generator checkpoint (or a train-generator run folder: its last epoch)' },
  out: { type: 'string', arg: 'DIR', help: 'where report.md, report.json and the PNGs go (default: the checkpoint folder)' },
  samples: { type: 'string', arg: 'N', help: 'generated samples, training images and held-out images compared (default 256)' },
  seed: { type: 'string', arg: 'N', help: 'seed of the sample latents (default 1)' },
  images: { type: 'string', arg: 'PATH,...', help: 'the training images, where they are no longer at the paths in generator.json' },
  labels: { type: 'string', arg: 'FILE', help: 'the training label volume, where it is no longer at its path in generator.json' },
  ...backendCliOptions,
} as const;

const usage = commandUsage(`modl generator-report: quality report of a trained image generator

usage: modl generator-report --checkpoint DIR [--out DIR] [--samples 256] [--seed 1]
                             [--images PATH,...] [--labels FILE]`, options);

const command: Command = {
  name: 'generator-report',
  summary: 'quality report of a trained VAE/GAN: samples vs real, histograms, spectra, memorisation',
  options,
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('generator-report', argv, options);
    const checkpoint = resolve(requireOption('generator-report', 'checkpoint', v.checkpoint));
    if (v.out) checkOutputLocation(v.out, 'folder');
    await initBackendFromCli(v);
    const bars = new Map<string, ProgressBar>();
    const { numbers, outDir } = await reportForCheckpoint(checkpoint, {
      outDir: v.out ? resolve(v.out) : undefined,
      samples: numberOption('samples', v.samples, 256, (x) => Number.isInteger(x) && x > 0),
      seed: numberOption('seed', v.seed, 1, Number.isInteger),
      images: v.images?.split(',').map((p) => resolve(p.trim())).filter(Boolean),
      labels: v.labels ? resolve(v.labels) : undefined,
      progress(what, done, total) {
        if (!bars.has(what)) bars.set(what, new ProgressBar(total, { label: what, initial: done }));
        bars.get(what)!.update(done);
        if (done === total) bars.get(what)!.finish();
      },
    });
    const nn = numbers.nearestNeighbour;
    console.log([
      `nearest-neighbour distance to the training set (median RMS): generated ${nn.generatedToTrain.median.toFixed(4)}, `
        + `held-out real ${nn.heldOutToTrain.median.toFixed(4)}, ratio ${nn.ratio.toFixed(3)}`,
      `intensity histogram EMD: generated ${numbers.histogram.generatedVsTrain.toFixed(4)} (held-out baseline ${numbers.histogram.heldOutVsTrain.toFixed(4)})`,
      `power spectrum: generated ${numbers.spectrum.generatedVsTrainDb.toFixed(2)} dB (held-out baseline ${numbers.spectrum.heldOutVsTrainDb.toFixed(2)} dB)`,
      `spectral excess (grids, stripes): generated ${numbers.spectrum.excess.generated.ratio.toFixed(2)} (held-out baseline ${numbers.spectrum.excess.heldOut.ratio.toFixed(2)})`,
      `report: ${resolve(outDir, 'report.md')}`,
    ].join('\n'));
  },
};

export default command;
