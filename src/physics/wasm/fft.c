/*
 * Batched Stockham FFTs and the centred 2D FFT of modl, in WebAssembly SIMD.
 *
 * The same algorithm as the TypeScript engine (src/physics/dft.ts, fft.ts), in
 * float32: a stage of radix r transforms data laid out as [n][s] (s = batch ×
 * the radices done so far) and its innermost loop runs over the s contiguous
 * complex values, two per 128-bit vector, so every butterfly and twiddle is
 * shared by the two lanes. Plans (radices, twiddles, root tables) are built by
 * fft-wasm.ts and written into this module's memory; a plan is
 *   int[0] = number of stages, then per stage {r, m, twiddles*, roots*}
 * with twiddles (cos, sin)(-2π p k / len) at [(p r + k)·2] and, for odd r > 5,
 * roots cos/sin(2π jk/r) as two h×h tables (h = (r-1)/2) one after the other.
 *
 * Build: scripts/build-wasm.sh (clang, no libc); the module's bytes are
 * committed as src/physics/wasm/fft-wasm-bytes.ts.
 */
#include <wasm_simd128.h>

typedef v128_t V;

/* What the module exports (scripts/build-wasm.sh links with --export-dynamic). */
#define EXPORT __attribute__((visibility("default")))

static inline V ld(const float *p, int half) { return half ? wasm_v128_load64_zero(p) : wasm_v128_load(p); }
static inline void st(float *p, V v, int half) {
  if (half) wasm_v128_store64_lane(p, v, 0);
  else wasm_v128_store(p, v);
}
/* (re, im) pairs swapped: multiplying it by (-t, t) is multiplying by i·t. */
static inline V swap(V a) { return wasm_i32x4_shuffle(a, a, 1, 0, 3, 2); }
static inline V add(V a, V b) { return wasm_f32x4_add(a, b); }
static inline V sub(V a, V b) { return wasm_f32x4_sub(a, b); }
static inline V mul(V a, V b) { return wasm_f32x4_mul(a, b); }
static inline V splat(float x) { return wasm_f32x4_splat(x); }
/* i·t as a vector factor for swap(): (-t, t, -t, t). */
static inline V itimes(float t) { return wasm_f32x4_make(-t, t, -t, t); }

/* A twiddle w = wr + i wi as the two vector factors of cmul. */
typedef struct { V r, i; } Tw;
static inline Tw twiddle(const float *tw, int at, float sign) {
  Tw w = { splat(tw[2 * at]), itimes(-sign * tw[2 * at + 1]) };
  return w;
}
static inline V cmul(V a, Tw w) { return add(mul(a, w.r), mul(swap(a), w.i)); }

/* Each butterfly reads a_j = x[q + s(p + j m)] and writes y[q + s(r p + k)] = w^{pk} DFT_r(a)_k. */

static inline void r2(const float *x, float *y, int i0, int i1, int o0, int o1, Tw w1, int half) {
  V a = ld(x + i0, half), b = ld(x + i1, half);
  st(y + o0, add(a, b), half);
  st(y + o1, cmul(sub(a, b), w1), half);
}

static void radix2(int m, int s, const float *x, float *y, const float *tw, float sign) {
  int ss = 2 * s;
  for (int p = 0; p < m; p++) {
    Tw w1 = twiddle(tw, 2 * p + 1, sign);
    int i0 = ss * p, i1 = ss * (p + m), o0 = ss * 2 * p, o1 = o0 + ss, q = 0;
    for (; q + 4 <= ss; q += 4) r2(x, y, i0 + q, i1 + q, o0 + q, o1 + q, w1, 0);
    if (q < ss) r2(x, y, i0 + q, i1 + q, o0 + q, o1 + q, w1, 1);
  }
}

