import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cdotRe, czeros } from '../../src/physics/complex.js';
import { conjugateGradient } from '../../src/physics/cg.js';
import { birdcageMaps } from '../../src/physics/coils.js';
import { equispacedMask1d, poissonDiscMask2d } from '../../src/physics/masks.js';
import { nmse } from '../../src/physics/metrics.js';
import { cgSense, zeroFilledSense } from '../../src/physics/classical.js';
import { SenseBatch, SenseOp, maskFromKspace } from '../../src/physics/sense.js';
import { readCfl, writeCfl } from '../../src/io/cfl.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';
import { randomComplex, relErr } from '../helpers/random.js';

/** A smooth complex test object: an ellipse with inner structure and a slow phase. */
function phantom(H: number, W: number): Float32Array {
  const x = new Float32Array(2 * H * W);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const u = (i - H / 2) / (0.42 * H), v = (j - W / 2) / (0.36 * W);
      const r2 = u * u + v * v;
      if (r2 > 1) continue;
      const mag = 0.6 + 0.3 * Math.cos(6 * u) * Math.sin(4 * v) + (Math.hypot(u - 0.3, v) < 0.2 ? 0.4 : 0);
      const ph = 0.8 * u - 0.5 * v;
      x[2 * (i * W + j)] = mag * Math.cos(ph);
      x[2 * (i * W + j) + 1] = mag * Math.sin(ph);
    }
  }
  return x;
}

describe.skipIf(!HAS_SHARED)('SENSE operator against BART conventions fixtures', () => {
  const load = (name: string) => readCfl(shared(name)).array;
  const maps = () => {
    const m = load('kspace/brain_8coil_poisson8x_espirit_bart');
    return { data: m.data, shape: [8, 180, 230] };
  };
  const image = () => load('conventions/image_230x180').data;
  const mask = () => {
    const m = load('kspace/brain_8coil_poisson8x_mask').data;
    return Float32Array.from({ length: m.length / 2 }, (_, i) => m[2 * i]!);
  };

  it('forward without mask reproduces sense_forward_full', () => {
    const op = new SenseOp(maps(), null);
    const y = new Float32Array(2 * 8 * 180 * 230);
    op.forward(image(), [y]);
    expect(relErr(y, load('conventions/sense_forward_full').data)).toBeLessThan(1e-5);
  });

  it('masked forward reproduces sense_forward_masked', () => {
    const op = new SenseOp(maps(), mask());
    const y = new Float32Array(2 * 8 * 180 * 230);
    op.forward(image(), [y]);
    expect(relErr(y, load('conventions/sense_forward_masked').data)).toBeLessThan(1e-5);
  });

  it('adjoint of the masked forward and the normal operator reproduce sense_adjoint_of_masked', () => {
    const op = new SenseOp(maps(), mask());
    const y = new Float32Array(2 * 8 * 180 * 230);
    op.forward(image(), [y]);
    const x = new Float32Array(2 * 180 * 230);
    op.adjoint([y], x);
    const ref = load('conventions/sense_adjoint_of_masked').data;
    expect(relErr(x, ref)).toBeLessThan(1e-5);
    const n = new Float32Array(2 * 180 * 230);
    op.normal(image(), n);
    expect(relErr(n, ref)).toBeLessThan(1e-5);
  });

  it('the mask recovered from the undersampled k-space equals the given sampling pattern', () => {
    const k = load('kspace/brain_8coil_poisson8x');
    const m = maskFromKspace({ data: k.data, shape: [8, 180, 230] });
    expect(Array.from(m)).toEqual(Array.from(mask()));
  });
});

