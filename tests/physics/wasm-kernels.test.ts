import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CenteredFft2, fftEngine } from '../../src/physics/fft.js';
import { WasmFft2, wasmFftSupports } from '../../src/physics/fft-wasm.js';
import { cgVectors, referenceCgVectors } from '../../src/physics/cg-vectors.js';
import { pixelEigenvectors } from '../../src/physics/espirit-pixel.js';
import { gram } from '../../src/physics/espirit.js';
import { randomComplex, relErr } from '../helpers/random.js';

/** The four kinds of prepared mask: along H only, along W only, general 0/1, general weights. */
function masks(H: number, W: number, seed: number): Float32Array[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows = Float32Array.from({ length: H }, () => (rand() < 0.5 ? 1 : 0));
  const cols = Float32Array.from({ length: W }, () => (rand() < 0.5 ? 1 : 0));
  rows[0] = 1; cols[0] = 1; // never all zero
  return [
    Float32Array.from({ length: H * W }, (_, i) => rows[Math.floor(i / W)]!),
    Float32Array.from({ length: H * W }, (_, i) => cols[i % W]!),
    Float32Array.from({ length: H * W }, () => (rand() < 0.4 ? 1 : 0)),
    Float32Array.from({ length: H * W }, () => rand()),
  ];
}

/** The WebAssembly engine against the float64 TypeScript engine (itself checked against the definition and BART). */
function compare(H: number, W: number): number {
  const js = new CenteredFft2(H, W), wasm = new WasmFft2(H, W);
  const x = randomComplex(H * W, H * 1000 + W);
  let worst = 0;
  for (const inverse of [false, true]) {
    const a = new Float32Array(x.length), b = new Float32Array(x.length);
    js.apply(x, 0, a, 0, inverse);
    wasm.apply(x, 0, b, 0, inverse);
    worst = Math.max(worst, relErr(b, a));
  }
  for (const m of masks(H, W, H + W)) {
    const a = x.slice(), b = x.slice();
    js.maskedRoundTrip(a, 0, js.prepareMask(m));
    wasm.maskedRoundTrip(b, 0, wasm.prepareMask(m));
    worst = Math.max(worst, relErr(b, a));
  }
  return worst;
}

