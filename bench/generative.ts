/**
 * `npm run bench generative`: the VAE/GAN image generators on the wasm backend.
 *
 * 1. Resolution changes, batch 16 at the shapes of the 128×128 networks: a
 *    4×4 stride-2 conv and a 4×4 stride-2 transposed conv (tfjs ops) against
 *    the equal-FLOP pixel-unshuffle + 2×2 conv and 2×2 conv + pixel-shuffle
 *    the networks use, forward and forward + backward (weight and input
 *    gradients); and two generic wasm kernels (StridedSlice, DepthToSpace)
 *    against reshape/transpose formulations of the same values.
 * 2. Training steps (batch 16) and sampling throughput of the shipped configurations.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { DEFAULT_GAN, Gan } from '../src/generative/gan.js';
import { conv, pixelShuffle, pixelUnshuffle } from '../src/generative/layers.js';
import type { GenerativeModel } from '../src/generative/model.js';
import { resampleSquare } from '../src/generative/learned-generator.js';
import { generateImages } from '../src/generative/train.js';
import { DEFAULT_VAE, Vae } from '../src/generative/vae.js';
import { Rng } from '../src/util/random.js';
import { medianMs, row } from './util.js';

const B = 16;

function trainMs(f: (x: tf.Tensor4D, w: tf.Variable) => tf.Tensor, x: tf.Tensor4D, w: tf.Variable): () => void {
  return () => tf.tidy(() => {
    const g = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.square(f(xi as tf.Tensor4D, wi as tf.Variable))))([x, w]);
    g[0]!.dataSync();
    g[1]!.dataSync();
  });
}

async function resolutionChanges(): Promise<void> {
  // [low resolution, channels at 2r, channels at r] of the base-16 networks' middle levels
  for (const [r, cHigh, cLow] of [[32, 32, 64], [16, 64, 128]] as const) {
    const high = tf.randomNormal([B, 2 * r, 2 * r, cHigh]) as tf.Tensor4D;
    const low = tf.randomNormal([B, r, r, cLow]) as tf.Tensor4D;
    const w4 = tf.variable(tf.randomNormal([4, 4, cHigh, cLow], 0, 0.05));
    const w2down = tf.variable(tf.randomNormal([2, 2, 4 * cHigh, cLow], 0, 0.05));
    const w4t = tf.variable(tf.randomNormal([4, 4, cHigh, cLow], 0, 0.05));
    const w2up = tf.variable(tf.randomNormal([2, 2, cLow, 4 * cHigh], 0, 0.05));
    const cases: [string, tf.Tensor4D, tf.Variable, (x: tf.Tensor4D, w: tf.Variable) => tf.Tensor][] = [
      [`down ${2 * r}→${r} ${cHigh}→${cLow}: conv2d 4×4 stride 2`, high, w4, (x, w) => tf.conv2d(x, w as tf.Tensor4D, 2, 'same')],
      [`down ${2 * r}→${r} ${cHigh}→${cLow}: unshuffle + conv 2×2`, high, w2down, (x, w) => conv(pixelUnshuffle(x), w as tf.Tensor4D, null, 0)],
      [`up ${r}→${2 * r} ${cLow}→${cHigh}: conv2dTranspose 4×4 s2`, low, w4t, (x, w) => tf.conv2dTranspose(x, w as tf.Tensor4D, [B, 2 * r, 2 * r, cHigh], 2, 'same')],
      [`up ${r}→${2 * r} ${cLow}→${cHigh}: conv 2×2 + shuffle`, low, w2up, (x, w) => pixelShuffle(conv(x, w as tf.Tensor4D, null, 0))],
    ];
    for (const [label, x, w, f] of cases) {
      row(`${label} fwd`, await medianMs(() => tf.tidy(() => { f(x, w).dataSync(); }), 3, 1), 'ms');
      row(`${label} fwd+bwd`, await medianMs(trainMs(f, x, w), 3, 1), 'ms');
    }
    tf.dispose([high, low, w4, w2down, w4t, w2up]);
  }
  // the wasm kernels behind the slow tfjs ops
  const padded = tf.randomNormal([32, B, 66, 66]);
  row('StridedSlice [32,16,66,66] → [32,16,32,32] (stride 2)', await medianMs(() => tf.tidy(() => { tf.stridedSlice(padded, [0, 0, 1, 1], [32, B, 65, 65], [1, 1, 2, 2]).dataSync(); }), 3, 1), 'ms');
  row('  same values by reshape + slice + transpose', await medianMs(() => tf.tidy(() => {
    tf.reshape(tf.slice(tf.reshape(tf.slice(padded, [0, 0, 1, 1], [32, B, 64, 64]), [32, B, 32, 2, 32, 2]), [0, 0, 0, 0, 0, 0], [32, B, 32, 1, 32, 1]), [32, B, 32, 32]).dataSync();
  }), 3, 1), 'ms');
  const deep = tf.randomNormal([B, 32, 32, 128]) as tf.Tensor4D;
  row('DepthToSpace [16,32,32,128] block 2', await medianMs(() => tf.tidy(() => { tf.depthToSpace(deep, 2).dataSync(); }), 3, 1), 'ms');
  row('  same values by reshape + transpose (pixelShuffle)', await medianMs(() => tf.tidy(() => { pixelShuffle(deep).dataSync(); }), 3, 1), 'ms');
  tf.dispose([padded, deep]);
}

async function models(): Promise<void> {
  const rng = new Rng(1);
  const make: [string, () => GenerativeModel][] = [
    ['VAE (base 16, latent 128)', () => new Vae(DEFAULT_VAE, 1)],
    ['GAN (base 16, critic 16, latent 128)', () => new Gan(DEFAULT_GAN, 1)],
  ];
  for (const [label, create] of make) {
    const m = create();
    const real = tf.randomUniform([B, 128, 128, 1]) as tf.Tensor4D;
    const noise = Float32Array.from({ length: m.noisePerStep(B) }, () => rng.normal());
    const flops = Object.values(m.flopsPerImage()).reduce((a, b) => a + b, 0);
    row(`${label} parameters`, Object.values(m.parameterCounts()).reduce((a, b) => a + b, 0) / 1e6, 'M');
    row(`${label} forward FLOPs / image`, flops / 1e6, 'MFLOP');
    row(`${label} train step, batch ${B}`, await medianMs(() => m.trainStep(real, noise), 3, 1), 'ms');
    const latents = Float32Array.from({ length: 16 * m.latent }, () => rng.normal());
    for (const size of [128, 256] as const) {
      const ms = await medianMs(() => generateImages(m, latents).map((img) => resampleSquare(img, 128, [size, size])), 3, 1);
      row(`${label} sample ${size}×${size}`, (16 * 1000) / ms, 'images/s');
    }
    real.dispose();
    m.dispose();
  }
}

export default async function generativeBench(): Promise<void> {
  const info = await initBackend({ backend: 'wasm' });
  console.log(`backend: ${info.description}`);
  await resolutionChanges();
  await models();
}
