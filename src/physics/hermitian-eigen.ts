/**
 * Eigen-decomposition of a complex Hermitian matrix, the route of LAPACK's zheev
 * (EISPACK htridi / tql2 / htribk):
 *
 * 1. Householder reflections H_k = I − τ_k u_k u_kᴴ reduce A to a Hermitian
 *    tridiagonal T = Qᴴ A Q, Q = H_0 ⋯ H_{n−3};
 * 2. a diagonal phase matrix D makes it real: T = D T' Dᴴ, T' real symmetric;
 * 3. implicit QL with Wilkinson shifts diagonalises T' = Z Λ Zᵀ;
 * 4. the eigenvectors are the columns of Q D Z; only the `count` leading ones
 *    are formed.
 *
 * Working in complex arithmetic at size n costs about a sixth of the real
 * symmetric 2n×2n embedding that a real solver would need (and gives each
 * eigenvalue once, not twice). Float64 throughout.
 */
import { ModlError } from '../util/errors.js';

export interface HermitianEigen {
  /** All n eigenvalues, descending. */
  values: Float64Array;
  /** The leading `count` unit eigenvectors as columns of a row-major n × count matrix (re, im). */
  re: Float64Array;
  im: Float64Array;
}

/** QL sweeps allowed per eigenvalue before giving up (LAPACK: 30; convergence is cubic). */
const MAX_SWEEPS = 60;

/**
 * Eigenvalues (all, descending) and the eigenvectors of the `count` largest of
 * the Hermitian n×n matrix given row-major as (re, im). `count` may be a function
 * of the eigenvalues (descending), for callers that pick the eigenspace by them.
 * The inputs are not changed.
 */
export function hermitianEigen(
  re: Float64Array, im: Float64Array, n: number, count: number | ((values: Float64Array) => number) = n,
): HermitianEigen {
  if (re.length !== n * n || im.length !== n * n) throw new Error(`hermitianEigen: expected ${n}×${n} matrices`);
  const ar = Float64Array.from(re), ai = Float64Array.from(im);
  const { d, e, phase, tau } = tridiagonalise(ar, ai, n);
  // zt: Zᵀ, so that each QL rotation combines two contiguous rows
  const zt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) zt[i * n + i] = 1;
  diagonaliseTridiagonal(d, e, zt, n);

  const order = Array.from(d.keys()).sort((a, b) => d[b]! - d[a]!);
  const values = Float64Array.from(order, (j) => d[j]!);
  const m = typeof count === 'number' ? count : count(values);
  if (!(Number.isInteger(m) && m >= 0 && m <= n)) throw new Error(`hermitianEigen: count ${m} outside 0…${n}`);
  // eigenvector j = Q · D · z_j, the reflectors being stored above the diagonal of (ar, ai)
  const vr = new Float64Array(n * m), vi = new Float64Array(n * m);
  const wr = new Float64Array(n), wi = new Float64Array(n);
  for (let j = 0; j < m; j++) {
    const z = order[j]! * n;
    for (let i = 0; i < n; i++) { wr[i] = phase[2 * i]! * zt[z + i]!; wi[i] = phase[2 * i + 1]! * zt[z + i]!; }
    for (let k = n - 3; k >= 0; k--) applyReflector(ar, ai, n, k, tau[k]!, wr, wi);
    for (let i = 0; i < n; i++) { vr[i * m + j] = wr[i]!; vi[i * m + j] = wi[i]!; }
  }
  return { values, re: vr, im: vi };
}

/**
 * Householder reduction, in place. On return the reflector u_k lies in row k of
 * (ar, ai), columns k+1 … n−1 (a part the reduction no longer needs). Returns T'
 * (diagonal d, off-diagonal e ≥ 0, e[i] coupling i and i+1), D's phases and the τ_k.
 */
