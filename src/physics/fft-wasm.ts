/**
 * The centred 2D FFT and the SENSE k-space round trip Fᴴ M F in WebAssembly
 * SIMD (wasm/fft.c): the same Stockham passes as the TypeScript engine, in
 * float32 with two complex values per vector, about 5× faster here. Each WasmFft2
 * owns one instance of the module (its memory holds the plans and work
 * buffers), so every thread that transforms has its own; the compiled module
 * is shared per thread. Data crosses into the module's memory by one copy each
 * way, which is small beside the transform.
 */
import { oddRootTables, stockhamStages, type Stage } from './dft.js';
import { prepareMask, type Fft2, type PreparedMask } from './fft-mask.js';
import { WASM_BASE64 } from './wasm/fft-wasm-bytes.js';
import { ensureMemory, kernelModule, type KernelExports } from './wasm-module.js';

interface FftExports extends KernelExports {
  fft2c(planH: number, planW: number, io: number, b0: number, b1: number, H: number, W: number, sign: number): void;
  maskedRoundTrip(planH: number, planW: number, io: number, b0: number, b1: number, mask: number, kind: number, H: number, W: number): void;
  senseNormalCoil(planH: number, planW: number, maps: number, x: number, acc: number, sets: number,
    io: number, b0: number, b1: number, mask: number, kind: number, H: number, W: number): void;
}

const fftModule = kernelModule<FftExports>(WASM_BASE64);

/** Whether WasmFft2 can serve an H×W transform (WebAssembly SIMD, and no prime factor that needs Bluestein). */
export function wasmFftSupports(H: number, W: number): boolean {
  return fftModule.available() && stockhamStages(H) !== null && stockhamStages(W) !== null;
}

const MASK_KIND = { constant: 0, rows: 1, columns: 2, general: 3 } as const;

export class WasmFft2 implements Fft2 {
  private readonly wasm: FftExports;
  private readonly planH: number;
  private readonly planW: number;
  private readonly io: number;
  private readonly b0: number;
  private readonly b1: number;
  private readonly mask: number;
  private f32: Float32Array;
  /** The first free byte of the module's memory. */
  private top: number;
  /** The prepared mask now in the module's memory. */
  private loadedMask: PreparedMask | null = null;
  /** Room for one coil's maps, x and the accumulator of senseNormalCoil, by number of map sets. */
  private senseBufs: { sets: number; maps: number; x: number; acc: number } | null = null;

  constructor(readonly H: number, readonly W: number) {
    const stagesH = stockhamStages(H), stagesW = stockhamStages(W);
    if (!stagesH || !stagesW) throw new Error(`no WebAssembly FFT for ${H}×${W}: a prime factor above 64`);
    this.wasm = fftModule.instantiate();

    // Layout from the heap base: the two plans with their tables, then io, b0, b1 (2HW floats each) and the mask (HW).
    const tableFloats = (stages: Stage[]) => stages.reduce((n, { r, m }) => n + 2 * m * r + (r > 5 ? 2 * ((r - 1) >> 1) ** 2 : 0), 0);
    const planBytes = (stages: Stage[]) => 4 * (1 + 4 * stages.length + tableFloats(stages));
    this.top = this.wasm.__heap_base.value;
    this.f32 = new Float32Array(this.wasm.memory.buffer);
    const planH = this.reserve(planBytes(stagesH)), planW = this.reserve(planBytes(stagesW));
    const n2 = 2 * H * W;
    this.io = this.reserve(4 * n2);
    this.b0 = this.reserve(4 * n2);
    this.b1 = this.reserve(4 * n2);
    this.mask = this.reserve(4 * Math.max(1, H * W));
    this.planH = this.writePlan(planH, stagesH);
    this.planW = this.writePlan(planW, stagesW);
  }

  /** `bytes` of the module's memory, 16-byte aligned (growing the memory as needed). */
  private reserve(bytes: number): number {
    const at = (this.top + 15) & ~15;
    this.top = (at + bytes + 15) & ~15;
    if (ensureMemory(this.wasm.memory, this.top)) this.f32 = new Float32Array(this.wasm.memory.buffer);
    return at;
  }