static inline void r3(const float *x, float *y, int i0, int ss, int m, int o0, Tw w1, Tw w2, V k3, int half) {
  V a0 = ld(x + i0, half), a1 = ld(x + i0 + ss * m, half), a2 = ld(x + i0 + 2 * ss * m, half);
  V u = add(a1, a2);
  V c = sub(a0, mul(splat(0.5f), u));
  V v = mul(swap(sub(a1, a2)), k3);
  st(y + o0, add(a0, u), half);
  st(y + o0 + ss, cmul(add(c, v), w1), half);
  st(y + o0 + 2 * ss, cmul(sub(c, v), w2), half);
}

static void radix3(int m, int s, const float *x, float *y, const float *tw, float sign) {
  int ss = 2 * s;
  V k3 = itimes(sign * 0.86602540378443864676f);
  for (int p = 0; p < m; p++) {
    Tw w1 = twiddle(tw, 3 * p + 1, sign), w2 = twiddle(tw, 3 * p + 2, sign);
    int i0 = ss * p, o0 = ss * 3 * p, q = 0;
    for (; q + 4 <= ss; q += 4) r3(x, y, i0 + q, ss, m, o0 + q, w1, w2, k3, 0);
    if (q < ss) r3(x, y, i0 + q, ss, m, o0 + q, w1, w2, k3, 1);
  }
}

static inline void r4(const float *x, float *y, int i0, int ss, int m, int o0, Tw w1, Tw w2, Tw w3, V isg, int half) {
  V a0 = ld(x + i0, half), a1 = ld(x + i0 + ss * m, half);
  V a2 = ld(x + i0 + 2 * ss * m, half), a3 = ld(x + i0 + 3 * ss * m, half);
  V t0 = add(a0, a2), t1 = sub(a0, a2), t2 = add(a1, a3);
  V t3 = mul(swap(sub(a1, a3)), isg); /* (a1 - a3)·(i sign) */
  st(y + o0, add(t0, t2), half);
  st(y + o0 + ss, cmul(add(t1, t3), w1), half);
  st(y + o0 + 2 * ss, cmul(sub(t0, t2), w2), half);
  st(y + o0 + 3 * ss, cmul(sub(t1, t3), w3), half);
}

static void radix4(int m, int s, const float *x, float *y, const float *tw, float sign) {
  int ss = 2 * s;
  V isg = itimes(sign);
  for (int p = 0; p < m; p++) {
    Tw w1 = twiddle(tw, 4 * p + 1, sign), w2 = twiddle(tw, 4 * p + 2, sign), w3 = twiddle(tw, 4 * p + 3, sign);
    int i0 = ss * p, o0 = ss * 4 * p, q = 0;
    for (; q + 4 <= ss; q += 4) r4(x, y, i0 + q, ss, m, o0 + q, w1, w2, w3, isg, 0);
    if (q < ss) r4(x, y, i0 + q, ss, m, o0 + q, w1, w2, w3, isg, 1);
  }
}

#define C51 0.30901699437494742410f  /* cos(2π/5) */
#define C52 -0.80901699437494742410f /* cos(4π/5) */
#define S51 0.95105651629515357212f  /* sin(2π/5) */
#define S52 0.58778525229247312917f  /* sin(4π/5) */

static inline void r5(const float *x, float *y, int i0, int ss, int m, int o0, const Tw *w, V isg, int half) {
  V a0 = ld(x + i0, half), a1 = ld(x + i0 + ss * m, half), a2 = ld(x + i0 + 2 * ss * m, half);
  V a3 = ld(x + i0 + 3 * ss * m, half), a4 = ld(x + i0 + 4 * ss * m, half);
  V u1 = add(a1, a4), v1 = sub(a1, a4), u2 = add(a2, a3), v2 = sub(a2, a3);
  V c1 = add(a0, add(mul(splat(C51), u1), mul(splat(C52), u2)));
  V c2 = add(a0, add(mul(splat(C52), u1), mul(splat(C51), u2)));
  V e1 = add(mul(splat(S51), v1), mul(splat(S52), v2));
  V e2 = sub(mul(splat(S52), v1), mul(splat(S51), v2));
  V d1 = mul(swap(e1), isg), d2 = mul(swap(e2), isg); /* (i sign)·e */
  st(y + o0, add(a0, add(u1, u2)), half);
  st(y + o0 + ss, cmul(add(c1, d1), w[0]), half);
  st(y + o0 + 2 * ss, cmul(add(c2, d2), w[1]), half);
  st(y + o0 + 3 * ss, cmul(sub(c2, d2), w[2]), half);
  st(y + o0 + 4 * ss, cmul(sub(c1, d1), w[3]), half);
}

