/**
 * ONNX Runtime (the optional dependency onnxruntime-node, whose npm package
 * carries its CPU binaries) for the denoiser's passes, inference and training
 * (nn/denoiser-onnx.ts writes their graphs; ONNX Runtime itself has no training
 * API). Its MLAS convolutions run about three times faster per thread than
 * XNNPACK's in tfjs-wasm on x86 CPUs.
 *
 * Used only when tfjs itself runs on the CPU (wasm or cpu backend: a native
 * TensorFlow, possibly on a GPU, is left to do its own work) and not switched
 * off with MODL_DENOISER=tfjs. When the package is missing or fails to load,
 * callers fall back to tfjs.
 */
import { availableParallelism } from 'node:os';
import { ModlError } from '../util/errors.js';
import { currentBackend } from './index.js';

/** The few parts of onnxruntime-node's API used here (typed locally: the package is optional). */
export interface OnnxTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export interface OnnxSession {
  run(feeds: Record<string, OnnxTensor>): Promise<Record<string, OnnxTensor>>;
  release(): Promise<void>;
}

interface OnnxRuntimeModule {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OnnxTensor;
  InferenceSession: {
    create(model: Uint8Array, options: {
      intraOpNumThreads: number; interOpNumThreads: number; graphOptimizationLevel: 'extended'; enableCpuMemArena: boolean;
      extra: { session: { intra_op: { allow_spinning: '0' | '1' } } };
    }): Promise<OnnxSession>;
  };
}

export interface OnnxRuntime {
  /** Threads of each session's convolutions (the backend's computeThreads). */
  threads: number;
  /**
   * `runsOnce`: the session runs about once per job (one of several stage slots).
   * It then does without a memory arena of its own: an arena is sized by the first
   * run, ~20 ms that such a session would pay at every job, and each would hold its
   * own buffers.
   */
  session(model: Uint8Array, o?: { runsOnce?: boolean }): Promise<OnnxSession>;
  tensor(data: Float32Array, dims: readonly number[]): OnnxTensor;
}

let loaded: Promise<OnnxRuntimeModule | null> | undefined;

function loadModule(): Promise<OnnxRuntimeModule | null> {
  loaded ??= import('onnxruntime-node' as string)
    .then((m: { default?: OnnxRuntimeModule } & OnnxRuntimeModule) => m.default ?? m)
    .catch(() => null);
  return loaded;
}

/** Whether inference may use ONNX Runtime: not with MODL_DENOISER=tfjs, nor while tfjs runs on native TensorFlow. */
function onnxRuntimeWanted(): boolean {
  const choice = process.env.MODL_DENOISER;
  if (choice !== undefined && choice !== 'auto' && choice !== 'onnx' && choice !== 'tfjs') {
    throw new ModlError(`MODL_DENOISER must be auto, onnx or tfjs, got '${choice}'`);
  }
  const backend = currentBackend();
  return choice !== 'tfjs' && (!backend || backend.name === 'wasm' || backend.name === 'cpu');
}

/** Whether the denoiser's passes would run on ONNX Runtime under a wasm or cpu backend (before one is chosen). */
export async function onnxRuntimeLoadable(): Promise<boolean> {
  return process.env.MODL_DENOISER !== 'tfjs' && (await loadModule()) !== null;
}

/** ONNX Runtime, or null when it is switched off or cannot be loaded. */
export async function onnxRuntime(): Promise<OnnxRuntime | null> {
  if (!onnxRuntimeWanted()) return null;
  const ort = await loadModule();
  if (!ort) {
    if (process.env.MODL_DENOISER === 'onnx') throw new ModlError('MODL_DENOISER=onnx, but onnxruntime-node cannot be loaded (npm install onnxruntime-node)');
    return null;
  }
  const threads = currentBackend()?.computeThreads ?? availableParallelism();
  return {
    threads,
    // no spinning after a pass: the data-consistency step that follows needs the cores.
    // 'extended' is 'all' less the NCHWc layout pass: in the int8 graph that pass wraps the float
    // convolutions beside QLinearConv in layout reorders that cost more than they save; graphs
    // whose weights are inputs (float32) are not touched by it.
    session: (model, o = {}) => ort.InferenceSession.create(model, {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'extended', enableCpuMemArena: !o.runsOnce, extra: { session: { intra_op: { allow_spinning: '0' } } },
    }),
    tensor: (data, dims) => new ort.Tensor('float32', data, dims),
  };
}
