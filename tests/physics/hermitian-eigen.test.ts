import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eigKernels, hermitianEigen, hermitianEigenWasm } from '../../src/physics/hermitian-eigen.js';
import { Rng } from '../../src/util/random.js';

function randomHermitian(n: number, seed: number): { re: Float64Array; im: Float64Array } {
  const rng = new Rng(seed);
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const a = rng.normal(), b = i === j ? 0 : rng.normal();
      re[i * n + j] = a; re[j * n + i] = a;
      im[i * n + j] = b; im[j * n + i] = -b;
    }
  }
  return { re, im };
}

/** Reference eigenvalues: ml-matrix on the real symmetric embedding [[Re, −Im], [Im, Re]] (each value twice). */
function referenceValues(re: Float64Array, im: Float64Array, n: number): number[] {
  const m = new Matrix(2 * n, 2 * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      m.set(i, j, re[i * n + j]!); m.set(i + n, j + n, re[i * n + j]!);
      m.set(i + n, j, im[i * n + j]!); m.set(i, j + n, -im[i * n + j]!);
    }
  }
  const values = new EigenvalueDecomposition(m, { assumeSymmetric: true }).realEigenvalues.sort((a, b) => b - a);
  return values.filter((_, i) => i % 2 === 0);
}

/** max_j ‖A v_j − λ_j v_j‖ and max_{j,k} |v_jᴴ v_k − δ_jk|, relative to ‖A‖_F. */
function check(re: Float64Array, im: Float64Array, n: number, eig: ReturnType<typeof hermitianEigen>, count: number) {
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += re[i]! ** 2 + im[i]! ** 2;
  scale = Math.sqrt(scale) || 1;
  let residual = 0, orthogonality = 0;
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < n; i++) {
      let sr = 0, si = 0;
      for (let k = 0; k < n; k++) {
        const ar = re[i * n + k]!, ai = im[i * n + k]!, vr = eig.re[k * count + j]!, vi = eig.im[k * count + j]!;
        sr += ar * vr - ai * vi; si += ar * vi + ai * vr;
      }
      const l = eig.values[j]!;
      residual = Math.max(residual, Math.hypot(sr - l * eig.re[i * count + j]!, si - l * eig.im[i * count + j]!) / scale);
    }
    for (let k = 0; k < count; k++) {
      let sr = 0, si = 0;
      for (let i = 0; i < n; i++) {
        const ar = eig.re[i * count + j]!, ai = eig.im[i * count + j]!, br = eig.re[i * count + k]!, bi = eig.im[i * count + k]!;
        sr += ar * br + ai * bi; si += ar * bi - ai * br;
      }
      orthogonality = Math.max(orthogonality, Math.hypot(sr - (j === k ? 1 : 0), si));
    }
  }
  return { residual, orthogonality };
}