describe('SENSE operator algebra', () => {
  // general 2D, column (1D Cartesian), row, all-ones and weighted masks: the normal operator has a path for each
  const masks: Record<string, (h: number, w: number) => number> = {
    general: (h, w) => ((h * 31 + w * 7919) % 3 === 0 ? 0 : 1),
    columns: (_h, w) => (w % 3 === 1 ? 1 : 0),
    rows: (h) => (h % 2),
    ones: () => 1,
    weighted: (h, w) => 0.5 + 0.25 * Math.sin(h + 2 * w),
  };
  for (const [C, H, W, kind] of [[3, 7, 5, 'general'], [4, 16, 16, 'general'], [2, 23, 18, 'columns'], [5, 9, 67, 'general'],
    [3, 15, 12, 'columns'], [2, 11, 14, 'rows'], [2, 10, 9, 'ones'], [2, 13, 8, 'weighted']] as const) {
    it(`passes the dot-product adjoint test for ${C}×${H}×${W} with a ${kind} mask`, () => {
      const maps = { data: randomComplex(C * H * W, 1), shape: [C, H, W] };
      const mask = Float32Array.from({ length: H * W }, (_, i) => masks[kind]!(Math.floor(i / W), i % W));
      const op = new SenseOp(maps, mask);
      const x = randomComplex(H * W, 2), y = randomComplex(C * H * W, 3);
      const Ax = new Float32Array(2 * C * H * W), Aty = new Float32Array(2 * H * W);
      op.forward(x, [Ax]);
      op.adjoint([y], Aty);
      // Re⟨Ax, y⟩ = Re⟨x, Aᴴy⟩ and the same for the imaginary parts (rotate y by i).
      const lhs = cdotRe(Ax, y), rhs = cdotRe(x, Aty);
      expect(Math.abs(lhs - rhs) / Math.abs(lhs)).toBeLessThan(1e-5);
      const iy = y.map((_, k) => (k % 2 === 0 ? -y[k + 1]! : y[k - 1]!));
      op.adjoint([iy], Aty);
      const lhsI = cdotRe(Ax, iy), rhsI = cdotRe(x, Aty);
      expect(Math.abs(lhsI - rhsI) / Math.abs(lhsI)).toBeLessThan(1e-5);
      // normal = adjoint ∘ forward
      const n1 = new Float32Array(2 * H * W), n2 = new Float32Array(2 * H * W);
      op.normal(x, n1);
      op.adjoint([Ax], n2);
      expect(relErr(n1, n2)).toBeLessThan(1e-6);
    });
  }

  for (const [S, C, H, W] of [[2, 3, 9, 7], [3, 2, 12, 10]] as const) {
    it(`with ${S} map sets (soft-SENSE) passes the dot-product test and equals the sum of its one-set operators`, () => {
      const maps = { data: randomComplex(S * C * H * W, 5), shape: [S, C, H, W] };
      const mask = Float32Array.from({ length: H * W }, (_, i) => ((i * 7) % 3 === 0 ? 0 : 1));
      const op = new SenseOp(maps, mask);
      expect(op.sampleSize).toBe(S * H * W);
      const n = H * W;
      const x = randomComplex(S * n, 6), y = randomComplex(C * n, 7);
      const Ax = new Float32Array(2 * C * n), Aty = new Float32Array(2 * S * n);
      op.forward(x, [Ax]);
      op.adjoint([y], Aty);
      expect(Math.abs(cdotRe(Ax, y) - cdotRe(x, Aty)) / Math.abs(cdotRe(Ax, y))).toBeLessThan(1e-5);
      // A x = Σ_s A_s x_s and (Aᴴy)_s = A_sᴴ y, with A_s the one-set operator of map set s
      const sum = new Float32Array(2 * C * n), part = new Float32Array(2 * C * n), one = new Float32Array(2 * n);
      for (let s = 0; s < S; s++) {
        const single = new SenseOp({ data: maps.data.subarray(2 * s * C * n, 2 * (s + 1) * C * n), shape: [C, H, W] }, mask);
        single.forward(x.subarray(2 * s * n, 2 * (s + 1) * n), [part]);
        part.forEach((v, i) => { sum[i] += v; });
        single.adjoint([y], one);
        expect(relErr(Aty.subarray(2 * s * n, 2 * (s + 1) * n), one)).toBeLessThan(1e-6);
      }
      expect(relErr(Ax, sum)).toBeLessThan(1e-6);
      const n1 = new Float32Array(2 * S * n), n2 = new Float32Array(2 * S * n);
      op.normal(x, n1);
      op.adjoint([Ax], n2);
      expect(relErr(n1, n2)).toBeLessThan(1e-6);
    });
  }

  it('birdcage maps satisfy Σ|S|² = 1 at every pixel, so the fully sampled normal operator is the identity', () => {
    const maps = birdcageMaps(6, 24, 19);
    const op = new SenseOp(maps, null);
    const x = randomComplex(24 * 19, 4);
    const n = new Float32Array(x.length);
    op.normal(x, n);
    expect(relErr(n, x)).toBeLessThan(1e-5);
  });
});

