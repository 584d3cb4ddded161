/*
 * The vector updates of conjugate gradient (src/physics/cg.ts) in WebAssembly
 * SIMD, fused so that each CG iteration reads its vectors three times rather
 * than five. Products and sums are taken in float64, as the TypeScript loops
 * do (a float32 product is exact in float64). n counts floats.
 *
 * Build: scripts/build-wasm.sh (clang, no libc).
 */
#include <wasm_simd128.h>

typedef v128_t V;

/* What the module exports (scripts/build-wasm.sh links with --export-dynamic). */
#define EXPORT __attribute__((visibility("default")))

/* Σ a_i b_i over four floats, in float64, added to acc. */
static inline V dot4(V acc, V a, V b) {
  V alo = wasm_f64x2_promote_low_f32x4(a), blo = wasm_f64x2_promote_low_f32x4(b);
  V ahi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(a, a, 2, 3, 0, 1));
  V bhi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(b, b, 2, 3, 0, 1));
  return wasm_f64x2_add(acc, wasm_f64x2_add(wasm_f64x2_mul(alo, blo), wasm_f64x2_mul(ahi, bhi)));
}

static inline double total(V acc) { return wasm_f64x2_extract_lane(acc, 0) + wasm_f64x2_extract_lane(acc, 1); }

/* out += lam·v; returns Re⟨v, out⟩ (the p·Ap of CG, with (AᴴA + λI)p in out). */
EXPORT double addScaledDot(float *out, const float *v, float lam, int n) {
  V l = wasm_f32x4_splat(lam), acc = wasm_f64x2_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    V a = wasm_v128_load(v + i), o = wasm_f32x4_add(wasm_v128_load(out + i), wasm_f32x4_mul(l, a));
    wasm_v128_store(out + i, o);
    acc = dot4(acc, a, o);
  }
  double s = total(acc);
  for (; i < n; i++) {
    out[i] += lam * v[i];
    s += (double)v[i] * (double)out[i];
  }
  return s;
}

/* x += α p, r -= α Ap; returns ‖r‖². */
EXPORT double stepAndNorm(float *x, float *r, const float *p, const float *Ap, float alpha, int n) {
  V al = wasm_f32x4_splat(alpha), acc = wasm_f64x2_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    wasm_v128_store(x + i, wasm_f32x4_add(wasm_v128_load(x + i), wasm_f32x4_mul(al, wasm_v128_load(p + i))));
    V ri = wasm_f32x4_sub(wasm_v128_load(r + i), wasm_f32x4_mul(al, wasm_v128_load(Ap + i)));
    wasm_v128_store(r + i, ri);
    acc = dot4(acc, ri, ri);
  }
  double s = total(acc);
  for (; i < n; i++) {
    x[i] += alpha * p[i];
    r[i] -= alpha * Ap[i];
    s += (double)r[i] * (double)r[i];
  }
  return s;
}

/* p = r + β p. */
EXPORT void newDirection(float *p, const float *r, float beta, int n) {
  V b = wasm_f32x4_splat(beta);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, wasm_f32x4_add(wasm_v128_load(r + i), wasm_f32x4_mul(b, wasm_v128_load(p + i))));
  for (; i < n; i++) p[i] = r[i] + beta * p[i];
}
