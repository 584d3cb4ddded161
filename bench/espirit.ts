/**
 * ESPIRiT benchmark: coil maps for the real 230×180×8 k-space with a 24×24
 * calibration region and a 6×6 kernel, stage by stage, next to `bart ecalib -m1`
 * (and -m2) on the same file, measured in the same run; last, `modl maps` and
 * `bart ecalib -m1` as whole processes (Node's start, the modules and a cold
 * first run included), taking turns.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibrationRegion } from '../src/physics/calib.js';
import { espiritMaps, imageDomainOperator, signalSubspace } from '../src/physics/espirit.js';
import { pixelEigenvectors } from '../src/physics/espirit-pixel.js';
import { loadCflSlice } from '../src/io/cfl.js';
import { hasBart, timeBart } from './bart.js';
import { interleavedMedians, medianMs, row, sharedPath } from './util.js';
import { packageRoot } from '../src/util/paths.js';

const SHARED = sharedPath('data', 'kspace');

export default async function espiritBench(): Promise<void> {
  const kPath = join(SHARED, 'brain_8coil_poisson8x');
  if (!existsSync(`${kPath}.cfl`)) {
    console.log(`(${SHARED} absent: ESPIRiT benchmark skipped)`);
    return;
  }
  const kspace = loadCflSlice(kPath).kspace;
  const [C, H, W] = kspace.shape as [number, number, number];
  const kernel: [number, number] = [6, 6];
  const { calib } = calibrationRegion(kspace, [24, 24], kernel);
  const sub = signalSubspace(calib, kernel, 0.001);
  const op = imageDomainOperator(sub.projector, C, kernel, H, W);

  row(`  signal subspace (Gram + Hermitian EVD ${C * 36}²)`, await medianMs(() => signalSubspace(calib, kernel, 0.001), 3, 1), 'ms');
  row('  image-domain operator (36 FFTs)', await medianMs(() => imageDomainOperator(sub.projector, C, kernel, H, W), 5, 1), 'ms');
  row('  per-pixel eigenvectors, 1 map', await medianMs(() => pixelEigenvectors(op, C, H, W, 1), 5, 1), 'ms');
  const one = await medianMs(() => espiritMaps(kspace, { maps: 1 }), 5, 1);
  row(`ESPIRiT ${W}x${H}x${C}, calib 24, 1 map (modl)`, one, 'ms');
  const two = await medianMs(() => espiritMaps(kspace, { maps: 2 }), 3, 1);
  row(`ESPIRiT ${W}x${H}x${C}, calib 24, 2 maps (modl)`, two, 'ms');

  if (!hasBart()) {
    console.log('(bart not installed: apt-get install -y bart to compare)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'modl-bench-'));
  const bart1 = timeBart(['ecalib', '-m1', kPath, join(dir, 's1')]);
  row('bart ecalib -m1 (incl. process start, file I/O)', bart1, 'ms');
  const bart2 = timeBart(['ecalib', '-m2', kPath, join(dir, 's2')]);
  row('bart ecalib -m2', bart2, 'ms');
  row('ratio modl / bart, 1 map', one / bart1, 'x');
  row('ratio modl / bart, 2 maps', two / bart2, 'x');

  const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const whole = await interleavedMedians({
    modl: () => execFileSync('node', [cli, 'maps', '--kspace', `${kPath}.cfl`, '--out', join(dir, 'm1.cfl')], { stdio: 'ignore' }),
    bart: () => execFileSync('bart', ['ecalib', '-m1', kPath, join(dir, 'b1')], { stdio: 'ignore' }),
  }, 5);
  row('modl maps (1 map), whole process', whole.modl!, 'ms');
  row('bart ecalib -m1, whole process', whole.bart!, 'ms');
  row('ratio modl maps / bart ecalib, whole processes', whole.modl! / whole.bart!, 'x');
}
