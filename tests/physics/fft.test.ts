import { describe, expect, it } from 'vitest';
import { dftPlan, fft2c, ifft2c } from '../../src/physics/fft.js';
import { readCfl } from '../../src/io/cfl.js';
import { HAS_SHARED, shared } from '../helpers/shared.js';
import { randomComplex, relErr } from '../helpers/random.js';

/** Float64 reference: X[k] = Σ x[m] exp(sign·2πi·(k−c)(m−c)/n), c = shift (0 for a plain DFT). */
function naiveDft(x: ArrayLike<number>, n: number, sign: number, c = 0): Float64Array {
  const out = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    let re = 0, im = 0;
    for (let m = 0; m < n; m++) {
      const a = (sign * 2 * Math.PI * (((k - c) * (m - c)) % n)) / n;
      re += x[2 * m]! * Math.cos(a) - x[2 * m + 1]! * Math.sin(a);
      im += x[2 * m]! * Math.sin(a) + x[2 * m + 1]! * Math.cos(a);
    }
    out[2 * k] = re;
    out[2 * k + 1] = im;
  }
  return out;
}

/** Centred unitary 2D DFT straight from the definition, separably in float64. */
function naiveFft2c(x: Float32Array, H: number, W: number, inverse = false): Float64Array {
  const sign = inverse ? 1 : -1;
  const tmp = new Float64Array(2 * H * W);
  for (let h = 0; h < H; h++) {
    const row = naiveDft(x.subarray(2 * h * W, 2 * (h + 1) * W), W, sign, W >> 1);
    tmp.set(row, 2 * h * W);
  }
  const out = new Float64Array(2 * H * W);
  const col = new Float64Array(2 * H);
  for (let w = 0; w < W; w++) {
    for (let h = 0; h < H; h++) { col[2 * h] = tmp[2 * (h * W + w)]!; col[2 * h + 1] = tmp[2 * (h * W + w) + 1]!; }
    const X = naiveDft(col, H, sign, H >> 1);
    for (let h = 0; h < H; h++) {
      out[2 * (h * W + w)] = X[2 * h]! / Math.sqrt(H * W);
      out[2 * (h * W + w) + 1] = X[2 * h + 1]! / Math.sqrt(H * W);
    }
  }
  return out;
}

describe('1D DFT plans', () => {
  const sizes = [...Array.from({ length: 17 }, (_, i) => i + 1), 67, 134, 180, 230, 256, 320, 368, 640];
  for (const n of sizes) {
    it(`matches a naive float64 DFT for n=${n}, forward and inverse, batched`, () => {
      const batch = 3;
      const x = randomComplex(n * batch, n);
      for (const sign of [-1, 1] as const) {
        const work = Float64Array.from(x);
        const res = dftPlan(n).run(work, new Float64Array(2 * n * batch), batch, sign);
        for (let q = 0; q < batch; q++) {
          const vec = new Float64Array(2 * n);
          const got = new Float64Array(2 * n);
          for (let k = 0; k < n; k++) {
            vec[2 * k] = x[2 * (k * batch + q)]!; vec[2 * k + 1] = x[2 * (k * batch + q) + 1]!;
            got[2 * k] = res[2 * (k * batch + q)]!; got[2 * k + 1] = res[2 * (k * batch + q) + 1]!;
          }
          expect(relErr(got, naiveDft(vec, n, sign))).toBeLessThan(1e-5);
        }
      }
    });
  }
});

describe('centred unitary 2D FFT', () => {
  for (const [H, W] of [[1, 1], [5, 7], [8, 8], [12, 17], [23, 10], [16, 67], [30, 23]]) {
    it(`matches the definition fftshift(fft2(ifftshift(x)))/√N for ${H}×${W}`, () => {
      const x = randomComplex(H * W, H * 100 + W);
      const X = fft2c({ data: x, shape: [H, W] });
      expect(relErr(X.data, naiveFft2c(x, H, W))).toBeLessThan(1e-5);
      const Xi = ifft2c({ data: x, shape: [H, W] });
      expect(relErr(Xi.data, naiveFft2c(x, H, W, true))).toBeLessThan(1e-5);
    });
  }

  it('is unitary and inverts itself on a batch (230×180, 2 coils)', () => {
    const x = { data: randomComplex(2 * 230 * 180, 7), shape: [2, 230, 180] };
    const X = fft2c(x);
    let ex = 0, eX = 0;
    for (let i = 0; i < x.data.length; i++) { ex += x.data[i]! ** 2; eX += X.data[i]! ** 2; }
    expect(Math.abs(eX / ex - 1)).toBeLessThan(1e-5);
    expect(relErr(ifft2c(X).data, x.data)).toBeLessThan(1e-5);
  });

  it.skipIf(!HAS_SHARED)('reproduces `bart fft -u 3` on the 5×7 fixture', () => {
    const img = readCfl(shared('conventions/image_5x7'));
    const ref = readCfl(shared('conventions/fft_unitary_centered_5x7'));
    expect(img.dims.slice(0, 2)).toEqual([5, 7]);
    // BART dims [5, 7] are row-major [7, 5]: the FFT over both axes is the same either way.
    const out = fft2c({ data: img.array.data, shape: [7, 5] });
    expect(relErr(out.data, ref.array.data)).toBeLessThan(1e-5);
  });
});
