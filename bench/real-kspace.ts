/**
 * `npm run bench real`: the real undersampled brain k-space of ../shared/data
 * (8 coils, 2D Poisson 8×), which has no fully sampled ground truth.
 * Reconstructs it with zero-filled, CG-SENSE (BART's maps) and MoDL (BART's
 * maps, and modl's own ESPIRiT maps), puts BART's L1-wavelet reconstruction
 * beside them, and prints what can be measured without a ground truth:
 *   - the data-consistency residual min_a ‖a·M F S x − y‖ / ‖y‖ (a absorbs the
 *     tools' different intensity scalings: BART's pics -S rescales its output),
 *   - the NRMSE of each magnitude image against BART's L1-wavelet image, each
 *     scaled by the least-squares factor that best matches it.
 * The figure goes to out/bench/real-kspace.png; MODL_CHECKPOINT picks the
 * checkpoint (default: checkpoints/modl). Last, one slice as whole processes:
 * `modl recon --method modl` (ESPIRiT maps, the network, output files) against
 * `bart ecalib -m1` + `bart pics` L1-wavelet (100 iterations).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { loadCflSlice, readCfl } from '../src/io/cfl.js';
import { writePngTiles } from '../src/io/png.js';
import { cabs, cdotRe, cnorm2, type CArray } from '../src/physics/complex.js';
import { espiritMaps } from '../src/physics/espirit.js';
import { cgSense, zeroFilledSense } from '../src/physics/classical.js';
import { maskFromKspace, SenseOp } from '../src/physics/sense.js';
import { reconstruct } from '../src/study/methods.js';
import { adaptSummary } from '../src/nn/adapt.js';
import { packageRoot, shippedCheckpoint } from '../src/util/paths.js';
import { hasBart } from './bart.js';
import { interleavedMedians, row, sharedPath } from './util.js';

export default async function realKspaceBench(): Promise<void> {
  const dir = sharedPath('data', 'kspace');
  const base = join(dir, 'brain_8coil_poisson8x');
  if (!existsSync(`${base}.cfl`)) {
    console.log('(skipped: ../shared/data/kspace is absent)');
    return;
  }
  const info = await initBackend();
  const checkpoint = process.env.MODL_CHECKPOINT ?? shippedCheckpoint('modl');
  console.log(`backend: ${info.description}; checkpoint ${checkpoint}`);
  const kspace = loadCflSlice(base).kspace;
  const bartMaps = loadCflSlice(`${base}_espirit_bart`).kspace;
  const mask = maskFromKspace(kspace);
  const [C, H, W] = kspace.shape as [number, number, number];
  const ownMaps = espiritMaps({ data: kspace.data.map((v, i) => v * mask[(i >> 1) % (H * W)]!), shape: kspace.shape }).maps;
  const l1 = readCfl(`${base}_l1wav_bart`).array;

  const t = (f: () => CArray | Promise<CArray>) => async () => { const t0 = performance.now(); const x = await f(); return { x, ms: performance.now() - t0 }; };
  const modl = (maps: CArray) => async () => (await reconstruct([{ kspace, maps, mask }], 'modl', { checkpoint }))[0]!;
  const images: { label: string; x: CArray; ms?: number; maps: CArray }[] = [
    { label: 'zero-filled', ...(await t(() => zeroFilledSense(kspace, bartMaps, mask))()), maps: bartMaps },
    { label: 'CG-SENSE', ...(await t(() => cgSense(kspace, bartMaps, mask, { lambda: 0.001, iterations: 30 }).image)()), maps: bartMaps },
    { label: 'BART L1-wavelet', x: { data: l1.data, shape: [H, W] }, maps: bartMaps },
    { label: 'MoDL', ...(await t(modl(bartMaps))()), maps: bartMaps },
    { label: 'MoDL, modl ESPIRiT', ...(await t(modl(ownMaps))()), maps: ownMaps },
  ];
  // MODL_BENCH_ADAPT=N: also MoDL fine-tuned on this scan first (recon --adapt N), with BART's maps
  const adaptSteps = Number(process.env.MODL_BENCH_ADAPT ?? 0);
  if (adaptSteps > 0) {
    const adapted = async () => (await reconstruct([{ kspace, maps: bartMaps, mask }], 'modl', {
      checkpoint, adapt: { steps: adaptSteps }, onAdapted: (a) => console.log(`MoDL + adapt: ${adaptSummary(a)}`),
    }))[0]!;
    images.push({ label: 'MoDL + adapt', ...(await t(adapted)()), maps: bartMaps });
  }

  const ref = cabs(images[2]!.x);
  const ynorm = Math.sqrt(cnorm2(kspace.data));
  console.log(`real k-space ${C} coils ${H}×${W}, ${(100 * mask.reduce((a, b) => a + b, 0) / (H * W)).toFixed(1)} % sampled`);
  for (const im of images) {
    const m = cabs(im.x);
    let num = 0, den = 0;
    for (let i = 0; i < m.length; i++) { num += m[i]! * ref[i]!; den += m[i]! * m[i]!; }
    const a = num / den;
    let e = 0, r = 0;
    for (let i = 0; i < m.length; i++) { e += (a * m[i]! - ref[i]!) ** 2; r += ref[i]! ** 2; }
    const ax = new Float32Array(kspace.data.length);
    new SenseOp(im.maps, mask).forward(im.x.data, [ax]);
    const y = kspace.data.map((v, i) => v * mask[(i >> 1) % (H * W)]!);
    const fit = cdotRe(ax, y) / cnorm2(ax);
    const resid = Math.sqrt(cnorm2(y.map((v, i) => v - fit * ax[i]!))) / ynorm;
    row(`${im.label}: DC residual min_a ‖aMFSx − y‖/‖y‖`, resid);
    row(`${im.label}: NRMSE vs BART L1-wavelet (scaled)`, Math.sqrt(e / r));
    if (im.ms !== undefined) row(`${im.label}: time`, im.ms, 'ms');
  }
  const outDir = join(packageRoot(), 'out', 'bench');
  mkdirSync(outDir, { recursive: true });
  const window = (m: Float32Array): [number, number] => [0, Float32Array.from(m).sort()[Math.round(0.995 * (m.length - 1))]!];
  const figure = join(outDir, 'real-kspace.png');
  writePngTiles(figure, images.map((im) => { const m = cabs(im.x); return { data: m, rows: H, cols: W, label: im.label, window: window(m) }; }), { scale: 2 });
  console.log(`figure: ${figure}`);

  await wholeProcesses(base, checkpoint);
}

/**
 * One slice, each tool as a user runs it from the shell (process start and file
 * I/O included). The three commands take turns, a warm-up round and then 5, so
 * that a slow spell of a shared machine falls on all of them; medians.
 */