describe('conjugate gradient and CG-SENSE', () => {
  it('recovers a noiseless 2× equispaced acquisition to NMSE < 1e-4', () => {
    const [H, W, C] = [96, 80, 8];
    const truth = phantom(H, W);
    const maps = birdcageMaps(C, H, W);
    const m = equispacedMask1d(H, W, { acceleration: 2, seed: 1, centerFraction: 0.08 });
    const op = new SenseOp(maps, m.mask);
    const k = czeros([C, H, W]);
    op.forward(truth, [k.data]);
    const { image, relResidual } = cgSense(k, maps, m.mask, { lambda: 0, iterations: 100, tol: 1e-7 });
    expect(relResidual).toBeLessThan(1e-5);
    expect(nmse(truth, image.data)).toBeLessThan(1e-4);
  });

  it('solves each sample of a batch with its own step sizes (batch = separate solves)', () => {
    const [H, W, C] = [20, 17, 4];
    const ops = [1, 2, 3].map((s) => new SenseOp(birdcageMaps(C, H, W, { rotation: s }),
      poissonDiscMask2d(H, W, { acceleration: 2 + s, seed: s, calib: 6 }).mask));
    const b = randomComplex(3 * H * W, 9);
    const lambdas = [0.01, 0.05, 0.2];
    const batch = conjugateGradient(new SenseBatch(ops), b, { lambda: lambdas, maxIter: 8 });
    ops.forEach((op, s) => {
      const n = 2 * H * W;
      const alone = conjugateGradient(op, b.subarray(s * n, (s + 1) * n), { lambda: lambdas[s]!, maxIter: 8 });
      expect(relErr(batch.x.subarray(s * n, (s + 1) * n), alone.x)).toBeLessThan(1e-6);
    });
    // and the answer solves (AᴴA + λI)x = b once converged
    const op = ops[0]!;
    const solved = conjugateGradient(op, b.subarray(0, 2 * H * W), { lambda: 0.01, maxIter: 200, tol: 1e-7 });
    const lhs = new Float32Array(2 * H * W);
    op.normal(solved.x, lhs);
    for (let i = 0; i < lhs.length; i++) lhs[i] += 0.01 * solved.x[i]!;
    expect(relErr(lhs, b.subarray(0, 2 * H * W))).toBeLessThan(1e-5);
  });

  it('zero-filled SENSE is the adjoint applied to the data', () => {
    const [H, W, C] = [12, 10, 3];
    const maps = birdcageMaps(C, H, W);
    const k = { data: randomComplex(C * H * W, 5), shape: [C, H, W] };
    const x = zeroFilledSense(k, maps, null);
    const ref = new Float32Array(2 * H * W);
    new SenseOp(maps, null).adjoint([k.data], ref);
    expect(Array.from(x.data)).toEqual(Array.from(ref));
  });
});

