/**
 * The SENSE forward model A = M·F·S for one slice (Pruessmann et al. 1999):
 * coil sensitivities S [C, H, W], the centred unitary 2D FFT F, and a sampling
 * mask M [H, W] (1 where sampled; weights are allowed). Images are [H, W] and
 * k-space is [C, H, W], both interleaved complex float32.
 *
 * Soft-SENSE (ESPIRiT with several map sets, as `bart pics` with `ecalib -m2`
 * maps): maps [S, C, H, W] and an image of S planes [S, H, W], with
 * A x = M F Σ_s S_s x_s. Where a field of view is smaller than the object, the
 * second set holds the folded-in tissue that one set cannot represent.
 *
 * Like sigpy's linops, every SENSE class is a LinearOperator: forward, adjoint,
 * normal (AᴴA) and dispose, batch-first; each writes into a caller-provided
 * buffer. SenseOp is one slice (a batch of one), SenseBatch a batch of them.
 */
import { CArray, numel } from './complex.js';
import { fft2Plan, type Fft2, type PreparedMask } from './fft.js';
import { WasmFft2 } from './fft-wasm.js';

/** A batch of self-adjoint normal operators, one per sample, as CG needs them. */
export interface NormalOperator {
  /** Number of samples in the batch. */
  readonly batch: number;
  /** Complex elements per sample. */
  readonly sampleSize: number;
  /** out = AᴴA x for every sample; x and out are [batch, sampleSize] interleaved complex. */
  normal(x: Float32Array, out: Float32Array): void;
}

/**
 * A batch-first linear operator: images are [batch, sampleSize] complex in one
 * array; k-space, whose coil count may differ between samples, is one array
 * per sample.
 */
export interface LinearOperator extends NormalOperator {
  /** y_b = A_b x_b for every sample. */
  forward(x: Float32Array, y: Float32Array[]): void;
  /** x_b = A_bᴴ y_b for every sample. */
  adjoint(y: Float32Array[], x: Float32Array): void;
  /** Releases what the operator holds beyond its arrays (worker threads' copies, in the threaded one). */
  dispose(): void;
}

/** The one k-space array of a single-slice operator's batch. */
function onlySample(y: Float32Array[]): Float32Array {
  if (y.length !== 1) throw new Error(`a single-slice SENSE operator takes one k-space array, got ${y.length}`);
  return y[0]!;
}

export class SenseOp implements LinearOperator {
  /** ESPIRiT map sets S (1 for plain SENSE). */
  readonly sets: number;
  readonly coils: number;
  readonly H: number;
  readonly W: number;
  readonly batch = 1;
  readonly sampleSize: number;
  private readonly fft: Fft2;
  private readonly coilBuf: Float32Array;
  private readonly preparedMask: PreparedMask;

  /**
   * @param maps coil sensitivities, shape [C, H, W], or [S, C, H, W] for S map sets
   * @param mask sampling mask [H, W] (real); null means fully sampled
   */
  constructor(readonly maps: CArray, readonly mask: Float32Array | null) {
    if (maps.shape.length !== 3 && maps.shape.length !== 4) throw new Error(`SENSE maps must be [coils, H, W] or [sets, coils, H, W], got [${maps.shape}]`);
    [this.sets, this.coils, this.H, this.W] = (maps.shape.length === 3 ? [1, ...maps.shape] : maps.shape) as [number, number, number, number];
    this.sampleSize = this.sets * this.H * this.W;
    if (mask && mask.length !== this.H * this.W) {
      throw new Error(`mask has ${mask.length} elements, the maps' image is ${this.H}×${this.W}`);
    }
    this.fft = fft2Plan(this.H, this.W);
    this.coilBuf = new Float32Array(2 * this.H * this.W);
    // AᴴA applies M² (the same as M for a 0/1 mask): once going out, once coming back
    this.preparedMask = this.fft.prepareMask(mask ? mask.map((m) => m * m) : new Float32Array(this.H * this.W).fill(1));
  }

  /** [H, W], or [S, H, W] with several map sets. */
  get imageShape(): number[] {
    return this.sets === 1 ? [this.H, this.W] : [this.sets, this.H, this.W];
  }

