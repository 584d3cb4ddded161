/*
 * ESPIRiT's eigenproblems in WebAssembly: the top eigenvectors of the small
 * Hermitian C×C operator G(x) at every pixel, and one dense n×n problem (the
 * calibration matrix's Gram matrix, also formed here), by the algorithm of
 * src/physics/hermitian-eigen.ts (its TypeScript reference): Householder
 * reduction to a real tridiagonal, implicit QL with Wilkinson shifts whose
 * rotations are recorded, then only the wanted eigenvectors formed. Float64
 * inside; the per-pixel step takes and gives float32.
 *
 * Build: scripts/build-wasm.sh (clang, no libc).
 */

#include <wasm_simd128.h>

#define EXPORT __attribute__((visibility("default")))
#define EPS 2.220446049250313e-16
#define MAX_SWEEPS 60

static inline double fabs_(double x) { return __builtin_fabs(x); }
static inline double sqrt_(double x) { return __builtin_sqrt(x); }

/* √(a² + b²) without overflow or underflow (LAPACK's dlapy2). */
static double pythag(double a, double b) {
  a = fabs_(a); b = fabs_(b);
  double big = a > b ? a : b, small = a > b ? b : a;
  if (big == 0) return 0;
  double t = small / big;
  return big * sqrt_(1 + t * t);
}

/* Working memory of one n×n problem, carved from one float64 block. */
typedef struct {
  double *ar, *ai, *d, *e, *tau, *phase, *offr, *offi, *ur, *ui, *qr, *qi, *vr, *vi, *rc, *rs;
  int *order, *ridx;
  int nrot, cap;
} Work;

static int rotationCapacity(int n) { return MAX_SWEEPS * n * (n - 1) / 2 + 1; }

/* Bytes of working memory for size n, m wanted eigenvectors and room for `rotations` QL rotations. */
static int workBytes(int n, int m, int rotations) {
  int doubles = 2 * n * n + 12 * n + 2 * n * m + 2 * rotations;
  return 8 * doubles + 4 * (n + rotations);
}

/* Bytes of working memory for size n and m wanted eigenvectors (room for every rotation QL may make). */
EXPORT int eigenWorkBytes(int n, int m) { return workBytes(n, m, rotationCapacity(n)); }

static Work layoutWith(double *w, int n, int m, int cap) {
  Work k;
  k.ar = w; w += n * n; k.ai = w; w += n * n;
  k.d = w; w += n; k.e = w; w += n; k.tau = w; w += n; k.phase = w; w += 2 * n;
  k.offr = w; w += n; k.offi = w; w += n; k.ur = w; w += n; k.ui = w; w += n; k.qr = w; w += n; k.qi = w; w += n;
  k.vr = w; w += n * m; k.vi = w; w += n * m;
  k.rc = w; w += cap; k.rs = w; w += cap;
  k.order = (int *)w; k.ridx = k.order + n;
  k.nrot = 0; k.cap = cap;
  return k;
}

static Work layout(double *w, int n, int m) { return layoutWith(w, n, m, rotationCapacity(n)); }

/*
 * The hot loops of the dense problem live in functions called once per column,
 * row or block, never inlined: the engine compiles a function first with its
 * quick baseline compiler and optimises it only for later calls, so work done
 * in one long call would run unoptimised from start to end.
 */
#define PER_CALL __attribute__((noinline))
#define ROTATION_BLOCK 1024

