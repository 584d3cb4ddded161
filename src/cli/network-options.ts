/** The options that choose how MoDL's network runs (its denoiser's symmetries, its arithmetic), shared by the commands that run it. */
import { PRECISIONS, type Precision } from '../nn/precision.js';
import { ModlError } from '../util/errors.js';
import { ENSEMBLE_SIZES, SYMMETRY_PLANS } from '../physics/symmetry.js';

export const symmetryCliOptions = {
  symmetries: { type: 'string', arg: 'N', choices: ENSEMBLE_SIZES, help: `MoDL: average the denoiser over N flips and conjugations inside every stage, N passes
a stage (1, 2, 4 or 8; default: the checkpoint's, 2 for the shipped one; a new network's 1)` },
  'symmetry-plan': { type: 'string', arg: 'P', choices: SYMMETRY_PLANS, help: `MoDL: 'fixed', the same N symmetries at every stage, or 'cycled', stage k over the k-th
set of N of the eight (default: the checkpoint's, cycled for the shipped one; a new network's fixed)` },
} as const;

export const precisionCliOption = {
  precision: { type: 'string', arg: 'P', choices: PRECISIONS, help: `MoDL inference: float32 (default) or int8, the denoiser's hidden convolutions in 8-bit
integers on ONNX Runtime (about 2.5× faster passes; the shipped network loses 0.002 dB on the
real validation case); activation ranges from the checkpoint's int8.json, or calibrated on the
first batch where it has none for these weights` },
} as const;

/** The --precision value (validated by its choices); int8 is refused up front where ONNX Runtime cannot run it. */
export async function parsePrecision(v: { precision?: string }): Promise<Precision> {
  const precision = (v.precision ?? 'float32') as Precision;
  if (precision === 'int8' && !(await (await import('../backend/onnx-runtime.js')).onnxRuntimeLoadable())) {
    throw new ModlError('--precision int8 runs on ONNX Runtime, which is not available here (onnxruntime-node not installed, or MODL_DENOISER=tfjs)');
  }
  return precision;
}
