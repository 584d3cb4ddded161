/**
 * `npm run bench modl`: the MoDL network (5×64 denoiser, 10 CG iterations per
 * DC step) on one 230×180×8 slice — the real k-space's maps and mask when
 * ../shared/data is present — inference with K=10 (denoiser on tfjs, and on
 * ONNX Runtime where it loads: what `modl recon` uses, in float32 and int8), a training step with K=1
 * and K=10 (tfjs's tape, and the denoiser on ONNX Runtime: what `modl train`
 * uses), the shipped recipe's step on a readout window, one CG
 * data-consistency solve, peak memory; then the PyTorch peer of ../shared/bench
 * in the same session, with the ratios (modl's: the engines modl uses).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { onnxRuntime, type OnnxRuntime } from '../src/backend/onnx-runtime.js';
import { floatValue, node, onnxModel } from '../src/backend/onnx-graph.js';
import { OnnxDenoiser } from '../src/nn/denoiser-onnx.js';
import { Int8Calibrator, Int8Denoiser } from '../src/nn/denoiser-int8.js';
import { unrolledForward, unrolledGradients } from '../src/nn/modl-onnx.js';
import { Adam } from '../src/nn/adam.js';
import { prepareBatch, type PreparedBatch, type ReconSample } from '../src/nn/batch.js';
import { dataConsistency } from '../src/nn/data-consistency.js';
import { Modl } from '../src/nn/modl.js';
import { loadCflSlice } from '../src/io/cfl.js';
import { birdcageMaps } from '../src/physics/coils.js';
import { czeros } from '../src/physics/complex.js';
import { poissonDiscMask2d, randomMask1d } from '../src/physics/masks.js';
import { readoutWindow } from '../src/physics/readout-window.js';
import { SenseOp, maskFromKspace } from '../src/physics/sense.js';
import { convFlops, medianMs, row, sharedPath } from './util.js';

const PYTHON = '/usr/bin/python3';

function sample(): ReconSample {
  const dir = sharedPath('data', 'kspace');
  if (existsSync(join(dir, 'brain_8coil_poisson8x.cfl'))) {
    const kspace = loadCflSlice(join(dir, 'brain_8coil_poisson8x')).kspace;
    return { kspace, maps: loadCflSlice(join(dir, 'brain_8coil_poisson8x_espirit_bart')).kspace, mask: maskFromKspace(kspace) };
  }
  const [C, H, W] = [8, 180, 230];
  const maps = birdcageMaps(C, H, W);
  const kspace = czeros([C, H, W]);
  new SenseOp(maps, null).forward(Float32Array.from({ length: 2 * H * W }, () => Math.random()), [kspace.data]);
  return { kspace, maps, mask: poissonDiscMask2d(H, W, { acceleration: 8, seed: 1 }).mask };
}

/**
 * The denoiser's rate on ONNX Runtime next to the machine's: GFLOP/s of its
 * convolutions (2·H·W·9·Cin·Cout per layer) in a forward pass and in the
 * gradient pass (forward recomputed, input and kernel gradients: 3× the
 * forward's FLOPs), and of one 1024³ matrix product (MLAS's SGEMM, the best
 * this CPU does through ONNX Runtime).
 */
