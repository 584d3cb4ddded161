/** The options that choose how MoDL's denoiser averages over symmetries (DenoiserConfig), shared by the commands that run it. */
import { ENSEMBLE_SIZES, SYMMETRY_PLANS } from '../physics/symmetry.js';

export const symmetryCliOptions = {
  symmetries: { type: 'string', arg: 'N', choices: ENSEMBLE_SIZES, help: `MoDL: average the denoiser over N flips and conjugations inside every stage, N passes
a stage (1, 2, 4 or 8; default: the checkpoint's, 2 for the shipped one; a new network's 1)` },
  'symmetry-plan': { type: 'string', arg: 'P', choices: SYMMETRY_PLANS, help: `MoDL: 'fixed', the same N symmetries at every stage, or 'cycled', stage k over the k-th
set of N of the eight (default: the checkpoint's, cycled for the shipped one; a new network's fixed)` },
} as const;
