import { existsSync } from 'node:fs';
import type { Command } from '../command.js';
import { numberOption, parseCommandArgs, requireOption } from '../args.js';
import { assertFinite, cabs } from '../../physics/complex.js';
import { cgSense, zeroFilledSense } from '../../physics/recon.js';
import { checkSenseShapes, maskFromKspace } from '../../physics/sense.js';
import { cflBase, imageDimsLike, loadCflSlice, writeCfl } from '../../io/cfl.js';
import { writePng } from '../../io/png.js';
import { fileError, ModlError } from '../../util/errors.js';

const usage = `modl recon: reconstruct one undersampled multi-coil slice from BART files

usage: modl recon --method zero-filled|cgsense --kspace K.cfl --maps S.cfl --out X.cfl
                  [--mask M.cfl] [--lambda 0.001] [--iterations 30] [--png X.png]

  --method       zero-filled: the SENSE adjoint Aᴴy (coil-combined zero-filled image)
                 cgsense:     CG-SENSE, argmin ‖Ax − y‖² + λ‖x‖² (like bart pics -l2 -r λ)
  --kspace       multi-coil k-space, BART dims with the slice in two of dims 0-2, coils in dim 3
  --maps         coil sensitivities with the same dims as the k-space (first ESPIRiT set is used)
  --mask         sampling pattern (1 = sampled); default: the non-zero pattern of the k-space
  --lambda       Tikhonov weight λ (default 0.001; AᴴA has spectrum in [0, 1])
  --iterations   CG iterations (default 30)
  --out          output image, .cfl/.hdr in the k-space's spatial dimension layout
  --png          magnitude preview (default: the output name with .png)`;

function readMask(path: string, H: number, W: number): Float32Array {
  const { kspace } = loadCflSlice(path);
  if (kspace.shape[1] !== H || kspace.shape[2] !== W || kspace.shape[0] !== 1) {
    throw fileError(path, `mask is ${kspace.shape[1]}×${kspace.shape[2]} with ${kspace.shape[0]} channels; the k-space slice is ${H}×${W}`);
  }
  return Float32Array.from({ length: H * W }, (_, i) => (kspace.data[2 * i] !== 0 || kspace.data[2 * i + 1] !== 0 ? 1 : 0));
}

const recon: Command = {
  name: 'recon',
  summary: 'reconstruct undersampled k-space (zero-filled, CG-SENSE)',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('recon', argv, {
      method: { type: 'string', default: 'cgsense' },
      kspace: { type: 'string' },
      maps: { type: 'string' },
      mask: { type: 'string' },
      lambda: { type: 'string' },
      iterations: { type: 'string' },
      out: { type: 'string' },
      png: { type: 'string' },
    });
    const method = values.method!;
    if (!['zero-filled', 'cgsense'].includes(method)) throw new ModlError(`recon: unknown --method '${method}' (zero-filled, cgsense)`);
    const kPath = requireOption('recon', 'kspace', values.kspace);
    const mPath = requireOption('recon', 'maps', values.maps);
    const out = cflBase(requireOption('recon', 'out', values.out));
    for (const p of [kPath, mPath, values.mask].filter((p): p is string => !!p)) {
      if (!existsSync(`${cflBase(p)}.cfl`)) throw fileError(`${cflBase(p)}.cfl`, 'file not found');
    }
    const lambda = numberOption('lambda', values.lambda, 0.001, (v) => v >= 0);
    const iterations = numberOption('iterations', values.iterations, 30, (v) => Number.isInteger(v) && v > 0);

    const { kspace, layout } = loadCflSlice(kPath);
    const { kspace: maps, sets } = loadCflSlice(mPath);
    assertFiniteIn(kPath, kspace.data);
    assertFiniteIn(mPath, maps.data);
    if (sets > 1) console.log(`note: ${mPath} holds ${sets} ESPIRiT map sets; using the first`);
    const [C, H, W] = kspace.shape as [number, number, number];
    try {
      checkSenseShapes(kspace, maps);
    } catch (e) {
      throw new ModlError(`${kPath} and ${mPath}: ${(e as Error).message}`);
    }
    const mask = values.mask ? readMask(values.mask, H, W) : maskFromKspace(kspace);

    const t0 = performance.now();
    const image = method === 'zero-filled'
      ? zeroFilledSense(kspace, maps, mask)
      : cgSense(kspace, maps, mask, { lambda, iterations }).image;
    const ms = performance.now() - t0;
    writeCfl(out, image, imageDimsLike(layout, H, W));
    const png = values.png ?? `${out}.png`;
    writePng(png, cabs(image), H, W);
    console.log(`${method}: ${C} coils, ${H}×${W}, ${(ms / 1000).toFixed(2)} s → ${out}.cfl, ${png}`);
  },
};

function assertFiniteIn(path: string, data: Float32Array): void {
  try {
    assertFinite(data, 'data');
  } catch (e) {
    throw fileError(path, (e as Error).message);
  }
}

export default recon;
