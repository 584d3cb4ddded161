/**
 * `modl maps`: ESPIRiT coil sensitivities from undersampled multi-coil k-space
 * with a fully sampled centre, like `bart ecalib -m1` (or `-m2`).
 */
import { existsSync } from 'node:fs';
import type { Command } from '../command.js';
import { commandUsage, numberOption, parseCommandArgs, requireOption } from '../args.js';
import { espiritMaps } from '../../physics/espirit.js';
import { cflBase, loadCflSlice, writeCfl, type CflSliceLayout } from '../../io/cfl.js';
import { writePngTiles } from '../../io/png.js';
import { fileError, ModlError } from '../../util/errors.js';
import { checkOutputLocation } from '../../util/fs.js';

const options = {
  kspace: { type: 'string', arg: 'K.cfl', help: `multi-coil k-space, BART dims with the slice in two of dims 0-2, coils in dim 3,
centred, with a fully sampled calibration region at the centre` },
  out: { type: 'string', arg: 'S.cfl', help: "maps, .cfl/.hdr in the k-space's layout (coils in dim 3, ESPIRiT set in dim 4)" },
  calib: { type: 'string', arg: 'N', help: `largest calibration region side (bart -r, default 24); the fully sampled
part of the centre up to that size is used` },
  kernel: { type: 'string', arg: 'N', help: 'kernel side (bart -k, default 6)' },
  threshold: { type: 'string', arg: 'T', help: 'keep singular vectors with (σ/σmax)² > threshold (bart -t, default 0.001)' },
  crop: { type: 'string', arg: 'C', help: 'zero the maps where the eigenvalue is ≤ crop (bart -c, default 0.8)' },
  maps: { type: 'string', arg: '1|2', choices: ['1', '2'], help: '1 (default), or 2 sets for an object larger than the field of view' },
  eigenvalues: { type: 'string', arg: 'E.cfl', help: 'also write the eigenvalue maps (coil dim 1, set in dim 4)' },
  png: { type: 'string', arg: 'S.png', help: "montage of the maps' magnitudes, one tile per coil (default: the output name\nwith .png)" },
} as const;

const usage = commandUsage(`modl maps: ESPIRiT coil sensitivity maps (Uecker et al. 2014), like bart ecalib

usage: modl maps --kspace K.cfl --out S.cfl [--calib 24] [--kernel 6] [--threshold 0.001]
                 [--crop 0.8] [--maps 1|2] [--eigenvalues E.cfl] [--png S.png]`, options);

/** BART dims of the maps: the k-space's, with the set count in dim 4 (and coils replaced by `coils`). */
function mapDims(layout: CflSliceLayout, coils: number, sets: number): number[] {
  const dims = [...layout.dims];
  while (dims.length < 5) dims.push(1);
  dims[3] = coils;
  dims[4] = sets;
  return dims;
}

const maps: Command = {
  name: 'maps',
  summary: 'estimate coil sensitivity maps with ESPIRiT (like bart ecalib)',
  options,
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('maps', argv, options);
    const kPath = requireOption('maps', 'kspace', values.kspace);
    const out = cflBase(requireOption('maps', 'out', values.out));
    const kCfl = `${cflBase(kPath)}.cfl`;
    if (!existsSync(kCfl)) throw fileError(kCfl, 'file not found');
    for (const p of [`${out}.cfl`, values.png ?? `${out}.png`, ...(values.eigenvalues ? [`${cflBase(values.eigenvalues)}.cfl`] : [])]) checkOutputLocation(p, 'file');
    const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
    const calib = numberOption('calib', values.calib, 24, positiveInt);
    const kernel = numberOption('kernel', values.kernel, 6, positiveInt);
    const threshold = numberOption('threshold', values.threshold, 0.001, (v) => v >= 0 && v < 1);
    const crop = numberOption('crop', values.crop, 0.8, (v) => v >= 0 && v < 1);
    const sets = numberOption('maps', values.maps, 1, (v) => v === 1 || v === 2) as 1 | 2;

    const { kspace, layout, sets: kSets } = loadCflSlice(kPath);
    if (kSets > 1) throw fileError(kCfl, `has ${kSets} entries in dim 4 (ESPIRiT sets); k-space must have 1`);
    const [C, H, W] = kspace.shape as [number, number, number];

    const t0 = performance.now();
    let result;
    try {
      result = espiritMaps(kspace, { calib, kernel, threshold, crop, maps: sets });
    } catch (e) {
      if (e instanceof ModlError) throw fileError(kCfl, e.message);
      throw e;
    }
    const ms = performance.now() - t0;

    writeCfl(out, result.maps, mapDims(layout, C, sets));
    if (values.eigenvalues) {
      const ev = { data: new Float32Array(2 * result.eigenvalues.length), shape: [sets, H, W] };
      result.eigenvalues.forEach((v, i) => { ev.data[2 * i] = v; });
      writeCfl(values.eigenvalues, ev, mapDims(layout, 1, sets));
    }
    const png = values.png ?? `${out}.png`;
    writeMontage(png, result.maps.data, C, H, W, sets);

    const [ch, cw] = result.calibSize;
    const kept = result.eigenvalues.subarray(0, H * W).reduce((k, v) => k + (v > crop ? 1 : 0), 0);
    console.log(
      `ESPIRiT: ${C} coils, ${H}×${W}, calibration ${ch}×${cw}, kernel ${kernel}×${kernel}, ` +
      `${result.signalRank}/${C * kernel * kernel} kernels, ${((100 * kept) / (H * W)).toFixed(1)} % of pixels kept, ` +
      `${(ms / 1000).toFixed(2)} s → ${out}.cfl, ${png}`,
    );
  },
};

/** One tile per coil: |S_c|, the second set (if any) below the first, all on one [0, max] scale. */
function writeMontage(path: string, data: Float32Array, C: number, H: number, W: number, sets: number): void {
  const n = H * W;
  let max = 0;
  const tiles = Array.from({ length: C }, (_, c) => {
    const mag = new Float32Array(sets * n);
    for (let s = 0; s < sets; s++) {
      for (let i = 0; i < n; i++) {
        const k = 2 * ((s * C + c) * n + i);
        mag[s * n + i] = Math.hypot(data[k]!, data[k + 1]!);
        if (mag[s * n + i]! > max) max = mag[s * n + i]!;
      }
    }
    return { data: mag, rows: sets * H, cols: W, label: `coil ${c + 1}` };
  });
  const window: [number, number] = [0, max > 0 ? max : 1];
  writePngTiles(path, tiles.map((t) => ({ ...t, window })));
}

export default maps;
