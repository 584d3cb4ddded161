/**
 * What the 2D FFT engines (fft.ts in TypeScript, fft-wasm.ts in WebAssembly)
 * share: their interface and the sampling mask prepared for Fᴴ M F.
 */

/** A centred unitary 2D FFT of H×W complex images, with the SENSE round trip Fᴴ M F. */
export interface Fft2 {
  readonly H: number;
  readonly W: number;
  /** dst[dstOff .. dstOff + 2HW) = F(src[srcOff ..]) (or Fᴴ when `inverse`); src and dst may alias. */
  apply(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, inverse: boolean): void;
  prepareMask(mask: Float32Array): PreparedMask;
  /** buf[off .. off + 2HW) ← Fᴴ M F buf, in place: the k-space projection inside the SENSE normal operator. */
  maskedRoundTrip(buf: Float32Array, off: number, mask: PreparedMask): void;
}

/**
 * A sampling mask [H, W] prepared for maskedRoundTrip: mask values moved to
 * uncentred k-space order, M'[j] = M[(j + floor(n/2)) mod n] per axis, which
 * lets Fᴴ M F skip the shifts between its forward and inverse halves. Masks
 * that are constant along one axis (1D Cartesian sampling) are separable:
 * Fᴴ M F = I ⊗ F₁ᴴ M₁ F₁, so only 1D transforms along the other axis remain.
 */
export function prepareMask(mask: Float32Array, H: number, W: number): PreparedMask {
  if (mask.length !== H * W) throw new Error(`mask has ${mask.length} elements, expected ${H}×${W}`);
  const cH = H >> 1, cW = W >> 1;
  let colsOnly = true, rowsOnly = true;
  for (let h = 0; h < H && (colsOnly || rowsOnly); h++) {
    for (let w = 0; w < W; w++) {
      if (mask[h * W + w] !== mask[w]) colsOnly = false;
      if (mask[h * W + w] !== mask[h * W]) rowsOnly = false;
    }
  }
  if (colsOnly && rowsOnly) return { kind: 'constant', value: mask[0]!, data: new Float64Array(0) };
  if (colsOnly) return { kind: 'columns', value: 0, data: Float64Array.from({ length: W }, (_, w) => mask[(w + cW) % W]!) };
  if (rowsOnly) return { kind: 'rows', value: 0, data: Float64Array.from({ length: H }, (_, h) => mask[((h + cH) % H) * W]!) };
  // general: stored transposed, [W][H], the layout after the W-axis transform
  const data = new Float64Array(H * W);
  for (let w = 0; w < W; w++) for (let h = 0; h < H; h++) data[w * H + h] = mask[((h + cH) % H) * W + ((w + cW) % W)]!;
  return { kind: 'general', value: 0, data };
}

export interface PreparedMask {
  kind: 'constant' | 'rows' | 'columns' | 'general';
  value: number;
  data: Float64Array;
}