for (const engine of ['wasm', 'js'] as const) describe(`hermitianEigen (${engine === 'wasm' ? 'WebAssembly, wasm/eig.c' : 'TypeScript, MODL_KERNELS=js'})`, () => {
  beforeAll(() => { process.env.MODL_KERNELS = engine; });
  afterAll(() => { delete process.env.MODL_KERNELS; });

  it('runs on the engine asked for', () => {
    expect(eigKernels() === null).toBe(engine === 'js');
  });

  it.each([1, 2, 3, 7, 16, 45])('random Hermitian %i×%i: eigenvalues as the real embedding, orthonormal eigenvectors', (n) => {
    const { re, im } = randomHermitian(n, 100 + n);
    const eig = hermitianEigen(re, im, n);
    const ref = referenceValues(re, im, n);
    for (let j = 0; j < n; j++) expect(eig.values[j]!).toBeCloseTo(ref[j]!, 10);
    for (let j = 1; j < n; j++) expect(eig.values[j]!).toBeLessThanOrEqual(eig.values[j - 1]!);
    const { residual, orthogonality } = check(re, im, n, eig, n);
    expect(residual).toBeLessThan(1e-13);
    expect(orthogonality).toBeLessThan(1e-13);
  });

  it('returns the leading eigenvectors only, the same ones as the full decomposition', () => {
    const n = 30;
    const { re, im } = randomHermitian(n, 7);
    const full = hermitianEigen(re, im, n);
    let seen: Float64Array | undefined;
    const some = hermitianEigen(re, im, n, (values) => { seen = values; return 4; });
    expect(seen).toEqual(full.values);
    expect(some.re.length).toBe(4 * n);
    for (let j = 0; j < 4; j++) {
      // the same unit vector up to a phase: |v_jᴴ w_j| = 1
      let sr = 0, si = 0;
      for (let i = 0; i < n; i++) {
        const ar = full.re[i * n + j]!, ai = full.im[i * n + j]!, br = some.re[i * 4 + j]!, bi = some.im[i * 4 + j]!;
        sr += ar * br + ai * bi; si += ar * bi - ai * br;
      }
      expect(Math.hypot(sr, si)).toBeCloseTo(1, 12);
    }
  });

  it('handles structure: zero, diagonal, repeated eigenvalues, already tridiagonal, real symmetric', () => {
    const n = 9;
    const cases: Record<string, { re: Float64Array; im: Float64Array }> = {
      zero: { re: new Float64Array(n * n), im: new Float64Array(n * n) },
      diagonal: { re: Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? (i % 7) - 3 : 0)), im: new Float64Array(n * n) },
      identity: { re: Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)), im: new Float64Array(n * n) },
      tridiagonal: (() => {
        const re = new Float64Array(n * n), im = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          re[i * n + i] = i;
          if (i + 1 < n) { re[(i + 1) * n + i] = 1; re[i * n + i + 1] = 1; im[(i + 1) * n + i] = 0.5; im[i * n + i + 1] = -0.5; }
        }
        return { re, im };
      })(),
      // rank 2: seven equal (zero) eigenvalues
      lowRank: (() => {
        const re = new Float64Array(n * n), im = new Float64Array(n * n);
        const u = [[1, 2], [0, -1], [3, 1], [1, 1], [0, 0], [2, -2], [1, 0], [0, 3], [1, 1]];
        const v = [[0, 1], [1, 1], [-1, 0], [2, 0], [1, -1], [0, 0], [3, 1], [1, 2], [0, -1]];
        for (const w of [u, v]) {
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
            re[i * n + j] += w[i]![0]! * w[j]![0]! + w[i]![1]! * w[j]![1]!;
            im[i * n + j] += w[i]![1]! * w[j]![0]! - w[i]![0]! * w[j]![1]!;
          }
        }
        return { re, im };
      })(),
      realSymmetric: (() => { const { re } = randomHermitian(n, 3); return { re, im: new Float64Array(n * n) }; })(),
    };
    for (const [name, { re, im }] of Object.entries(cases)) {
      const eig = hermitianEigen(re, im, n);
      const ref = referenceValues(re, im, n);
      for (let j = 0; j < n; j++) expect(eig.values[j]!, name).toBeCloseTo(ref[j]!, 10);
      const { residual, orthogonality } = check(re, im, n, eig, n);
      expect(residual, name).toBeLessThan(1e-13);
      expect(orthogonality, name).toBeLessThan(1e-13);
    }
  });

  it('converges on a large cluster of eigenvalues at round-off level (a rank-64 Gram matrix of size 150)', () => {
    const n = 150, rank = 64;
    const rng = new Rng(11);
    const re = new Float64Array(n * n), im = new Float64Array(n * n);
    for (let q = 0; q < rank; q++) {
      const pr = Array.from({ length: n }, () => rng.normal()), pi = Array.from({ length: n }, () => rng.normal());
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) {
        re[a * n + b] += pr[a]! * pr[b]! + pi[a]! * pi[b]!;
        im[a * n + b] += pi[a]! * pr[b]! - pr[a]! * pi[b]!;
      }
    }
    const eig = hermitianEigen(re, im, n, rank);
    const ref = referenceValues(re, im, n);
    for (let j = 0; j < n; j++) expect(Math.abs(eig.values[j]! - ref[j]!)).toBeLessThan(1e-11 * ref[0]!);
    expect(eig.values[rank - 1]! / eig.values[0]!).toBeGreaterThan(1e-4);
    expect(Math.abs(eig.values[rank]!) / eig.values[0]!).toBeLessThan(1e-13);
    const { residual, orthogonality } = check(re, im, n, eig, rank);
    expect(residual).toBeLessThan(1e-13);
    expect(orthogonality).toBeLessThan(1e-13);
  });

  it('rejects a bad count', () => {
    const { re, im } = randomHermitian(4, 1);
    expect(() => hermitianEigen(re, im, 4, 5)).toThrow(/count 5/);
    expect(() => hermitianEigen(re, im, 3)).toThrow(/3×3/);
  });
});

describe('hermitianEigen in WebAssembly with too little room for its rotations', () => {
  it('solves again with room for all of them: the same eigenvalues and eigenvectors', (ctx) => {
    const kernels = eigKernels();
    if (!kernels) ctx.skip();
    const n = 40;
    const { re, im } = randomHermitian(n, 21);
    const roomy = hermitianEigenWasm(kernels!, re, im, n, 6);
    const cramped = hermitianEigenWasm(kernels!, re, im, n, 6, 10);
    expect(Array.from(cramped.values)).toEqual(Array.from(roomy.values));
    expect(Array.from(cramped.re)).toEqual(Array.from(roomy.re));
    const { residual, orthogonality } = check(re, im, n, cramped, 6);
    expect(residual).toBeLessThan(1e-13);
    expect(orthogonality).toBeLessThan(1e-13);
  });
});
