/**
 * `modl synth`: a synthetic multi-coil training dataset (fastMRI-layout HDF5
 * shards and a manifest) from a phantom, a folder of images or a learned generator.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs, requireOption } from '../args.js';
import type { MaskKind } from '../../physics/masks.js';
import { listGenerators } from '../../images/generator.js';
import { NO_AUGMENT } from '../../images/augment.js';
import type { SynthParameters } from '../../synth/manifest.js';
import { SHARD_DIR } from '../../synth/manifest.js';
import { synthesize } from '../../synth/synthesize.js';
import { ModlError } from '../../util/errors.js';
import { formatDuration } from '../../util/progress.js';
import { checkOutputLocation } from '../../util/fs.js';

const options = {
  out: { type: 'string', arg: 'DIR', help: `output folder: DIR/manifest.json and DIR/${SHARD_DIR}/shard-NNNNN.h5` },
  generator: { type: 'string', arg: 'NAME', help: `image source: phantom (default; built-in brain phantom), images (--images),
or a learned generator (vae, gan)` },
  images: { type: 'string', arg: 'DIR', help: 'a folder of DICOM/NIfTI/... images (implies --generator images)' },
  count: { type: 'string', arg: 'N', help: 'training pairs (slices) to make (default 1000)' },
  size: { type: 'string', arg: 'N|HxW', help: 'matrix, 256 or HxW (default 256)' },
  coils: { type: 'string', arg: 'N|A-B', help: 'coil count, or a range chosen per shard (default 8)' },
  accel: { type: 'string', arg: 'R[,R]', help: 'acceleration(s); one is drawn per slice (default 4)' },
  mask: { type: 'string', arg: 'KIND[,KIND]', help: 'mask kind(s): random, equispaced (1D, fastMRI-style) or poisson (2D); default random' },
  'center-fraction': { type: 'string', arg: 'F', help: '1D masks: fully sampled centre fraction (default 0.32/R as fastMRI)' },
  calib: { type: 'string', arg: 'N', help: 'poisson masks: fully sampled calibration square (default 24)' },
  snr: { type: 'string', arg: 'DB|A-B|inf', help: `SNR in dB, fixed or a range drawn per slice, or inf for no noise (default 30).
SNR = 20 log10(mean |image| over the object / σ), σ the complex noise std per
k-space sample (= per pixel of each coil image and of the SENSE-combined image)` },
  phase: { type: 'string', arg: 'RAD', help: 'RMS of the smooth random image phase, radians (default 1)' },
  'maps-from': { type: 'string', arg: 'F[,F]', help: `use ESPIRiT maps of these real multi-coil k-space files (fastMRI .h5, BART .cfl,
complex NIfTI; middle slice) instead of simulated birdcage maps; sets the coil count` },
  'shard-size': { type: 'string', arg: 'N', help: 'slices per HDF5 file (default 16)' },
  seed: { type: 'string', arg: 'N', help: 'dataset seed (default 0); everything is reproducible from it' },
  workers: { type: 'string', arg: 'N', help: 'worker threads (default: CPU count; 0 = none)' },
  resume: { type: 'boolean', help: `(the default) finish an interrupted run in DIR, given the same arguments,
without redoing or duplicating shards` },
  overwrite: { type: 'boolean', help: 'replace a dataset already in DIR instead' },
  quiet: { type: 'boolean', help: 'no progress bar' },
  queue: { type: 'string', arg: 'URL', help: `enqueue the dataset on redis://HOST:PORT/NAME for \`modl worker\`s instead of making it
here, one job per shard (the same as modl submit synth …); submitting it again adds nothing` },
  field: { type: 'string', arg: '1.5|3', help: 'phantom: field strength for the relaxation times (default 3)' },
  contrast: { type: 'string', arg: 'LIST', help: `phantom: contrasts drawn per image: t1, t2, pd, flair, t1-gre, or se:tr=..,te=..,
gre:tr=..,te=..,flip=.., ir:tr=..,ti=..,te=.. (ms, degrees); default t1,t2,pd` },
  jitter: { type: 'string', arg: 'F', help: 'phantom: relative jitter of TR/TE/TI/flip per image (default 0.1)' },
  lesions: { type: 'string', arg: 'P', help: 'phantom: probability of white-matter lesions per image (default 0)' },
  labels: { type: 'string', arg: 'FILE', help: 'phantom: take the anatomy from a crisp label volume (BrainWeb labels NIfTI)' },
  planes: { type: 'string', arg: 'P', choices: ['stored', 'axial', 'all'], help: 'images: which planes of each volume (default stored)' },
  'no-augment': { type: 'boolean', help: 'images: no flips, rotation, zoom, elastic deformation or gamma' },
  'max-upsample': { type: 'string', arg: 'F', help: `images: upsample a volume's slices by at most F (its pixel size over the output's),
drawing them smaller in the matrix instead; 0.8 gives real scans' detail (the shipped recipe; default: no limit)` },
  checkpoint: { type: 'string', arg: 'PATH', help: 'learned generators: their checkpoint' },
  'generator-options': { type: 'string', arg: 'k=v,..', help: 'learned generators: further options' },
} as const;

const usage = commandUsage(`modl synth: synthetic multi-coil MRI training pairs (fastMRI-layout HDF5 + manifest)

usage: modl synth --out DIR [--generator phantom|images|...] [--count 1000] [--size 256|HxW]
                  [--coils 8|4-12] [--accel 4|4,8] [--mask random|equispaced|poisson[,...]]
                  [--snr 30|20-40|inf] [--shard-size 16] [--seed 0] [--workers N] [options]`, options);

const synth: Command = {
  name: 'synth',
  summary: 'make a synthetic multi-coil training dataset (phantom, image folder, VAE/GAN)',
  options,
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('synth', argv, options);
    const out = requireOption('synth', 'out', values.out);
    checkOutputLocation(out, 'folder');
    const name = values.generator ?? (values.images ? 'images' : 'phantom');
    const known = listGenerators().map((g) => g.name);
    if (!known.includes(name)) throw new ModlError(`synth: unknown --generator '${name}' (available: ${known.join(', ')})`);
    const genOptions = generatorOptions(name, values);
    const int = (v: number) => Number.isInteger(v) && v >= 0;
    const parameters: SynthParameters = {
      generator: { name, options: genOptions },
      count: numberOption('count', values.count, 1000, (v) => int(v) && v > 0),
      size: parseSize(values.size ?? '256'),
      coils: parseRange('coils', values.coils ?? '8'),
      accelerations: parseList('accel', values.accel ?? '4').map((a) => checkNumber('accel', Number(a), (v) => v >= 1)),
      masks: parseList('mask', values.mask ?? 'random') as MaskKind[],
      snrDb: parseRange('snr', values.snr ?? '30', true),
      shardSize: numberOption('shard-size', values['shard-size'], 16, (v) => int(v) && v > 0),
      seed: numberOption('seed', values.seed, 0, (v) => int(v) && v < 2 ** 32),
      phaseRms: numberOption('phase', values.phase, 1, (v) => v >= 0),
    };
    if (values['center-fraction'] !== undefined) parameters.centerFraction = numberOption('center-fraction', values['center-fraction'], 0);
    if (values.calib !== undefined) parameters.calib = numberOption('calib', values.calib, 24, int);
    if (values['maps-from']) parameters.mapsFrom = values['maps-from'].split(',').map((f) => f.trim()).filter(Boolean).map((f) => resolve(f));
    const workers = numberOption('workers', values.workers, availableParallelism(), int);
    if (values.queue) {
      if (values.overwrite) throw new ModlError('synth: --overwrite cannot be queued; remove the dataset first');
      const { parseQueueUrl, submitSynth } = await import('../../../pipelines/queue.js');
      const { id, shards } = await submitSynth(parseQueueUrl(values.queue), out, parameters);
      console.log(`synth: ${shards} shard jobs and the manifest job ${id} queued on ${values.queue} (dataset in ${resolve(out)})`);
      return;
    }

    const result = await synthesize({
      dir: out, parameters, workers, overwrite: values.overwrite === true, progress: values.quiet !== true,
      log: (line) => console.error(`synth: ${line}`),
    });
    const { manifest, slicesMade, seconds } = result;
    const bytes = manifest.shards.reduce((s, r) => s + r.bytes, 0);
    const peakMiB = process.resourceUsage().maxRSS / 1024;
    const kept = result.shardsKept ? `, ${result.shardsKept} shard(s) kept from an earlier run` : '';
    console.log([
      slicesMade === 0
        ? `synth: nothing to do, all ${parameters.count} pairs were already made`
        : `synth: ${slicesMade} pairs made in ${formatDuration(seconds)} (${(slicesMade / seconds).toFixed(2)} pairs/s, ${workers} workers)${kept}`,
      `dataset: ${out} — ${manifest.shards.reduce((s, r) => s + r.slices, 0)} pairs in ${manifest.shards.length} shards ` +
        `(${(bytes / 2 ** 30).toFixed(2)} GiB)${manifest.complete ? '' : ', INCOMPLETE'}`,
      `peak memory (RSS, all threads): ${peakMiB.toFixed(0)} MiB`,
    ].join('\n'));
  },
};

/** The generator's options from the command line (JSON-serialisable: workers get a copy). */
function generatorOptions(name: string, v: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  // paths are stored absolute: workers and resumed runs may start elsewhere
  if (name === 'images') o.dir = resolve(requireOption('synth', 'images', v.images as string | undefined));
  if (v.images && name !== 'images') throw new ModlError(`synth: --images goes with --generator images, not ${name}`);
  if (name === 'phantom') {
    if (v.field !== undefined) o.field = checkNumber('field', Number(v.field), (f) => f === 1.5 || f === 3);
    if (v.contrast !== undefined) o.contrasts = parseContrasts(v.contrast as string);
    if (v.jitter !== undefined) o.jitter = checkNumber('jitter', Number(v.jitter), (f) => f >= 0 && f <= 1);
    if (v.lesions !== undefined) o.lesions = checkNumber('lesions', Number(v.lesions), (f) => f >= 0 && f <= 1);
    if (v.labels !== undefined) o.labels = resolve(v.labels as string);
  } else {
    for (const flag of ['field', 'contrast', 'jitter', 'lesions', 'labels']) {
      if (v[flag] !== undefined) throw new ModlError(`synth: --${flag} is a phantom option (--generator phantom)`);
    }
  }
  if (name === 'images') {
    if (v.planes !== undefined) o.planes = v.planes;
    if (v['no-augment']) o.augment = false;
    if (v['max-upsample'] !== undefined) {
      const maxUpsample = checkNumber('max-upsample', Number(v['max-upsample']), (f) => f > 0);
      o.augment = { ...(o.augment === false ? NO_AUGMENT : {}), maxUpsample };
    }
  } else if (v['max-upsample'] !== undefined) {
    throw new ModlError(`synth: --max-upsample is an images option (--generator images)`);
  }
  if (v.checkpoint !== undefined) o.checkpoint = resolve(v.checkpoint as string);
  for (const kv of ((v['generator-options'] as string | undefined) ?? '').split(',').filter(Boolean)) {
    const at = kv.indexOf('=');
    if (at <= 0) throw new ModlError(`--generator-options: '${kv}' is not key=value`);
    const value = kv.slice(at + 1);
    o[kv.slice(0, at)] = value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return o;
}

function checkNumber(flag: string, v: number, ok: (v: number) => boolean): number {
  if (!Number.isFinite(v) || !ok(v)) throw new ModlError(`--${flag}: invalid value '${v}'`);
  return v;
}

/** "256" → [256, 256]; "320x256" → [320, 256] (H × W). */
export function parseSize(text: string): [number, number] {
  const m = text.trim().match(/^(\d+)(?:\s*[x×]\s*(\d+))?$/i);
  if (!m) throw new ModlError(`--size: '${text}' is not N or HxW`);
  const H = Number(m[1]), W = Number(m[2] ?? m[1]);
  return [H, W];
}

/** "8" → [8, 8]; "4-12" → [4, 12]; with `infinite`, "inf" → [∞, ∞]. */
export function parseRange(flag: string, text: string, infinite = false): [number, number] {
  const t = text.trim().toLowerCase();
  if (infinite && (t === 'inf' || t === 'infinity' || t === 'none')) return [Infinity, Infinity];
  const m = t.match(/^(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?$/);
  if (!m) throw new ModlError(`--${flag}: '${text}' is not a number or a range lo-hi`);
  const lo = Number(m[1]), hi = Number(m[2] ?? m[1]);
  if (hi < lo) throw new ModlError(`--${flag}: range ${text} runs backwards`);
  return [lo, hi];
}

function parseList(flag: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new ModlError(`--${flag}: empty list`);
  return items;
}

/** "t1,se:tr=500,te=15,t2" → ["t1", "se:tr=500,te=15", "t2"]: a key=value item continues the sequence before it. */
export function parseContrasts(text: string): string[] {
  const out: string[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (item.includes('=') && !item.includes(':') && out.length > 0) out[out.length - 1] += `,${item}`;
    else out.push(item);
  }
  return out;
}

export default synth;