/* Column c of the Householder reduction (tridiagonalise). */
static PER_CALL void householderColumn(Work *k, int n, int c) {
  double *ar = k->ar, *ai = k->ai, *ur = k->ur, *ui = k->ui, *qr = k->qr, *qi = k->qi;
  double x0r = ar[(c + 1) * n + c], x0i = ai[(c + 1) * n + c], rest2 = 0;
  for (int i = c + 2; i < n; i++) rest2 += ar[i * n + c] * ar[i * n + c] + ai[i * n + c] * ai[i * n + c];
  double x0 = pythag(x0r, x0i);
  if (rest2 == 0) { k->offr[c] = x0r; k->offi[c] = x0i; k->tau[c] = 0; return; }
  double norm = sqrt_(x0 * x0 + rest2);
  double cr = x0 > 0 ? x0r / x0 : 1, ci = x0 > 0 ? x0i / x0 : 0;
  for (int i = c + 1; i < n; i++) { ur[i] = ar[i * n + c]; ui[i] = ai[i * n + c]; }
  ur[c + 1] = x0r + cr * norm; ui[c + 1] = x0i + ci * norm;
  k->offr[c] = -cr * norm; k->offi[c] = -ci * norm;
  double t = 1 / (norm * (norm + x0));
  k->tau[c] = t;
  for (int i = c + 1; i < n; i++) { qr[i] = 0; qi[i] = 0; }
  for (int i = c + 1; i < n; i++) {
    double sr = 0, si = 0, uir = ur[i], uii = ui[i];
    const double *rr = ar + i * n, *ri = ai + i * n;
    for (int j = c + 1; j < i; j++) {
      double xr = rr[j], xi = ri[j];
      sr += xr * ur[j] - xi * ui[j]; si += xr * ui[j] + xi * ur[j];
      qr[j] += xr * uir + xi * uii; qi[j] += xr * uii - xi * uir;
    }
    double diag = rr[i];
    qr[i] += sr + diag * uir; qi[i] += si + diag * uii;
  }
  double up = 0;
  for (int i = c + 1; i < n; i++) { qr[i] *= t; qi[i] *= t; up += ur[i] * qr[i] + ui[i] * qi[i]; }
  double half = (t / 2) * up;
  for (int i = c + 1; i < n; i++) { qr[i] -= half * ur[i]; qi[i] -= half * ui[i]; }
  for (int i = c + 1; i < n; i++) {
    double uir = ur[i], uii = ui[i], qir = qr[i], qii = qi[i];
    double *rr = ar + i * n, *ri = ai + i * n;
    for (int j = c + 1; j <= i; j++) {
      rr[j] -= uir * qr[j] + uii * qi[j] + qir * ur[j] + qii * ui[j];
      ri[j] -= uii * qr[j] - uir * qi[j] + qii * ur[j] - qir * ui[j];
    }
  }
  for (int j = c + 1; j < n; j++) { ar[c * n + j] = ur[j]; ai[c * n + j] = ui[j]; }
}

/* Householder reduction of (ar, ai) (lower triangle used), as HermitianEigenSolver.tridiagonalise. */
static void tridiagonalise(Work *k, int n) {
  double *ar = k->ar, *ai = k->ai;
  for (int c = 0; c < n - 2; c++) householderColumn(k, n, c);
  if (n >= 2) { k->offr[n - 2] = ar[(n - 1) * n + n - 2]; k->offi[n - 2] = ai[(n - 1) * n + n - 2]; }
  for (int i = 0; i < n; i++) k->d[i] = ar[i * n + i];
  k->phase[0] = 1; k->phase[1] = 0;
  for (int c = 0; c + 1 < n; c++) {
    double m = pythag(k->offr[c], k->offi[c]);
    double sr = m > 0 ? k->offr[c] / m : 1, si = m > 0 ? k->offi[c] / m : 0;
    double dr = k->phase[2 * c], di = k->phase[2 * c + 1];
    k->phase[2 * c + 2] = dr * sr - di * si;
    k->phase[2 * c + 3] = dr * si + di * sr;
    k->e[c] = m;
  }
}