static void radix5(int m, int s, const float *x, float *y, const float *tw, float sign) {
  int ss = 2 * s;
  V isg = itimes(sign);
  for (int p = 0; p < m; p++) {
    Tw w[4];
    for (int k = 0; k < 4; k++) w[k] = twiddle(tw, 5 * p + k + 1, sign);
    int i0 = ss * p, o0 = ss * 5 * p, q = 0;
    for (; q + 4 <= ss; q += 4) r5(x, y, i0 + q, ss, m, o0 + q, w, isg, 0);
    if (q < ss) r5(x, y, i0 + q, ss, m, o0 + q, w, isg, 1);
  }
}

/*
 * Generic odd radix r (a prime up to 61). With u_j = a_j + a_{r-j}, v_j = a_j - a_{r-j}:
 *   b_k = a_0 + Σ_j u_j cos(2πjk/r) + (i sign) Σ_j v_j sin(2πjk/r),  b_{r-k}: the same with -(i sign).
 */
#define MAX_HALF 30

static inline void rodd(const float *x, float *y, int i0, int ss, int m, int r, int o0, int p,
                        const float *tw, const float *rc, const float *rs, float sign, V isg, int half) {
  int h = (r - 1) >> 1;
  V u[MAX_HALF], v[MAX_HALF];
  V a0 = ld(x + i0, half), sum = a0;
  for (int j = 1; j <= h; j++) {
    V a = ld(x + i0 + ss * j * m, half), b = ld(x + i0 + ss * (r - j) * m, half);
    u[j - 1] = add(a, b);
    v[j - 1] = sub(a, b);
    sum = add(sum, u[j - 1]);
  }
  st(y + o0, sum, half);
  for (int k = 1; k <= h; k++) {
    const float *ck = rc + (k - 1) * h, *sk = rs + (k - 1) * h;
    V c = a0, e = splat(0.f);
    for (int j = 0; j < h; j++) {
      c = add(c, mul(splat(ck[j]), u[j]));
      e = add(e, mul(splat(sk[j]), v[j]));
    }
    V d = mul(swap(e), isg);
    st(y + o0 + k * ss, cmul(add(c, d), twiddle(tw, p * r + k, sign)), half);
    st(y + o0 + (r - k) * ss, cmul(sub(c, d), twiddle(tw, p * r + r - k, sign)), half);
  }
}

static void radixOdd(int r, int m, int s, const float *x, float *y, const float *tw, const float *roots, float sign) {
  int ss = 2 * s, h = (r - 1) >> 1;
  const float *rc = roots, *rs = roots + h * h;
  V isg = itimes(sign);
  for (int p = 0; p < m; p++) {
    int i0 = ss * p, o0 = ss * r * p, q = 0;
    for (; q + 4 <= ss; q += 4) rodd(x, y, i0 + q, ss, m, r, o0 + q, p, tw, rc, rs, sign, isg, 0);
    if (q < ss) rodd(x, y, i0 + q, ss, m, r, o0 + q, p, tw, rc, rs, sign, isg, 1);
  }
}

/* The unnormalised DFT along the leading axis of x [n][batch] (y: scratch); returns x or y, whichever holds it. */
EXPORT float *dft(const int *plan, float *x, float *y, int batch, float sign) {
  int s = batch;
  for (int i = 0; i < plan[0]; i++) {
    const int *stage = plan + 1 + 4 * i;
    int r = stage[0], m = stage[1];
    const float *tw = (const float *)(__UINTPTR_TYPE__)stage[2], *roots = (const float *)(__UINTPTR_TYPE__)stage[3];
    switch (r) {
      case 2: radix2(m, s, x, y, tw, sign); break;
      case 3: radix3(m, s, x, y, tw, sign); break;
      case 4: radix4(m, s, x, y, tw, sign); break;
      case 5: radix5(m, s, x, y, tw, sign); break;
      default: radixOdd(r, m, s, x, y, tw, roots, sign);
    }
    float *t = x; x = y; y = t;
    s *= r;
  }
  return x;
}

