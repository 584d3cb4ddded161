/**
 * Physics benchmarks: centred 2D FFTs, the SENSE normal operator and CG-SENSE
 * on the real 230×180×8 k-space, next to BART's `pics -l2` on the same file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CenteredFft2 } from '../src/physics/fft.js';
import { WasmFft2, wasmFftSupports } from '../src/physics/fft-wasm.js';
import { cgSense } from '../src/physics/classical.js';
import { SenseOp, maskFromKspace } from '../src/physics/sense.js';
import { getPhysicsThreads, senseBatch } from '../src/physics/sense-parallel.js';
import { loadCflSlice } from '../src/io/cfl.js';
import { hasBart, timeBart } from './bart.js';
import { medianMs, row, sharedPath } from './util.js';

const SHARED = sharedPath('data', 'kspace');

export default async function physicsBench(): Promise<void> {
  for (const [H, W] of [[256, 256], [230, 180], [320, 320]] as const) {
    const x = Float32Array.from({ length: 2 * H * W }, () => Math.random());
    const y = new Float32Array(x.length);
    const js = new CenteredFft2(H, W);
    row(`2D centred FFT ${H}x${W} (TypeScript, float64)`, await medianMs(() => js.apply(x, 0, y, 0, false), 50, 5), 'ms');
    if (!wasmFftSupports(H, W)) continue;
    const wasm = new WasmFft2(H, W);
    const ours = await medianMs(() => wasm.apply(x, 0, y, 0, false), 50, 5);
    row(`2D centred FFT ${H}x${W} (WebAssembly SIMD, float32)`, ours, 'ms');
    const numpy = numpyFft2Ms(H, W);
    if (numpy !== null) {
      row(`2D centred FFT ${H}x${W} (numpy pocketfft, complex64 in)`, numpy, 'ms');
      row('ratio modl / numpy', ours / numpy, 'x');
    }
  }

  const kPath = join(SHARED, 'brain_8coil_poisson8x');
  if (!existsSync(`${kPath}.cfl`)) {
    console.log(`(${SHARED} absent: SENSE benchmarks on real data skipped)`);
    return;
  }
  const mapsPath = join(SHARED, 'brain_8coil_poisson8x_espirit_bart');
  const k = loadCflSlice(kPath).kspace;
  const maps = loadCflSlice(mapsPath).kspace;
  const mask = maskFromKspace(k);
  const op = new SenseOp(maps, mask);
  const x = Float32Array.from({ length: 2 * op.sampleSize }, () => Math.random());
  const out = new Float32Array(x.length);
  row('SENSE normal AᴴA, 230x180x8, 1 thread', await medianMs(() => op.normal(x, out), 20, 3), 'ms');
  const par = senseBatch([op]);
  row(`SENSE normal AᴴA, 230x180x8, ${getPhysicsThreads()} threads`, await medianMs(() => par.normal(x, out), 20, 3), 'ms');
  par.dispose();

  const ours = await medianMs(() => cgSense(k, maps, mask, { lambda: 0.001, iterations: 30 }), 7, 1);
  row('CG-SENSE 30 iterations, 230x180x8 (modl)', ours, 'ms');
  if (hasBart()) {
    const dir = mkdtempSync(join(tmpdir(), 'modl-bench-'));
    const bart = timeBart(['pics', '-S', '-l2', '-r', '0.001', '-i', '30', kPath, mapsPath, join(dir, 'x')]);
    row('CG-SENSE 30 iterations (bart pics -l2 -r 0.001 -i 30)', bart, 'ms');
    row('ratio modl / bart', ours / bart, 'x');
  } else {
    console.log('(bart not installed: apt-get install -y bart to compare)');
  }
}

/** numpy's fftshift(fft2(ifftshift(x)), norm='ortho') on one H×W complex64 image, median ms; null without numpy. */
function numpyFft2Ms(H: number, W: number): number | null {
  const script = `import numpy as np, timeit
x = (np.random.rand(${H}, ${W}) + 1j*np.random.rand(${H}, ${W})).astype(np.complex64)
f = lambda: np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm='ortho'))
f()
print(1000*np.median(timeit.repeat(f, number=20, repeat=7))/20)`;
  try {
    return Number(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return null;
  }
}