function tridiagonalise(ar: Float64Array, ai: Float64Array, n: number): {
  d: Float64Array; e: Float64Array; phase: Float64Array; tau: Float64Array;
} {
  const d = new Float64Array(n), e = new Float64Array(n);
  const offRe = new Float64Array(n), offIm = new Float64Array(n); // T's complex sub-diagonal
  const tau = new Float64Array(n);
  const ur = new Float64Array(n), ui = new Float64Array(n), qr = new Float64Array(n), qi = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // x = A[k+1:, k]; u = x + e^{iθ}‖x‖ e_1 (θ = arg x_0), so that H x = −e^{iθ}‖x‖ e_1
    const x0r = ar[(k + 1) * n + k]!, x0i = ai[(k + 1) * n + k]!;
    let rest2 = 0;
    for (let i = k + 2; i < n; i++) rest2 += ar[i * n + k]! ** 2 + ai[i * n + k]! ** 2;
    const x0 = Math.hypot(x0r, x0i);
    if (rest2 === 0) { offRe[k] = x0r; offIm[k] = x0i; continue; } // already tridiagonal here: τ_k = 0
    const norm = Math.sqrt(x0 * x0 + rest2);
    const cr = x0 > 0 ? x0r / x0 : 1, ci = x0 > 0 ? x0i / x0 : 0;
    for (let i = k + 1; i < n; i++) { ur[i] = ar[i * n + k]!; ui[i] = ai[i * n + k]!; }
    ur[k + 1] = x0r + cr * norm; ui[k + 1] = x0i + ci * norm;
    offRe[k] = -cr * norm; offIm[k] = -ci * norm;
    const t = 1 / (norm * (norm + x0)); // 2 / ‖u‖², ‖u‖² = 2‖x‖² + 2|x_0|‖x‖
    tau[k] = t;
    // p = τ A u over the trailing block, and uᴴp (real, A being Hermitian)
    let up = 0;
    for (let i = k + 1; i < n; i++) {
      let sr = 0, si = 0;
      for (let j = k + 1, a = i * n + j; j < n; j++, a++) {
        const xr = ar[a]!, xi = ai[a]!;
        sr += xr * ur[j]! - xi * ui[j]!; si += xr * ui[j]! + xi * ur[j]!;
      }
      qr[i] = t * sr; qi[i] = t * si;
      up += ur[i]! * qr[i]! + ui[i]! * qi[i]!;
    }
    // q = p − (τ/2)(uᴴp) u;  A ← A − u qᴴ − q uᴴ
    const half = (t / 2) * up;
    for (let i = k + 1; i < n; i++) { qr[i] = qr[i]! - half * ur[i]!; qi[i] = qi[i]! - half * ui[i]!; }
    for (let i = k + 1; i < n; i++) {
      const uir = ur[i]!, uii = ui[i]!, qir = qr[i]!, qii = qi[i]!;
      for (let j = k + 1, a = i * n + j; j < n; j++, a++) {
        const ujr = ur[j]!, uji = ui[j]!, qjr = qr[j]!, qji = qi[j]!;
        ar[a] = ar[a]! - (uir * qjr + uii * qji + qir * ujr + qii * uji);
        ai[a] = ai[a]! - (uii * qjr - uir * qji + qii * ujr - qir * uji);
      }
    }
    for (let j = k + 1; j < n; j++) { ar[k * n + j] = ur[j]!; ai[k * n + j] = ui[j]!; }
  }
  if (n >= 2) { offRe[n - 2] = ar[(n - 1) * n + n - 2]!; offIm[n - 2] = ai[(n - 1) * n + n - 2]!; }
  for (let i = 0; i < n; i++) d[i] = ar[i * n + i]!;
  // D: d_0 = 1, d_{k+1} = d_k · t_k / |t_k|, so that conj(d_{k+1}) t_k d_k = |t_k|
  const phase = new Float64Array(2 * n);
  phase[0] = 1;
  for (let k = 0; k + 1 < n; k++) {
    const m = Math.hypot(offRe[k]!, offIm[k]!);
    const sr = m > 0 ? offRe[k]! / m : 1, si = m > 0 ? offIm[k]! / m : 0;
    const dr = phase[2 * k]!, di = phase[2 * k + 1]!;
    phase[2 * k + 2] = dr * sr - di * si;
    phase[2 * k + 3] = dr * si + di * sr;
    e[k] = m;
  }
  return { d, e, phase, tau };
}

/** w ← H_k w = w − τ_k u_k (u_kᴴ w), u_k in row k of (ar, ai), columns k+1 … n−1. */
function applyReflector(ar: Float64Array, ai: Float64Array, n: number, k: number, t: number, wr: Float64Array, wi: Float64Array): void {
  if (t === 0) return;
  let sr = 0, si = 0;
  for (let i = k + 1, a = k * n + i; i < n; i++, a++) {
    const ur = ar[a]!, ui = ai[a]!;
    sr += ur * wr[i]! + ui * wi[i]!;
    si += ur * wi[i]! - ui * wr[i]!;
  }
  sr *= t; si *= t;
  for (let i = k + 1, a = k * n + i; i < n; i++, a++) {
    const ur = ar[a]!, ui = ai[a]!;
    wr[i] = wr[i]! - (ur * sr - ui * si);
    wi[i] = wi[i]! - (ur * si + ui * sr);
  }
}

/**
 * Implicit QL with Wilkinson shifts on the real symmetric tridiagonal (d, e),
 * in place: d becomes the eigenvalues (unsorted), row i of zt the eigenvector of d[i]
 * (rotations accumulated into zt, which starts as the identity).
 */
function diagonaliseTridiagonal(d: Float64Array, e: Float64Array, zt: Float64Array, n: number): void {
  e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    for (let sweep = 0; ; sweep++) {
      let m = l;
      for (; m < n - 1; m++) {
        if (Math.abs(e[m]!) <= Number.EPSILON * (Math.abs(d[m]!) + Math.abs(d[m + 1]!))) break;
      }
      if (m === l) break;
      if (sweep === MAX_SWEEPS) throw new ModlError(`the eigen-decomposition did not converge (eigenvalue ${l} of ${n})`);
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i]!, b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) { d[i + 1] = d[i + 1]! - p; e[m] = 0; break; }
        s = f / r; c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        const a = i * n, a1 = a + n;
        for (let k = 0; k < n; k++) {
          const zi = zt[a + k]!, zi1 = zt[a1 + k]!;
          zt[a1 + k] = s * zi + c * zi1;
          zt[a + k] = c * zi - s * zi1;
        }
      }
      if (r === 0 && i >= l) continue;
      d[l] = d[l]! - p; e[l] = g; e[m] = 0;
    }
  }
}
