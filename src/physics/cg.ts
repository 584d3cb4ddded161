/**
 * Conjugate gradient for (AᴴA + λI) x = b, solved independently for every
 * sample of a batch: each sample has its own step sizes α, β and its own
 * stopping test, so one slice never steers another's solve.
 */
import { cnorm2 } from './complex.js';
import { cgVectors } from './cg-vectors.js';
import type { NormalOperator } from './sense.js';

export interface CgOptions {
  /** Tikhonov weight λ ≥ 0, one for all samples or one per sample. */
  lambda: number | ArrayLike<number>;
  /** Iteration cap. */
  maxIter: number;
  /** Stop a sample once ‖r‖ ≤ tol·‖b‖ (0: always run maxIter iterations). */
  tol?: number;
  /** Starting point, [batch, sampleSize] complex; zeros when absent. Not modified. */
  x0?: Float32Array;
}

export interface CgResult {
  x: Float32Array;
  /** Iterations each sample took. */
  iterations: number[];
  /** Final ‖r‖/‖b‖ per sample. */
  relResidual: number[];
}

export function conjugateGradient(op: NormalOperator, b: Float32Array, opts: CgOptions): CgResult {
  const { batch, sampleSize } = op;
  const n = 2 * sampleSize;
  if (b.length !== batch * n) throw new Error(`CG: right-hand side has ${b.length / 2} elements, expected ${batch}×${sampleSize}`);
  const lam = (s: number) => (typeof opts.lambda === 'number' ? opts.lambda : opts.lambda[s]!);
  const tol = opts.tol ?? 0;

  const vec = cgVectors();
  const [x, r, p, Ap] = vec.alloc(4, b.length) as [Float32Array, Float32Array, Float32Array, Float32Array];

  // Ap = (AᴴA + λI) p for the whole batch; returns Re⟨p, Ap⟩ per sample
  const apply = (v: Float32Array, out: Float32Array): number[] => {
    op.normal(v, out);
    return Array.from({ length: batch }, (_, s) => vec.addScaledDot(out, v, lam(s), s * n, n));
  };

  if (opts.x0) {
    x.set(opts.x0);
    apply(x, Ap);
    for (let i = 0; i < r.length; i++) r[i] = b[i]! - Ap[i]!;
  } else {
    r.set(b);
  }
  p.set(r);

  const bNorm = Array.from({ length: batch }, (_, s) => Math.sqrt(cnorm2(b, s * n, n)));
  const rs = Array.from({ length: batch }, (_, s) => cnorm2(r, s * n, n));
  const done = rs.map((v, s) => v === 0 || Math.sqrt(v) <= tol * bNorm[s]!);
  const iterations = new Array<number>(batch).fill(0);

  for (let it = 0; it < opts.maxIter && done.includes(false); it++) {
    const pAp = apply(p, Ap);
    for (let s = 0; s < batch; s++) {
      if (done[s]) continue;
      const off = s * n;
      if (!(pAp[s]! > 0)) { done[s] = true; continue; } // converged to round-off (or not positive definite)
      const alpha = rs[s]! / pAp[s]!;
      const rsNew = vec.stepAndNorm(x, r, p, Ap, alpha, off, n);
      iterations[s] = it + 1;
      if (Math.sqrt(rsNew) <= tol * bNorm[s]!) done[s] = true;
      const beta = rsNew / rs[s]!;
      rs[s] = rsNew;
      vec.newDirection(p, r, beta, off, n);
    }
  }
  const relResidual = rs.map((v, s) => (bNorm[s]! > 0 ? Math.sqrt(v) / bNorm[s]! : 0));
  return { x: x.slice(), iterations, relResidual }; // x may live in the kernels' memory, reused by the next solve
}