async function wholeProcesses(base: string, checkpoint: string): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'modl-bench-'));
  try {
    const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
    const modl = (...extra: string[]) => () => execFileSync('node', [cli, 'recon', '--method', 'modl', ...extra, '--kspace', `${base}.cfl`, '--out', join(tmp, 'modl.cfl'), '--checkpoint', checkpoint], { stdio: 'ignore' });
    const bart = () => {
      execFileSync('bart', ['ecalib', '-m1', base, join(tmp, 'maps')], { stdio: 'ignore' });
      execFileSync('bart', ['pics', '-S', '-R', 'W:3:0:0.005', '-i', '100', base, join(tmp, 'maps'), join(tmp, 'l1')], { stdio: 'ignore' });
    };
    const runs: Record<string, () => void> = { float32: modl(), int8: modl('--precision', 'int8'), ...(hasBart() ? { bart } : {}) };
    const times = await interleavedMedians(runs, 5);
    row('modl recon --method modl, one slice (ESPIRiT + MoDL K=10), whole process', times.float32!, 'ms');
    row('the same, --precision int8', times.int8!, 'ms');
    if (times.bart === undefined) return;
    row('bart ecalib -m1 + bart pics -R W:3:0:0.005 -i 100', times.bart, 'ms');
    row('ratio modl recon / bart ecalib + pics', times.float32! / times.bart, 'x');
    row('ratio modl recon --precision int8 / bart ecalib + pics', times.int8! / times.bart, 'x');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
