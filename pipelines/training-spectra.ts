/**
 * Does the shipped recipe's training data have a real scan's detail? Prints,
 * per band of normalised k-space radius (physics/spectrum.ts), the mean power
 * relative to the whole k-space's of:
 *
 *   - the real scans: the validation case's reference image and coil k-space,
 *     and the sampled points of the real 2D Poisson scan's coil k-space;
 *   - the recipe's training pairs (whole slices): their noise-free targets'
 *     magnitude, and their noisy coil k-space, with the shipped augmentation
 *     and with each `--max-upsample` (AugmentOptions.maxUpsample).
 *
 *   npm run build && node dist/pipelines/training-spectra.js [--pairs 24] [--max-upsample 1,0.8]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { loadCflSlice } from '../src/io/cfl.js';
import { reconMagnitude } from '../src/physics/classical.js';
import { maskFromKspace } from '../src/physics/sense.js';
import { imagePowerProfile, radialPowerProfile, SPECTRUM_BANDS } from '../src/physics/spectrum.js';
import { loadRealCase } from '../src/nn/real-validation.js';
import { SHIPPED_RECIPE } from '../src/nn/simulated-source.js';
import { packageRoot } from '../src/util/paths.js';
import { shippedData } from './train-shipped.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(packageRoot(), '..', 'shared', 'data') },
    pairs: { type: 'string', default: '24' },
    'max-upsample': { type: 'string', default: '1,0.8' },
  },
});
await initBackend({});
const pairs = Number(values.pairs);
const rows: [string, number[]][] = [];

const real = loadRealCase(join(values.data!, 'kspace'));
rows.push(['real: brain_alias_8ch_full reference, magnitude', imagePowerProfile(real.reference, real.H, real.W)]);
rows.push(['real: brain_alias_8ch_full coil k-space', radialPowerProfile(real.kspace)]);
const poisson = loadCflSlice(join(values.data!, 'kspace', 'brain_8coil_poisson8x.cfl')).kspace;
rows.push(['real: brain_8coil_poisson8x coil k-space, sampled points', radialPowerProfile(poisson, SPECTRUM_BANDS, maskFromKspace(poisson))]);

const data = await shippedData(values.data!);
for (const maxUpsample of [undefined, ...values['max-upsample']!.split(',').filter(Boolean).map(Number)]) {
  const source = await data.train({ recipe: { ...SHIPPED_RECIPE, window: 0 }, augment: maxUpsample ? { maxUpsample } : undefined });
  const target = new Array<number>(SPECTRUM_BANDS.length - 1).fill(0), coils = [...target];
  for (let p = 0; p < pairs; p++) {
    const s = await source.load(p * 7919); // spread over the pair indices
    const [h, w] = s.kspace.shape.slice(-2) as [number, number];
    imagePowerProfile(reconMagnitude(s.target!), h, w).forEach((v, b) => (target[b] += v / pairs));
    radialPowerProfile(s.kspace).forEach((v, b) => (coils[b] += v / pairs));
  }
  const label = maxUpsample ? `maxUpsample ${maxUpsample}` : 'shipped augmentation';
  rows.push([`training targets, magnitude (${label})`, target], [`training coil k-space (${label})`, coils]);
}

const bands = SPECTRUM_BANDS.slice(1).map((e, b) => `${SPECTRUM_BANDS[b]}–${e}`);
console.log(`| mean power / whole k-space's, by radius r | ${bands.join(' | ')} |`);
console.log(`|---|${bands.map(() => '---').join('|')}|`);
for (const [name, p] of rows) console.log(`| ${name} | ${p.map((v) => v.toPrecision(2)).join(' | ')} |`);
console.log(`(training: mean over ${pairs} pairs of the recipe, whole slices)`);