/* ---------------------------------------------------------------- data movement */

static void copy(const float *src, float *dst, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < n; i++) dst[i] = src[i];
}

/* dst [W][H] = src [H][W] with rolls: dst[w][h] = src[(h + cH) mod H][(w + cW) mod W], times s. */
static void transposeRolled(const float *src, float *dst, int H, int W, int cH, int cW, float s) {
  for (int h = 0; h < H; h++) {
    const float *row = src + 2 * ((h + cH) % H) * W;
    for (int w = 0, from = cW; w < W; w++, from = from + 1 == W ? 0 : from + 1) {
      dst[2 * (w * H + h)] = row[2 * from] * s;
      dst[2 * (w * H + h) + 1] = row[2 * from + 1] * s;
    }
  }
}

/* dst[(h + cH) mod H][(w + cW) mod W] = s·src[w][h]: the inverse of transposeRolled. */
static void untransposeRolled(const float *src, float *dst, int H, int W, int cH, int cW, float s) {
  for (int h = 0; h < H; h++) {
    float *row = dst + 2 * ((h + cH) % H) * W;
    for (int w = 0, to = cW; w < W; w++, to = to + 1 == W ? 0 : to + 1) {
      row[2 * to] = src[2 * (w * H + h)] * s;
      row[2 * to + 1] = src[2 * (w * H + h) + 1] * s;
    }
  }
}

/* dst rows j = src rows (j + c) mod H (complex rows of W), times s. */
static void rollRows(const float *src, float *dst, int H, int W, int c, float s) {
  for (int j = 0; j < H; j++) {
    const float *from = src + 2 * ((j + c) % H) * W;
    float *to = dst + 2 * j * W;
    if (s == 1.f) copy(from, to, 2 * W);
    else for (int i = 0; i < 2 * W; i++) to[i] = from[i] * s;
  }
}

static void scaleRows(float *x, const float *w, int rows, int rowLen) {
  for (int j = 0; j < rows; j++) {
    V m = splat(w[j]);
    float *row = x + j * rowLen;
    int i = 0;
    for (; i + 4 <= rowLen; i += 4) wasm_v128_store(row + i, mul(wasm_v128_load(row + i), m));
    for (; i < rowLen; i++) row[i] *= w[j];
  }
}

/* ---------------------------------------------------------------- 2D */

/*
 * io [H][W] ← the centred unitary 2D FFT of io (sign -1) or its inverse (+1):
 * fftshift(fft2(ifftshift(x)))/sqrt(HW). b0, b1: scratch of 2HW floats each.
 */
EXPORT void fft2c(const int *planH, const int *planW, float *io, float *b0, float *b1, int H, int W, float sign) {
  int cH = H >> 1, cW = W >> 1;
  rollRows(io, b0, H, W, cH, 1.f); /* ifftshift along H */
  float *r = dft(planH, b0, b1, W, sign), *t = r == b0 ? b1 : b0;
  transposeRolled(r, t, H, W, H - cH, cW, 1.f); /* fftshift along H, ifftshift along W */
  float *u = dft(planW, t, r, H, sign);
  untransposeRolled(u, io, H, W, 0, cW, 1.f / __builtin_sqrtf((float)H * (float)W)); /* fftshift along W */
}

/*
 * io ← Fᴴ M F io for a mask in uncentred k-space order (see fft.ts prepareMask):
 * kind 1: M varies along H only (mask [H]); 2: along W only (mask [W]);
 * 3: general (mask [W][H], transposed). b0, b1: scratch of 2HW floats each.
 */