  /** Offset of map (set s, coil c) in the maps' data. */
  private mapOffset(s: number, c: number): number {
    return 2 * (s * this.coils + c) * this.H * this.W;
  }

  /** out [H, W] = Σ_s S_{s,c} x_s: coil c's image of x [S, H, W]. */
  private coilImage(x: Float32Array, c: number, out: Float32Array, outOff: number): void {
    const n = this.H * this.W;
    out.fill(0, outOff, outOff + 2 * n);
    for (let s = 0; s < this.sets; s++) accumulateMap(this.maps.data, this.mapOffset(s, c), x, 2 * s * n, out, outOff, n);
  }

  /** x_s += conj(S_{s,c}) v for every set s. */
  private accumulateCoil(v: Float32Array, c: number, x: Float32Array): void {
    const n = this.H * this.W;
    for (let s = 0; s < this.sets; s++) accumulateConjMap(this.maps.data, this.mapOffset(s, c), v, x, 2 * s * n, n);
  }

  get kspaceShape(): [number, number, number] {
    return [this.coils, this.H, this.W];
  }

  /** y[0] [C, H, W] = M F S x, with x [H, W] (or [S, H, W]). */
  forward(x: Float32Array, ys: Float32Array[]): void {
    const y = onlySample(ys);
    const n = this.H * this.W;
    for (let c = 0; c < this.coils; c++) {
      const off = 2 * c * n;
      this.coilImage(x, c, y, off);
      this.fft.apply(y, off, y, off, false);
      if (this.mask) applyMask(y, off, this.mask);
    }
  }

  /** x [H, W] (or [S, H, W]) = Sᴴ Fᴴ M y, with y[0] [C, H, W]. */
  adjoint(ys: Float32Array[], x: Float32Array): void {
    const y = onlySample(ys);
    const n = this.H * this.W;
    const buf = this.coilBuf;
    x.fill(0);
    for (let c = 0; c < this.coils; c++) {
      const off = 2 * c * n;
      buf.set(y.subarray(off, off + 2 * n));
      if (this.mask) applyMask(buf, 0, this.mask);
      this.fft.apply(buf, 0, buf, 0, true);
      this.accumulateCoil(buf, c, x);
    }
  }

  /** out [H, W] = Sᴴ Fᴴ M² F S x = AᴴA x. */
  normal(x: Float32Array, out: Float32Array): void {
    out.fill(0);
    for (let c = 0; c < this.coils; c++) this.accumulateNormalCoil(x, c, out);
  }

  /** acc += S_cᴴ Fᴴ M² F S_c x: one coil's share of AᴴA x (the unit of work split across threads). */
  accumulateNormalCoil(x: Float32Array, c: number, acc: Float32Array): void {
    if (this.fft instanceof WasmFft2) {
      // the whole term in WebAssembly: the maps' products there too, not only the transforms
      const offsets = Array.from({ length: this.sets }, (_, s) => this.mapOffset(s, c));
      this.fft.senseNormalCoil(this.maps.data, offsets, x, 0, acc, 0, this.preparedMask);
      return;
    }
    this.coilImage(x, c, this.coilBuf, 0);
    this.fft.maskedRoundTrip(this.coilBuf, 0, this.preparedMask);
    this.accumulateCoil(this.coilBuf, c, acc);
  }

  dispose(): void {}
}

/**
 * The SENSE operator of a batch of slices, each with its own maps, coils and
 * mask (all of one image size): batch-first forward, adjoint and normal, and
 * dispose. Images are [B, sampleSize] complex in one array; k-space, whose
 * coil count may differ between slices, is one array per slice. This one runs
 * on the calling thread; senseBatch (sense-parallel.ts) picks the threaded one
 * when it pays.
 */
export class SenseBatch implements LinearOperator {
  readonly batch: number;
  readonly sampleSize: number;

  constructor(readonly ops: SenseOp[]) {
    if (ops.length === 0) throw new Error('SenseBatch needs at least one slice');
    this.batch = ops.length;
    this.sampleSize = ops[0]!.sampleSize;
    if (ops.some((o) => o.sampleSize !== this.sampleSize)) throw new Error('all slices of a SenseBatch must have one image size');
  }