/* Implicit QL on (d, e), rotations recorded; 0, −1 when it does not converge, −2 when the rotations outgrow k->cap. */
static PER_CALL int diagonalise(Work *k, int n) {
  double *d = k->d, *e = k->e;
  e[n - 1] = 0;
  double norm = 0;
  for (int i = 0; i < n; i++) {
    double r = fabs_(d[i]) + fabs_(e[i]) + (i > 0 ? fabs_(e[i - 1]) : 0);
    if (r > norm) norm = r;
  }
  double small = EPS * norm;
  k->nrot = 0;
  for (int l = 0; l < n; l++) {
    for (int sweep = 0;; sweep++) {
      int m = l;
      for (; m < n - 1; m++) if (fabs_(e[m]) <= small) break;
      if (m == l) break;
      if (sweep == MAX_SWEEPS) return -1;
      double g = (d[l + 1] - d[l]) / (2 * e[l]);
      double r = pythag(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      double s = 1, c = 1, p = 0;
      int i = m - 1;
      for (; i >= l; i--) {
        double f = s * e[i], b = c * e[i];
        r = pythag(f, g);
        e[i + 1] = r;
        if (r == 0) { d[i + 1] -= p; e[m] = 0; break; }
        s = f / r; c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (k->nrot == k->cap) return -2;
        k->ridx[k->nrot] = i; k->rc[k->nrot] = c; k->rs[k->nrot] = s; k->nrot++;
      }
      if (r == 0 && i >= l) continue;
      d[l] -= p; e[l] = g; e[m] = 0;
    }
  }
  return 0;
}

/* Eigenvalues: d, in descending order through `order`; 0, or diagonalise's failure. */
static int eigenvalues(Work *k, int n) {
  tridiagonalise(k, n);
  int status = diagonalise(k, n);
  if (status != 0) return status;
  int *order = k->order;
  const double *d = k->d;
  for (int i = 0; i < n; i++) {
    int j = i;
    for (; j > 0 && d[order[j - 1]] < d[i]; j--) order[j] = order[j - 1];
    order[j] = i;
  }
  return 0;
}

/* QL rotations q = to−1 down to from, applied to the m columns of vr. */
static PER_CALL void applyRotations(Work *k, int m, int from, int to) {
  for (int q = to - 1; q >= from; q--) {
    double *wa = k->vr + k->ridx[q] * m, *wb = wa + m, c = k->rc[q], s = k->rs[q];
    for (int j = 0; j < m; j++) {
      double a = wa[j], b = wb[j];
      wa[j] = c * a + s * b;
      wb[j] = c * b - s * a;
    }
  }
}

/* Householder reflector c applied to the m eigenvectors (vr, vi) (eigenvectors' back-transformation). */
static PER_CALL void reflectBack(Work *k, int n, int m, int c) {
  double *vr = k->vr, *vi = k->vi, *sr = k->qr, *si = k->qi, t = k->tau[c];
  for (int j = 0; j < m; j++) { sr[j] = 0; si[j] = 0; }
  for (int i = c + 1; i < n; i++) {
    double ur = k->ar[c * n + i], ui = k->ai[c * n + i];
    for (int j = 0; j < m; j++) {
      sr[j] += ur * vr[i * m + j] + ui * vi[i * m + j];
      si[j] += ur * vi[i * m + j] - ui * vr[i * m + j];
    }
  }
  for (int j = 0; j < m; j++) { sr[j] *= t; si[j] *= t; }
  for (int i = c + 1; i < n; i++) {
    double ur = k->ar[c * n + i], ui = k->ai[c * n + i];
    for (int j = 0; j < m; j++) {
      vr[i * m + j] -= ur * sr[j] - ui * si[j];
      vi[i * m + j] -= ur * si[j] + ui * sr[j];
    }
  }
}

/* The m leading eigenvectors in (vr, vi), n × m, after eigenvalues(). */
static void eigenvectors(Work *k, int n, int m) {
  double *vr = k->vr, *vi = k->vi;
  const int *order = k->order;
  for (int a = 0; a < n * m; a++) { vr[a] = 0; vi[a] = 0; }
  for (int j = 0; j < m; j++) vr[order[j] * m + j] = 1;
  for (int to = k->nrot; to > 0; to -= ROTATION_BLOCK) applyRotations(k, m, to > ROTATION_BLOCK ? to - ROTATION_BLOCK : 0, to);
  for (int i = 0; i < n; i++) {
    double pr = k->phase[2 * i], pi = k->phase[2 * i + 1];
    for (int j = 0; j < m; j++) { vi[i * m + j] = pi * vr[i * m + j]; vr[i * m + j] *= pr; }
  }
  for (int c = n - 3; c >= 0; c--) if (k->tau[c] != 0) reflectBack(k, n, m, c);
}

/* Eigenvalues (descending, in d's order) and the m leading eigenvectors in (vr, vi), n × m. */
static int decompose(Work *k, int n, int m) {
  if (eigenvalues(k, n) != 0) return -1;
  eigenvectors(k, n, m);
  return 0;
}

/*
 * One dense Hermitian n×n problem, in two steps so that the caller can choose
 * how many eigenvectors to form from the eigenvalues. Its working memory
 * (denseWorkBytes) starts with the matrix, row-major, real parts then
 * imaginary parts (the lower triangle is used), and has room for `rotations`
 * QL rotations: about 1.1 n² are typical, and a problem that needs more
 * returns −2 (call again with more room).
 */
EXPORT int denseWorkBytes(int n, int rotations) { return workBytes(n, n, rotations); }

/*
 * Step 1: all eigenvalues, descending, into values. Returns the number of
 * rotations recorded (step 2 needs it), or −1 (QL did not converge) or −2
 * (more rotations than room).
 */
EXPORT int denseEigenvalues(double *work, int n, int rotations, double *values) {
  Work k = layoutWith(work, n, n, rotations);
  int status = eigenvalues(&k, n);
  if (status != 0) return status;
  for (int j = 0; j < n; j++) values[j] = k.d[k.order[j]];
  return k.nrot;
}

/* Step 2, after step 1 on the same memory: the m leading unit eigenvectors as the columns of (vr, vi), n × m row-major. */
EXPORT void denseEigenvectors(double *work, int n, int rotations, int nrot, int m, double *vr, double *vi) {
  Work k = layoutWith(work, n, n, rotations);
  k.nrot = nrot;
  eigenvectors(&k, n, m);
  for (int a = 0; a < n * m; a++) { vr[a] = k.vr[a]; vi[a] = k.vi[a]; }
}

/*
 * Every pixel p < npix of the packed operator g [C(C+1)/2, npix] (interleaved
 * complex; pair (c1 ≥ c2) at c1(c1+1)/2 + c2): its top m eigenvectors into
 * vectors [m, C, npix] (interleaved complex) and eigenvalues into values [m, npix].
 * Returns 0, or −(p+1) for a pixel whose decomposition did not converge.
 */
EXPORT int pixelEigenvectors(const float *g, int C, int npix, int m, float *vectors, float *values, double *work) {
  Work k = layout(work, C, m);
  for (int p = 0; p < npix; p++) {
    for (int c1 = 0, q = 0; c1 < C; c1++) {
      for (int c2 = 0; c2 <= c1; c2++, q++) {
        const float *x = g + 2 * ((long)q * npix + p);
        k.ar[c1 * C + c2] = x[0]; k.ai[c1 * C + c2] = x[1];
      }
      k.ai[c1 * C + c1] = 0;
    }
    if (decompose(&k, C, m) != 0) return -(p + 1);
    for (int j = 0; j < m; j++) {
      values[(long)j * npix + p] = (float)k.d[k.order[j]];
      for (int c = 0; c < C; c++) {
        float *v = vectors + 2 * ((long)(j * C + c) * npix + p);
        v[0] = (float)k.vr[c * m + j];
        v[1] = (float)k.vi[c * m + j];
      }
    }
  }
  return 0;
}

/* The two lanes of v added. */
static inline double lanesum(v128_t v) { return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1); }