async function denoiserRates(model: Modl, ort: OnnxRuntime): Promise<void> {
  const [H, W] = [180, 230];
  const { depth, width } = model.denoiser.config;
  const gflop = convFlops(H, W, 1, depth, width) / 1e9;
  const x = Float32Array.from({ length: H * W * 2 }, () => Math.random());
  const net = await OnnxDenoiser.create(model.denoiser, 'batch', ort);
  const forward = await medianMs(() => net.apply(x, [1, H, W, 2], 0), 5, 1);
  const gradient = await medianMs(() => net.backward(x, x, [1, H, W, 2], 0, net.zeroGradients()), 5, 1);
  await net.dispose();
  const n = 1024;
  const matmul = await ort.session(onnxModel({ name: 'peak', nodes: [node('MatMul', ['a', 'b'], 'c')], inputs: [floatValue('a'), floatValue('b')], outputs: [floatValue('c')] }));
  const a = ort.tensor(Float32Array.from({ length: n * n }, () => Math.random()), [n, n]);
  const gemm = await medianMs(() => matmul.run({ a, b: a }), 5, 1);
  await matmul.release();
  const rate = (flop: number, ms: number) => `ms  ${(flop / ms * 1e3).toFixed(1)} GFLOP/s`;
  row(`denoiser forward 230×180 (ONNX Runtime, ${ort.threads} threads)`, forward, rate(gflop, forward));
  row('denoiser gradient pass 230×180 (forward + both gradients)', gradient, rate(3 * gflop, gradient));
  row('the machine: 1024³ matrix product (MLAS SGEMM)', gemm, rate(2 * n ** 3 / 1e9, gemm));
}