  forward(x: Float32Array, y: Float32Array[]): void {
    const n = 2 * this.sampleSize;
    this.ops.forEach((op, b) => op.forward(x.subarray(b * n, (b + 1) * n), [y[b]!]));
  }

  adjoint(y: Float32Array[], x: Float32Array): void {
    const n = 2 * this.sampleSize;
    this.ops.forEach((op, b) => op.adjoint([y[b]!], x.subarray(b * n, (b + 1) * n)));
  }

  normal(x: Float32Array, out: Float32Array): void {
    const n = 2 * this.sampleSize;
    this.ops.forEach((op, b) => op.normal(x.subarray(b * n, (b + 1) * n), out.subarray(b * n, (b + 1) * n)));
  }

  dispose(): void {}
}

/** out += map ⊙ x over n complex elements. */
function accumulateMap(
  map: Float32Array, mapOff: number, x: Float32Array, xOff: number,
  out: Float32Array, outOff: number, n: number,
): void {
  for (let i = 0; i < 2 * n; i += 2) {
    const mr = map[mapOff + i]!, mi = map[mapOff + i + 1]!;
    const xr = x[xOff + i]!, xi = x[xOff + i + 1]!;
    out[outOff + i] += mr * xr - mi * xi;
    out[outOff + i + 1] += mr * xi + mi * xr;
  }
}

/** acc[accOff..] += conj(map) ⊙ v. */
function accumulateConjMap(map: Float32Array, mapOff: number, v: Float32Array, acc: Float32Array, accOff: number, n: number): void {
  for (let i = 0; i < 2 * n; i += 2) {
    const mr = map[mapOff + i]!, mi = map[mapOff + i + 1]!;
    const vr = v[i]!, vi = v[i + 1]!;
    acc[accOff + i] += mr * vr + mi * vi;
    acc[accOff + i + 1] += mr * vi - mi * vr;
  }
}

function applyMask(k: Float32Array, off: number, mask: Float32Array): void {
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i]!;
    if (m !== 1) {
      k[off + 2 * i] *= m;
      k[off + 2 * i + 1] *= m;
    }
  }
}

/** The sampling pattern of k-space [C, H, W]: 1 where any coil holds a non-zero sample. */
export function maskFromKspace(kspace: CArray): Float32Array {
  const [C, H, W] = kspace.shape as [number, number, number];
  const n = H * W;
  const mask = new Float32Array(n);
  for (let c = 0; c < C; c++) {
    const off = 2 * c * n;
    for (let i = 0; i < n; i++) {
      if (kspace.data[off + 2 * i] !== 0 || kspace.data[off + 2 * i + 1] !== 0) mask[i] = 1;
    }
  }
  return mask;
}

/** Checks that maps [C,H,W] (or [S,C,H,W]), k-space [C,H,W] and mask [H,W] agree, with a message naming the mismatch. */
export function checkSenseShapes(kspace: CArray, maps: CArray, mask?: Float32Array | null): void {
  if (kspace.shape.length !== 3) throw new Error(`k-space must be [coils, H, W], got [${kspace.shape}]`);
  if (maps.shape.slice(-3).join() !== kspace.shape.join() || maps.shape.length > 4) {
    throw new Error(`maps [${maps.shape}] do not match k-space [${kspace.shape}] (coils, H, W)`);
  }
  if (mask && mask.length !== numel(kspace.shape.slice(1))) {
    throw new Error(`mask of ${mask.length} elements does not match the ${kspace.shape[1]}×${kspace.shape[2]} k-space`);
  }
}

/** k-space [C, H, W] with the entries outside `mask` [H, W] zeroed (what a scanner would have stored). */
export function maskKspace(kspace: CArray, mask: Float32Array): CArray {
  const data = kspace.data.slice();
  const n = mask.length;
  for (let i = 0; i < data.length / 2; i++) if (mask[i % n] === 0) data[2 * i] = data[2 * i + 1] = 0;
  return { data, shape: kspace.shape };
}