/* Row a of gram (G[a][b] and G[b][a] for b ≥ a). */
static PER_CALL void gramRow(const double *xr, const double *xi, int rows, int cols, double *gr, double *gi, int a) {
  const double *ar = xr + a * cols, *ai = xi + a * cols;
  for (int b = a; b < rows; b += 2) {
    int pair = b + 1 < rows;
    const double *b0r = xr + b * cols, *b0i = xi + b * cols;
    const double *b1r = pair ? b0r + cols : b0r, *b1i = pair ? b0i + cols : b0i;
    v128_t s0r = wasm_f64x2_splat(0.0), s0i = s0r, s1r = s0r, s1i = s0r;
    int q = 0;
    for (; q + 2 <= cols; q += 2) {
      v128_t vr = wasm_v128_load(ar + q), vi = wasm_v128_load(ai + q);
      v128_t w0r = wasm_v128_load(b0r + q), w0i = wasm_v128_load(b0i + q);
      v128_t w1r = wasm_v128_load(b1r + q), w1i = wasm_v128_load(b1i + q);
      s0r = wasm_f64x2_add(s0r, wasm_f64x2_add(wasm_f64x2_mul(vr, w0r), wasm_f64x2_mul(vi, w0i)));
      s0i = wasm_f64x2_add(s0i, wasm_f64x2_sub(wasm_f64x2_mul(vi, w0r), wasm_f64x2_mul(vr, w0i)));
      s1r = wasm_f64x2_add(s1r, wasm_f64x2_add(wasm_f64x2_mul(vr, w1r), wasm_f64x2_mul(vi, w1i)));
      s1i = wasm_f64x2_add(s1i, wasm_f64x2_sub(wasm_f64x2_mul(vi, w1r), wasm_f64x2_mul(vr, w1i)));
    }
    double r0 = lanesum(s0r), i0 = lanesum(s0i), r1 = lanesum(s1r), i1 = lanesum(s1i);
    for (; q < cols; q++) {
      r0 += ar[q] * b0r[q] + ai[q] * b0i[q];
      i0 += ai[q] * b0r[q] - ar[q] * b0i[q];
      r1 += ar[q] * b1r[q] + ai[q] * b1i[q];
      i1 += ai[q] * b1r[q] - ar[q] * b1i[q];
    }
    gr[a * rows + b] = r0; gi[a * rows + b] = i0; gr[b * rows + a] = r0; gi[b * rows + a] = -i0;
    if (pair) { gr[a * rows + b + 1] = r1; gi[a * rows + b + 1] = i1; gr[(b + 1) * rows + a] = r1; gi[(b + 1) * rows + a] = -i1; }
  }
}

/*
 * G = X Xᴴ for X rows × cols complex (planes xr, xi, row-major):
 * G[a][b] = Σ_q x_a[q] conj(x_b[q]), written whole (both triangles) into gr, gi.
 * Rows b go two at a time, so that each load of row a serves both.
 */
EXPORT void gram(const double *xr, const double *xi, int rows, int cols, double *gr, double *gi) {
  for (int a = 0; a < rows; a++) gramRow(xr, xi, rows, cols, gr, gi, a);
}
