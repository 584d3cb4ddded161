/**
 * A denoiser made exactly equivariant to flips and complex conjugation by
 * averaging over them (group averaging, as in equivariant unrolled networks):
 *
 *   D_G(x) = 1/|G| Σ_{T∈G} T⁻¹ D(T x)
 *
 * A CNN trained with flip augmentation is only nearly equivariant; what it does
 * differently on a flipped image is variance, and the average removes it inside
 * every unrolled stage (at |G| denoiser passes per stage). Each T here, a
 * reversal of rows and/or columns and/or negating the imaginary part, is its own
 * inverse and orthogonal, so the gradient is the same average:
 * ∂⟨D_G(x), g⟩/∂x = 1/|G| Σ T J(Tx)ᵀ T g.
 *
 * G for n = 1, 2, 4, 8 is physics/symmetry.ts's symmetries(n), or at stage k
 * one of its cosets (DenoiserConfig.symmetryPlan 'cycled'), where T⁻¹ D(T x)
 * averages the same way. The variants of
 * a batch run as one batch of |G|·B images, variant-major, on either engine
 * (tfjs ops here, flat arrays for ONNX Runtime).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Symmetry } from '../physics/symmetry.js';

function transformTensor(x: tf.Tensor4D, s: Symmetry): tf.Tensor4D {
  const axes = [...(s.flipH ? [1] : []), ...(s.flipW ? [2] : [])];
  let y = axes.length ? tf.reverse(x, axes) : x;
  if (s.conj) y = tf.mul(y, tf.tensor1d([1, -1]));
  return y;
}

/** Whether the group is the identity alone (D_G = D, nothing to transform). */
export function isTrivial(group: Symmetry[]): boolean {
  return group.length === 1 && !group[0]!.flipH && !group[0]!.flipW && !group[0]!.conj;
}

/** D_G(x) for x [B, H, W, 2], where `apply` runs D on a batch of variants. */
export function symmetrised(x: tf.Tensor4D, group: Symmetry[], apply: (stacked: tf.Tensor4D) => tf.Tensor4D): tf.Tensor4D {
  if (isTrivial(group)) return apply(x);
  return tf.tidy(() => {
    // one variant (a cycled plan's) without concat and split: tfjs 4.22 has no gradient of a 1-way split
    if (group.length === 1) return transformTensor(apply(transformTensor(x, group[0]!)), group[0]!);
    const y = apply(tf.concat(group.map((s) => transformTensor(x, s)), 0));
    const parts = tf.split(y, group.length, 0).map((p, i) => transformTensor(p as tf.Tensor4D, group[i]!));
    return tf.div(tf.addN(parts), group.length) as tf.Tensor4D;
  });
}

/** T(x) into `out` at `offset`, for x [B, H, W, 2] interleaved, times `scale`. */
function transformInto(x: Float32Array, shape: readonly number[], s: Symmetry, out: Float32Array, offset: number, scale = 1): void {
  const [B, H, W] = shape as [number, number, number];
  const im = s.conj ? -scale : scale;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < H; i++) {
      const si = s.flipH ? H - 1 - i : i;
      for (let j = 0; j < W; j++) {
        const sj = s.flipW ? W - 1 - j : j;
        const src = 2 * ((b * H + si) * W + sj), dst = offset + 2 * ((b * H + i) * W + j);
        out[dst] = scale * x[src]!;
        out[dst + 1] = im * x[src + 1]!;
      }
    }
  }
}

/** The |G| variants of a batch as one batch [|G|·B, H, W, 2], each times `scale`. */
export function stackVariants(x: Float32Array, shape: readonly number[], group: Symmetry[], scale = 1): Float32Array {
  const out = new Float32Array(x.length * group.length);
  group.forEach((s, g) => transformInto(x, shape, s, out, g * x.length, scale));
  return out;
}

/** Σ_T T(y_T) / divisor over a stacked batch [|G|·B, H, W, 2]: the inverse of stackVariants, summed. */
export function foldVariants(y: Float32Array, shape: readonly number[], group: Symmetry[], divisor: number): Float32Array {
  const n = y.length / group.length, out = new Float32Array(n), part = new Float32Array(n);
  group.forEach((s, g) => {
    transformInto(y.subarray(g * n, (g + 1) * n), shape, s, part, 0, 1 / divisor);
    for (let i = 0; i < n; i++) out[i] = out[i]! + part[i]!;
  });
  return out;
}

/** D_G(x) on flat arrays: `pass` runs D on the stacked variants (x itself where G is the identity). */
export async function overVariants(
  x: Float32Array, shape: readonly number[], group: Symmetry[], pass: (data: Float32Array, dims: readonly number[]) => Promise<Float32Array>,
): Promise<Float32Array> {
  if (isTrivial(group)) return pass(x, shape);
  return foldVariants(await pass(stackVariants(x, shape, group), stackedShape(shape, group)), shape, group, group.length);
}

/** The stacked batch's shape for `shape` [B, H, W, 2]. */
export function stackedShape(shape: readonly number[], group: Symmetry[]): number[] {
  return [shape[0]! * group.length, ...shape.slice(1)];
}
