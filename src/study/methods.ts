/**
 * The reconstruction methods modl offers, behind one call, so that jobs can
 * run any subset on the same slices and compare them.
 */
import type { CArray } from '../physics/complex.js';
import { CG_SENSE_DEFAULTS, cgSense, zeroFilledSense } from '../physics/classical.js';
import type { ReconSample } from '../nn/batch.js';
import type { AdaptOptions, AdaptReport } from '../nn/adapt.js';
import type { SymmetrySetting } from '../physics/symmetry.js';
import type { Precision } from '../nn/precision.js';

export const METHODS = ['zero-filled', 'cgsense', 'modl'] as const;
export type ReconMethod = (typeof METHODS)[number];

export interface MethodSettings {
  /** CG-SENSE Tikhonov weight and iterations (default CG_SENSE_DEFAULTS). */
  lambda?: number;
  iterations?: number;
  /** MoDL checkpoint folder (default: the shipped one) and slices per network batch. */
  checkpoint?: string;
  batchSize?: number;
  /** MoDL self-ensemble over 1, 2, 4 or 8 symmetries of each scan (default 1; see ReconstructOptions). */
  ensemble?: number;
  /** How MoDL's denoiser averages over symmetries (default: the checkpoint's; DenoiserConfig.symmetries, .symmetryPlan). */
  symmetry?: SymmetrySetting;
  /** MoDL's inference arithmetic (default float32; nn/denoiser-int8.ts). */
  precision?: Precision;
  /** Fine-tune MoDL on the slices' own k-space first (zero-shot SSDU; off when absent). */
  adapt?: AdaptOptions;
  onAdapted?(report: AdaptReport): void;
  onProgress?(done: number, total: number): void;
  /** MoDL: where its denoiser passes run, told once the network is loaded. */
  onDenoiser?(engine: 'onnx' | 'tfjs'): void;
}

export function isMethod(m: string): m is ReconMethod {
  return (METHODS as readonly string[]).includes(m);
}

/** Reconstructs every slice with one method; returns complex images in input order. */
export async function reconstruct(samples: ReconSample[], method: ReconMethod, s: MethodSettings = {}): Promise<CArray[]> {
  const total = samples.length;
  switch (method) {
    case 'zero-filled':
      return samples.map((x, i) => {
        s.onProgress?.(i + 1, total);
        return zeroFilledSense(x.kspace, x.maps, x.mask);
      });
    case 'cgsense':
      return samples.map((x, i) => {
        const image = cgSense(x.kspace, x.maps, x.mask, { lambda: s.lambda ?? CG_SENSE_DEFAULTS.lambda, iterations: s.iterations ?? CG_SENSE_DEFAULTS.iterations }).image;
        s.onProgress?.(i + 1, total);
        return image;
      });
    case 'modl': {
      // loaded lazily: tfjs start-up is paid only by jobs that run the network
      const { ModlReconstructor } = await import('../nn/infer.js');
      const { shippedCheckpoint } = await import('../util/paths.js');
      const net = ModlReconstructor.load(s.checkpoint ?? shippedCheckpoint('modl'), { ...s.symmetry, precision: s.precision });
      try {
        if (s.adapt) s.onAdapted?.(await net.adapt(samples, s.adapt));
        s.onDenoiser?.(await net.denoiserEngine());
        return await net.reconstruct(samples, { batchSize: s.batchSize, ensemble: s.ensemble, onBatch: (done) => s.onProgress?.(done, total) });
      } finally {
        net.dispose();
      }
    }
  }
}