function hasBart(): boolean {
  try { execFileSync('bart', ['version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

describe.skipIf(!HAS_SHARED || !hasBart())('CG-SENSE on real k-space against BART', () => {
  it('agrees with `bart pics -l2 -r 0.001 -i 30` on brain_8coil_poisson8x', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modl-bart-'));
    const out = join(dir, 'cgsense');
    execFileSync('bart', ['pics', '-S', '-l2', '-r', '0.001', '-i', '30', shared('kspace/brain_8coil_poisson8x'),
      shared('kspace/brain_8coil_poisson8x_espirit_bart'), out], { stdio: 'ignore' });
    const ref = readCfl(out).array.data;
    const k = readCfl(shared('kspace/brain_8coil_poisson8x')).array;
    const maps = readCfl(shared('kspace/brain_8coil_poisson8x_espirit_bart')).array;
    const kk = { data: k.data, shape: [8, 180, 230] }, mm = { data: maps.data, shape: [8, 180, 230] };
    const ours = cgSense(kk, mm, maskFromKspace(kk), { lambda: 0.001, iterations: 30 }).image.data;
    const mag = (d: Float32Array) => Float32Array.from({ length: d.length / 2 }, (_, i) => Math.hypot(d[2 * i]!, d[2 * i + 1]!));
    const nrmse = Math.sqrt(nmse(mag(ref), mag(ours)));
    console.log(`CG-SENSE vs BART pics: NRMSE ${nrmse.toExponential(3)}`);
    expect(nrmse).toBeLessThan(1e-3);
  });
});

describe.skipIf(!HAS_SHARED || !hasBart())('soft-SENSE (two ESPIRiT map sets) against BART', () => {
  it('`modl recon --method cgsense --maps` with ecalib -m2 maps agrees with `bart pics -S -l2 -r 0.001 -i 10`, one image per set in dim 4', async () => {
    const { default: recon } = await import('../../src/cli/commands/recon.js');
    const dir = mkdtempSync(join(tmpdir(), 'modl-soft-'));
    const k = readCfl(shared('kspace/brain_alias_8ch_full')).array;
    const mask = readCfl(shared('kspace/brain_alias_8ch_masks/mask_R4_s0')).array.data;
    const n = mask.length / 2;
    const masked = { data: k.data.map((v, i) => v * mask[2 * ((i >> 1) % n)]!), shape: k.shape };
    writeCfl(join(dir, 'k'), masked, [1, 320, 168, 8]);
    const maps = shared('kspace/brain_alias_8ch_full_espirit2_bart');
    execFileSync('bart', ['pics', '-S', '-l2', '-r', '0.001', '-i', '10', join(dir, 'k'), maps, join(dir, 'bart')], { stdio: 'ignore' });
    const log = console.log;
    console.log = () => {};
    try {
      await recon.run(['--method', 'cgsense', '--iterations', '10', '--kspace', join(dir, 'k'), '--maps', maps, '--out', join(dir, 'modl')]);
    } finally {
      console.log = log;
    }
    const ours = readCfl(join(dir, 'modl')), ref = readCfl(join(dir, 'bart'));
    expect(ours.dims).toEqual([1, 320, 168, 1, 2]);
    expect(relErr(ours.array.data, ref.array.data)).toBeLessThan(1e-3);
  });
});

describe('the batch SENSE operator', () => {
  it('passes the dot-product adjoint test across slices of different coil counts and masks, and normal = adjoint ∘ forward', async () => {
    const { senseBatch } = await import('../../src/physics/sense-parallel.js');
    const [H, W] = [13, 10];
    const ops = [3, 5].map((C, s) => new SenseOp({ data: randomComplex(2 * C * H * W, 60 + s), shape: [2, C, H, W] },
      s === 0 ? null : equispacedMask1d(H, W, { acceleration: 2, seed: 1 }).mask));
    for (const A of [new SenseBatch(ops), senseBatch(ops)]) {
      const x = randomComplex(A.batch * A.sampleSize, 61);
      const ys = ops.map((op, b) => randomComplex(op.coils * H * W, 62 + b));
      const Ax = ops.map((op) => new Float32Array(2 * op.coils * H * W)), Aty = new Float32Array(x.length);
      A.forward(x, Ax);
      A.adjoint(ys, Aty);
      const lhs = Ax.reduce((sum, a, b) => sum + cdotRe(a, ys[b]!), 0), rhs = cdotRe(x, Aty);
      expect(Math.abs(lhs - rhs) / Math.abs(lhs)).toBeLessThan(1e-5);
      const n1 = new Float32Array(x.length), n2 = new Float32Array(x.length);
      A.normal(x, n1);
      A.adjoint(Ax, n2);
      expect(relErr(n1, n2)).toBeLessThan(1e-6);
      A.dispose();
    }
  });
});

describe('multi-threaded SENSE normal operator', () => {
  it('gives the single-threaded result for a batch with different maps, masks, coil counts and thread splits', async () => {
    const { ParallelSenseBatch, setPhysicsThreads, getPhysicsThreads } = await import('../../src/physics/sense-parallel.js');
    const before = getPhysicsThreads();
    try {
      for (const threads of [2, 3]) {
        setPhysicsThreads(threads);
        const [H, W, C] = [21, 16, 5];
        const ops = [0, 1, 2].map((s) => new SenseOp(birdcageMaps(C + s, H, W, { rotation: s }),
          s === 1 ? null : poissonDiscMask2d(H, W, { acceleration: 2 + s, seed: s, calib: 6 }).mask));
        const x = randomComplex(3 * H * W, 21);
        const ref = new Float32Array(x.length), par = new Float32Array(x.length);
        new SenseBatch(ops).normal(x, ref);
        const p = new ParallelSenseBatch(ops);
        p.normal(x, par);
        p.normal(x, par); // a second call reuses the bound operators
        p.dispose();
        expect(relErr(par, ref)).toBeLessThan(1e-6);
        // two map sets per sample
        const two = [0, 1].map((s) => new SenseOp({ data: randomComplex(2 * C * H * W, 30 + s), shape: [2, C, H, W] },
          poissonDiscMask2d(H, W, { acceleration: 3, seed: s, calib: 6 }).mask));
        const x2 = randomComplex(2 * 2 * H * W, 22);
        const ref2 = new Float32Array(x2.length), par2 = new Float32Array(x2.length);
        new SenseBatch(two).normal(x2, ref2);
        const p2 = new ParallelSenseBatch(two);
        p2.normal(x2, par2);
        p2.dispose();
        expect(relErr(par2, ref2)).toBeLessThan(1e-6);
      }
    } finally {
      setPhysicsThreads(before);
    }
  });
});