  /** Writes a plan at byte offset `at` in fft.c's layout: [stages, {r, m, twiddles*, roots*}…] then the tables. */
  private writePlan(at: number, stages: Stage[]): number {
    const i32 = new Int32Array(this.wasm.memory.buffer);
    let table = at + 4 * (1 + 4 * stages.length);
    i32[at >> 2] = stages.length;
    stages.forEach(({ r, m, cos, sin }, i) => {
      const head = (at >> 2) + 1 + 4 * i;
      i32[head] = r;
      i32[head + 1] = m;
      i32[head + 2] = table;
      for (let j = 0; j < m * r; j++) {
        this.f32[(table >> 2) + 2 * j] = cos[j]!;
        this.f32[(table >> 2) + 2 * j + 1] = sin[j]!;
      }
      table += 8 * m * r;
      i32[head + 3] = 0;
      if (r > 5) {
        const { c, s } = oddRootTables(r);
        i32[head + 3] = table;
        this.f32.set(c, table >> 2);
        this.f32.set(s, (table >> 2) + c.length);
        table += 8 * c.length;
      }
    });
    return at;
  }

  /** dst[dstOff .. dstOff + 2HW) = F(src[srcOff ..]) (or Fᴴ when `inverse`); src and dst may alias. */
  apply(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, inverse: boolean): void {
    const { H, W } = this;
    const n2 = 2 * H * W;
    this.f32.set(src.subarray(srcOff, srcOff + n2), this.io >> 2);
    this.wasm.fft2c(this.planH, this.planW, this.io, this.b0, this.b1, H, W, inverse ? 1 : -1);
    dst.set(this.f32.subarray(this.io >> 2, (this.io >> 2) + n2), dstOff);
  }

  prepareMask(mask: Float32Array): PreparedMask {
    return prepareMask(mask, this.H, this.W);
  }

  /** buf[off .. off + 2HW) ← Fᴴ M F buf, in place. */
  maskedRoundTrip(buf: Float32Array, off: number, mask: PreparedMask): void {
    const { H, W } = this;
    const n2 = 2 * H * W;
    if (mask.kind === 'constant') {
      if (mask.value !== 1) for (let i = off; i < off + n2; i++) buf[i] *= mask.value;
      return;
    }
    this.loadMask(mask);
    this.f32.set(buf.subarray(off, off + n2), this.io >> 2);
    this.wasm.maskedRoundTrip(this.planH, this.planW, this.io, this.b0, this.b1, this.mask, MASK_KIND[mask.kind], H, W);
    buf.set(this.f32.subarray(this.io >> 2, (this.io >> 2) + n2), off);
  }

  private loadMask(mask: PreparedMask): void {
    if (this.loadedMask === mask) return;
    if (mask.kind === 'constant') this.f32[this.mask >> 2] = mask.value;
    else this.f32.set(mask.data, this.mask >> 2);
    this.loadedMask = mask;
  }

  /**
   * acc_s += conj(m_s) ⊙ Fᴴ M F Σ_t m_t ⊙ x_t for one coil with map m_s in each of S sets:
   * that coil's term of the SENSE normal operator, all in the module (sense.ts says what it is).
   * The coil's map of set s starts at mapOffsets[s]; x and acc hold S planes of HW from xOff, accOff.
   */
  senseNormalCoil(maps: Float32Array, mapOffsets: number[], x: Float32Array, xOff: number, acc: Float32Array, accOff: number, mask: PreparedMask): void {
    const { H, W } = this;
    const sets = mapOffsets.length, n2 = 2 * H * W;
    if (!this.senseBufs || this.senseBufs.sets < sets) {
      this.senseBufs = { sets, maps: this.reserve(4 * sets * n2), x: this.reserve(4 * sets * n2), acc: this.reserve(4 * sets * n2) };
    }
    const b = this.senseBufs, f32 = this.f32;
    mapOffsets.forEach((off, s) => f32.set(maps.subarray(off, off + n2), (b.maps >> 2) + s * n2));
    f32.set(x.subarray(xOff, xOff + sets * n2), b.x >> 2);
    f32.set(acc.subarray(accOff, accOff + sets * n2), b.acc >> 2);
    this.loadMask(mask);
    this.wasm.senseNormalCoil(this.planH, this.planW, b.maps, b.x, b.acc, sets, this.io, this.b0, this.b1, this.mask, MASK_KIND[mask.kind], H, W);
    acc.set(f32.subarray(b.acc >> 2, (b.acc >> 2) + sets * n2), accOff);
  }
}