export default async function modlBench(): Promise<void> {
  const info = await initBackend();
  console.log(`backend: ${info.description}`);
  const s = sample();
  const batch = prepareBatch([{ ...s, target: { data: new Float32Array(s.kspace.data.length / 8), shape: [180, 230] } }]);
  const model = Modl.create();
  const opt = new Adam(1e-4);
  const vars = model.trainableVariables;
  let peak = process.memoryUsage().rss;
  // a training step (batch statistics, as PyTorch's peer; or batch norm frozen) by tfjs's tape, or with the denoiser on ONNX Runtime
  const tapeStep = (K: number, b: PreparedBatch = batch) => {
    const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(b.target!, model.apply(b.aty, b.problem, 'train', K)) as tf.Scalar, vars);
    opt.step(vars, vars.map((v) => grads[v.name]!));
    value.dataSync();
    tf.dispose([value, grads]);
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const onnxStep = async (onnx: OnnxDenoiser, K: number, b: PreparedBatch = batch) => {
    model.stages = K;
    const { grads } = await unrolledGradients(model, onnx, b.aty, b.problem, (x) => tf.losses.meanSquaredError(b.target!, x) as tf.Scalar);
    opt.step(vars, grads);
    onnx.readWeights();
    tf.dispose(grads);
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const dc = await medianMs(() => tf.tidy(() => {
    dataConsistency(batch.aty, tf.scalar(0.05), batch.problem, { iterations: 10 }).dataSync();
  }), 5, 1);
  const inferTfjs = await medianMs(() => tf.tidy(() => { model.apply(batch.aty, batch.problem, 'infer', 10).dataSync(); }), 3, 1);
  row('MoDL 230×180×8 inference K=10, denoiser on tfjs', inferTfjs, 'ms');
  const ort = await onnxRuntime();
  let infer = inferTfjs, inferInt8 = NaN;
  if (ort) {
    const onnx = await OnnxDenoiser.create(model.denoiser, 'frozen', ort);
    model.stages = 10;
    infer = await medianMs(() => unrolledForward(model, onnx, batch.aty, batch.problem), 3, 1);
    row(`MoDL 230×180×8 inference K=10, denoiser on ONNX Runtime (${ort.threads} threads)`, infer, 'ms');
    await onnx.dispose();
    // --precision int8: activation ranges calibrated on this slice's own passes
    const calibrator = await Int8Calibrator.create(model.denoiser);
    await unrolledForward(model, calibrator, batch.aty, batch.problem);
    const int8 = await Int8Denoiser.create(model.denoiser, calibrator.calibration());
    await calibrator.dispose();
    inferInt8 = await medianMs(() => unrolledForward(model, int8, batch.aty, batch.problem), 3, 1);
    row('MoDL 230×180×8 inference K=10, denoiser on ONNX Runtime in int8', inferInt8, 'ms');
    await int8.dispose();
    await denoiserRates(model, ort);
  } else {
    console.log('(onnxruntime-node not loadable: inference stays on tfjs)');
  }
  const tape = { k1: await medianMs(() => tapeStep(1), 5, 1), k10: await medianMs(() => tapeStep(10), 2, 1) };
  row('MoDL 230×180×8 train step K=1, tfjs', tape.k1, 'ms');
  row('MoDL 230×180×8 train step K=10, tfjs', tape.k10, 'ms');
  // the shipped recipe's training step: K=10 on an exact 112-row readout window of a 1D-masked slice
  const [, H, W] = s.kspace.shape as [number, number, number];
  const oneD = { kspace: s.kspace, maps: s.maps, mask: randomMask1d(H, W, { acceleration: 4, seed: 1 }).mask };
  const rows = Math.min(112, H);
  const win = readoutWindow({ ...oneD, target: { data: new Float32Array(2 * H * W), shape: [H, W] } }, Math.floor((H - rows) / 2), rows);
  const windowBatch = prepareBatch([win]);
  const windowLabel = `train step K=10 on a ${rows}×${W}×8 readout window (the shipped recipe's)`;
  const windowRow = (engine: string, ms: number) => row(`${windowLabel}, ${engine}`, ms, `ms (${(1000 / ms).toFixed(3)} slices/s)`);
  windowRow('tfjs', await medianMs(() => tapeStep(10, windowBatch), 2, 1));
  // what `modl train` runs where ONNX Runtime loads: batch statistics, and batch norm frozen (the recipe's last stage)
  let train = tape;
  if (ort) {
    const batchStats = await OnnxDenoiser.create(model.denoiser, 'batch', ort);
    train = { k1: await medianMs(() => onnxStep(batchStats, 1), 5, 1), k10: await medianMs(() => onnxStep(batchStats, 10), 2, 1) };
    await batchStats.dispose();
    row('MoDL 230×180×8 train step K=1, denoiser on ONNX Runtime', train.k1, 'ms');
    row('MoDL 230×180×8 train step K=10, denoiser on ONNX Runtime', train.k10, 'ms');
    const frozen = await OnnxDenoiser.create(model.denoiser, 'frozen', ort);
    windowRow('batch norm frozen, ONNX Runtime', await medianMs(() => onnxStep(frozen, 10, windowBatch), 2, 1));
    await frozen.dispose();
  }
  windowBatch.dispose();
  const ours = { infer, k1: train.k1, k10: train.k10, dc };
  row('one CG data-consistency solve (10 iterations)', dc, 'ms');
  row('peak memory (process RSS)', peak / 2 ** 20, 'MiB');
  batch.dispose();
  model.dispose();

  const peer = sharedPath('bench', 'torch_modl_peer.py');
  if (!existsSync(peer) || spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    console.log('(PyTorch peer skipped: needs ../shared/bench and /usr/bin/python3 with torch: apt-get install -y python3-torch)');
    return;
  }
  const out = execFileSync(PYTHON, [peer, '230', '180', '8'], { encoding: 'utf8' });
  console.log(out.trim());
  const num = (re: RegExp) => Number(re.exec(out)?.[1]);
  const torch = {
    infer: num(/inference K=10: ([\d.]+)/), k1: num(/train step K=1: ([\d.]+)/),
    k10: num(/train step K=10: ([\d.]+)/), dc: num(/one CG-DC \(10 it\): ([\d.]+)/),
  };
  for (const [k, label] of [['infer', 'inference K=10'], ['k1', 'train step K=1'], ['k10', 'train step K=10'], ['dc', 'CG-DC']] as const) {
    row(`ratio modl / PyTorch, ${label}`, ours[k] / torch[k], 'x (< 1: modl faster)');
  }
  if (ort) {
    row('ratio modl (int8) / PyTorch, inference K=10', inferInt8 / torch.infer, 'x');
    row('ratio modl (tfjs) / PyTorch, train step K=1', tape.k1 / torch.k1, 'x');
    row('ratio modl (tfjs) / PyTorch, train step K=10', tape.k10 / torch.k10, 'x');
  }
}
