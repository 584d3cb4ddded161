/**
 * Complex arrays: interleaved (re, im) float32 with a row-major shape, the last
 * dimension varying fastest. `data.length === 2 * product(shape)`.
 *
 * Kept deliberately small: everything numeric in modl works on these buffers
 * directly, so the hot loops never allocate.
 */
export interface CArray {
  data: Float32Array;
  shape: number[];
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function czeros(shape: readonly number[]): CArray {
  return { data: new Float32Array(2 * numel(shape)), shape: [...shape] };
}

/** Wraps an interleaved buffer, checking that its length fits the shape. */
export function cwrap(data: Float32Array, shape: readonly number[]): CArray {
  if (data.length !== 2 * numel(shape)) {
    throw new Error(`complex buffer of ${data.length / 2} elements does not fit shape [${shape.join(', ')}]`);
  }
  return { data, shape: [...shape] };
}

/** |x| per element. */
export function cabs(x: CArray): Float32Array {
  const n = x.data.length >> 1;
  const out = new Float32Array(n);
  const d = x.data;
  for (let i = 0; i < n; i++) out[i] = Math.hypot(d[2 * i]!, d[2 * i + 1]!);
  return out;
}

/** Real part of Σ conj(a)·b, accumulated in float64. */
export function cdotRe(a: Float32Array, b: Float32Array, offset = 0, length = a.length - offset): number {
  let s = 0;
  const end = offset + length;
  for (let i = offset; i < end; i++) s += a[i]! * b[i]!;
  return s;
}

/** Σ |x|², accumulated in float64. */
export function cnorm2(x: Float32Array, offset = 0, length = x.length - offset): number {
  let s = 0;
  const end = offset + length;
  for (let i = offset; i < end; i++) s += x[i]! * x[i]!;
  return s;
}

/** Stacks equally shaped arrays along a new leading dimension. */
export function cstack(items: readonly CArray[]): CArray {
  if (items.length === 0) throw new Error('cstack: nothing to stack');
  const inner = items[0]!.shape;
  const out = czeros([items.length, ...inner]);
  const n = 2 * numel(inner);
  items.forEach((it, i) => {
    if (it.shape.join() !== inner.join()) throw new Error(`cstack: shape [${it.shape}] differs from [${inner}]`);
    out.data.set(it.data, i * n);
  });
  return out;
}