describe('WebAssembly SIMD kernels (FFT, SENSE, CG vectors, ESPIRiT per pixel and its Gram matrix)', () => {
  it('is available here (WebAssembly SIMD) for every length without a prime factor above 64', () => {
    expect(wasmFftSupports(180, 230)).toBe(true);
    expect(wasmFftSupports(61 * 2, 59)).toBe(true);
    expect(wasmFftSupports(67, 8)).toBe(false); // 67: Bluestein, the TypeScript engine
    expect(fftEngine(180, 230)).toBe('wasm');
    expect(fftEngine(67, 8)).toBe('js');
  });

  it('matches the TypeScript engine for every length 1–64 (forward, inverse and Fᴴ M F, four mask kinds, odd and even batches)', () => {
    let worst = 0;
    for (let n = 1; n <= 64; n++) worst = Math.max(worst, compare(n, 6 + (n % 3)), compare(7, n));
    expect(worst).toBeLessThan(1e-5);
  });

  it('matches it at the sizes users have (radix 23, 5, 3, 4, 2; up to 320)', () => {
    for (const [H, W] of [[180, 230], [230, 180], [256, 256], [320, 320], [112, 240], [216, 170], [368, 184]]) {
      expect(compare(H, W)).toBeLessThan(1e-5);
    }
  });

  it('reuses one loaded mask only while it is the same mask', () => {
    const H = 12, W = 10;
    const wasm = new WasmFft2(H, W), js = new CenteredFft2(H, W);
    const [, , m1, m2] = masks(H, W, 3);
    const x = randomComplex(H * W, 5);
    for (const m of [m1!, m2!, m1!]) {
      const a = x.slice(), b = x.slice();
      js.maskedRoundTrip(a, 0, js.prepareMask(m));
      wasm.maskedRoundTrip(b, 0, wasm.prepareMask(m));
      expect(relErr(b, a)).toBeLessThan(1e-5);
    }
  });

  it('one coil of the SENSE normal operator matches its TypeScript composition (1 and 2 map sets, every mask kind, odd sizes)', () => {
    for (const [H, W] of [[5, 7], [12, 10], [23, 9]]) {
      const js = new CenteredFft2(H, W), wasm = new WasmFft2(H, W);
      const n = H * W, C = 3;
      for (const sets of [1, 2]) {
        const maps = randomComplex(sets * C * n, n + sets);
        const x = randomComplex(sets * n, n + 7);
        const acc0 = randomComplex(sets * n, n + 9);
        for (const m of [...masks(H, W, n), new Float32Array(n).fill(1), new Float32Array(n).fill(0.5)]) {
          const c = 1; // the coil's map of set s starts at 2((s·C + c)·n)
          const offsets = Array.from({ length: sets }, (_, s) => 2 * (s * C + c) * n);
          // reference: io = Σ_s m_s x_s; io ← Fᴴ M F io (TypeScript engine); acc_s += conj(m_s) io
          const io = new Float32Array(2 * n);
          offsets.forEach((o, s) => {
            for (let i = 0; i < n; i++) {
              const [mr, mi, xr, xi] = [maps[o + 2 * i]!, maps[o + 2 * i + 1]!, x[2 * (s * n + i)]!, x[2 * (s * n + i) + 1]!];
              io[2 * i] += mr * xr - mi * xi; io[2 * i + 1] += mr * xi + mi * xr;
            }
          });
          js.maskedRoundTrip(io, 0, js.prepareMask(m));
          const want = acc0.slice();
          offsets.forEach((o, s) => {
            for (let i = 0; i < n; i++) {
              const [mr, mi, vr, vi] = [maps[o + 2 * i]!, maps[o + 2 * i + 1]!, io[2 * i]!, io[2 * i + 1]!];
              want[2 * (s * n + i)] += mr * vr + mi * vi; want[2 * (s * n + i) + 1] += mr * vi - mi * vr;
            }
          });
          const got = acc0.slice();
          wasm.senseNormalCoil(maps, offsets, x, 0, got, 0, wasm.prepareMask(m));
          expect(relErr(got, want)).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('the fused CG vector updates match their TypeScript reference (odd lengths, offsets)', () => {
    const wasm = cgVectors(), js = referenceCgVectors;
    expect(wasm.engine).toBe('wasm');
    for (const len of [1, 2, 3, 4, 5, 17, 1000]) {
      const [a, b, c, d] = [1, 2, 3, 4].map((k) => randomComplex(len, len + k).subarray(0, 2 * len));
      const [wx, wr, wp, wAp] = wasm.alloc(4, 2 * len) as [Float32Array, Float32Array, Float32Array, Float32Array];
      wx.set(a!); wr.set(b!); wp.set(c!); wAp.set(d!);
      const [jx, jr, jp, jAp] = [a!.slice(), b!.slice(), c!.slice(), d!.slice()];
      const off = len > 2 ? 3 : 0, n = 2 * len - off;
      expect(wasm.addScaledDot(wAp, wp, 0.3, off, n)).toBeCloseTo(js.addScaledDot(jAp, jp, 0.3, off, n), 4);
      expect(wasm.stepAndNorm(wx, wr, wp, wAp, 0.7, off, n)).toBeCloseTo(js.stepAndNorm(jx, jr, jp, jAp, 0.7, off, n), 4);
      wasm.newDirection(wp, wr, 0.2, off, n);
      js.newDirection(jp, jr, 0.2, off, n);
      for (const [w, j] of [[wx, jx], [wr, jr], [wp, jp], [wAp, jAp]] as const) expect(relErr(w, j)).toBeLessThan(1e-6);
    }
    expect(() => wasm.newDirection(new Float32Array(4), new Float32Array(4), 1, 0, 4)).toThrow(/alloc/);
  });

  it('ESPIRiT\'s per-pixel eigenvectors match their TypeScript reference (C = 1, 3, 8; 1 and 3 maps)', () => {
    for (const [C, maps] of [[1, 1], [3, 1], [3, 3], [8, 1], [8, 3]] as const) {
      // a packed Hermitian operator per pixel: random, plus degenerate pixels (zero, identity)
      const pairs = (C * (C + 1)) / 2, n = 53;
      const g = randomComplex(pairs * n, 17 * C + maps);
      for (let k = 0, c1 = 0; c1 < C; c1++) for (let c2 = 0; c2 <= c1; c2++, k++) {
        if (c1 === c2) g[2 * (k * n + 0) + 1] = 0; // the diagonal is real (the solver ignores its imaginary part)
        g[2 * (k * n + 1)] = 0; g[2 * (k * n + 1) + 1] = 0; // pixel 1: zero
        g[2 * (k * n + 2)] = c1 === c2 ? 1 : 0; g[2 * (k * n + 2) + 1] = 0; // pixel 2: identity
      }
      const op = { data: g, shape: [pairs, 1, n] };
      const wasm = pixelEigenvectors(op, C, 1, n, maps);
      process.env.MODL_KERNELS = 'js';
      const js = pixelEigenvectors(op, C, 1, n, maps);
      delete process.env.MODL_KERNELS;
      expect(relErr(wasm.values, js.values)).toBeLessThan(1e-6);
      for (let m = 0; m < maps; m++) {
        for (let p = 3; p < n; p++) {
          // distinct eigenvalues (random pixels): the same unit vector up to phase
          let sr = 0, si = 0;
          for (let c = 0; c < C; c++) {
            const k = 2 * ((m * C + c) * n + p);
            sr += wasm.vectors[k]! * js.vectors[k]! + wasm.vectors[k + 1]! * js.vectors[k + 1]!;
            si += wasm.vectors[k]! * js.vectors[k + 1]! - wasm.vectors[k + 1]! * js.vectors[k]!;
          }
          expect(Math.hypot(sr, si)).toBeCloseTo(1, 5);
        }
      }
    }
  });

  it('ESPIRiT\'s Gram matrix X Xᴴ matches its definition, in wasm and in TypeScript (odd and even sizes)', () => {
    for (const [rows, cols] of [[1, 1], [5, 3], [8, 8], [37, 53], [288, 361]] as const) {
      const x = randomComplex(rows * cols, rows + cols);
      const xr = Float64Array.from({ length: rows * cols }, (_, i) => x[2 * i]!);
      const xi = Float64Array.from({ length: rows * cols }, (_, i) => x[2 * i + 1]!);
      const results = [gram(xr, xi, rows, cols)];
      process.env.MODL_KERNELS = 'js';
      try {
        results.push(gram(xr, xi, rows, cols));
      } finally {
        delete process.env.MODL_KERNELS;
      }
      for (const a of [0, rows >> 1, rows - 1]) {
        for (const b of [0, (rows * 2) / 3 | 0, rows - 1]) {
          let re = 0, im = 0; // x_a · conj(x_b)
          for (let q = 0; q < cols; q++) {
            re += xr[a * cols + q]! * xr[b * cols + q]! + xi[a * cols + q]! * xi[b * cols + q]!;
            im += xi[a * cols + q]! * xr[b * cols + q]! - xr[a * cols + q]! * xi[b * cols + q]!;
          }
          for (const [gr, gi] of results) {
            expect(gr[a * rows + b]).toBeCloseTo(re, 8); // float64 sums of up to 361 terms of size ≤ 2
            expect(gi[a * rows + b]).toBeCloseTo(im, 8);
          }
        }
      }
    }
  });

  it('MODL_KERNELS=js selects the TypeScript engine', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e',
      "import('./src/physics/fft.ts').then((m) => console.log(m.fftEngine(180, 230)))"],
    { encoding: 'utf8', env: { ...process.env, MODL_KERNELS: 'js' } });
    expect(out.trim()).toBe('js');
  });

  const clang = ['clang-19', 'clang'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
  it.skipIf(!clang)('the committed modules are what scripts/build-wasm.sh builds from wasm/*.c', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modl-wasm-'));
    try {
      // build in a copy of what the script reads, so the tree is left as it is
      execFileSync('bash', ['-c', `mkdir -p "${dir}/scripts" "${dir}/src/physics/wasm" && cp scripts/build-wasm.sh "${dir}/scripts/" && cp src/physics/wasm/*.c "${dir}/src/physics/wasm/" && CLANG=${clang} "${dir}/scripts/build-wasm.sh"`], { stdio: 'ignore' });
      for (const name of ['eig', 'fft', 'vec']) {
        const file = `src/physics/wasm/${name}-wasm-bytes.ts`;
        expect(readFileSync(join(dir, file), 'utf8')).toBe(readFileSync(file, 'utf8'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