EXPORT void maskedRoundTrip(const int *planH, const int *planW, float *io, float *b0, float *b1,
                     const float *mask, int kind, int H, int W) {
  int cH = H >> 1, cW = W >> 1;
  if (kind == 1) {
    rollRows(io, b0, H, W, cH, 1.f);
    float *u = dft(planH, b0, b1, W, -1.f);
    scaleRows(u, mask, H, 2 * W);
    float *v = dft(planH, u, u == b0 ? b1 : b0, W, 1.f);
    rollRows(v, io, H, W, H - cH, 1.f / H);
  } else if (kind == 2) {
    transposeRolled(io, b0, H, W, 0, cW, 1.f);
    float *u = dft(planW, b0, b1, H, -1.f);
    scaleRows(u, mask, W, 2 * H);
    float *v = dft(planW, u, u == b0 ? b1 : b0, H, 1.f);
    untransposeRolled(v, io, H, W, 0, cW, 1.f / W);
  } else {
    rollRows(io, b0, H, W, cH, 1.f);
    float *r = dft(planH, b0, b1, W, -1.f), *t = r == b0 ? b1 : b0;
    transposeRolled(r, t, H, W, 0, cW, 1.f);
    float *u = dft(planW, t, r, H, -1.f);
    for (int i = 0; i < H * W; i++) {
      u[2 * i] *= mask[i];
      u[2 * i + 1] *= mask[i];
    }
    float *v = dft(planW, u, u == b0 ? b1 : b0, H, 1.f), *g = v == b0 ? b1 : b0;
    untransposeRolled(v, g, H, W, 0, cW, 1.f);
    float *z = dft(planH, g, v, W, 1.f);
    rollRows(z, io, H, W, H - cH, 1.f / ((float)H * (float)W));
  }
}

/* ---------------------------------------------------------------- SENSE */

/*
 * One coil's term of the SENSE normal operator, for S map sets:
 *   io = Σ_s m_s ⊙ x_s,  io ← Fᴴ M F io,  acc_s += conj(m_s) ⊙ io
 * maps, x, acc: S planes of HW complex values each (this coil's map of every set).
 * Mask kinds as maskedRoundTrip, and 0: a constant, mask[0].
 */
/* out += a ⊙ b (or conj(a) ⊙ b) on two complex values (one with half). */
static inline void cmacc(float *out, const float *a, const float *b, int conj, int half) {
  V u = ld(a, half), v = ld(b, half);
  V re = wasm_i32x4_shuffle(v, v, 0, 0, 2, 2), im = wasm_i32x4_shuffle(v, v, 1, 1, 3, 3);
  V prod = conj ? add(mul(mul(u, re), wasm_f32x4_make(1.f, -1.f, 1.f, -1.f)), mul(swap(u), im))
                : add(mul(u, re), mul(mul(swap(u), im), wasm_f32x4_make(-1.f, 1.f, -1.f, 1.f)));
  st(out, add(ld(out, half), prod), half);
}

static void cmaccAll(float *out, const float *a, const float *b, int n2, int conj) {
  int i = 0;
  for (; i + 4 <= n2; i += 4) cmacc(out + i, a + i, b + i, conj, 0);
  if (i < n2) cmacc(out + i, a + i, b + i, conj, 1);
}

EXPORT void senseNormalCoil(const int *planH, const int *planW, const float *maps, const float *x, float *acc, int sets,
                     float *io, float *b0, float *b1, const float *mask, int kind, int H, int W) {
  int n2 = 2 * H * W;
  for (int i = 0; i < n2; i++) io[i] = 0.f;
  for (int s = 0; s < sets; s++) cmaccAll(io, maps + s * n2, x + s * n2, n2, 0);
  if (kind == 0) {
    if (mask[0] != 1.f) for (int i = 0; i < n2; i++) io[i] *= mask[0];
  } else {
    maskedRoundTrip(planH, planW, io, b0, b1, mask, kind, H, W);
  }
  for (int s = 0; s < sets; s++) cmaccAll(acc + s * n2, maps + s * n2, io, n2, 1);
}
