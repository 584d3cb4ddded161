/**
 * The two convolutional halves the VAE and the GAN are made of (DCGAN layout,
 * Radford et al. 2016):
 *
 *   ImageDecoder (VAE decoder, GAN generator), z [B, L] → image [B, S, S, 1]:
 *     dense → s₀×s₀×C(s₀) → BN → ReLU,
 *     per level, upsample 'subpixel': 2×2 conv to 4·C(2r) → pixel shuffle → BN → ReLU   (r → 2r)
 *             or upsample 'nearest':  nearest-neighbour ×2 → 3×3 conv to C(2r) → BN → ReLU,
 *     3×3 conv to 1 channel → sigmoid (intensities in [0, 1]).
 *
 *   ImageEncoder (VAE encoder, GAN critic), image → [B, outputs]:
 *     3×3 conv 1 → C(S) → leaky ReLU,
 *     per level, downsample 'unshuffle': pixel unshuffle → 2×2 conv to C(r/2) → norm → leaky ReLU
 *             or downsample 'avgpool':   3×3 conv to C(r/2) → norm → leaky ReLU → 2×2 average pool × 2,
 *     flatten → dense.
 *   The critic's norm is spectral normalisation of every weight (SNGAN) or none
 *   (its gradients are then held in check by the R1 penalty, gan.ts), the
 *   encoder's batch norm. 'avgpool' (2.25× the FLOPs per level) spreads the
 *   critic's input gradient evenly over each 2×2 block instead of in the fixed
 *   sub-pixel pattern of a strided or unshuffled conv. The pool is scaled by 2
 *   (normPool, operator norm 1): a plain average pool has norm ½, so four of
 *   them cap a spectrally normalised critic's scores at 1/16 of its input
 *   distance, too little to reach the hinge margins (the first shipped GAN's
 *   critic sat at real − fake ≈ 1.1 while its generator drew stripes).
 *
 * A sub-pixel conv has its own kernel for each of the four output phases, so a
 * spatially constant feature at resolution r comes out as a pattern of period
 * S/r pixels; a GAN generator drifts into such grids and stripes (Odena et al.
 * 2016, "Deconvolution and checkerboard artifacts"). 'nearest' (resize-conv)
 * maps a constant to a constant, at 2.25× the FLOPs per level.
 *
 * Channels double as the resolution halves: C(r) = min(maxChannels, base·S/r),
 * which keeps each level's cost about equal.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchNorm, conv, leakyRelu, normPool, Params, pixelShuffle, pixelUnshuffle, spectralNormalize, upsampleNearest, type BatchNormParams } from './layers.js';

export interface NetConfig {
  /** Image size S (square); S / startRes must be a power of two. */
  size: number;
  latent: number;
  /** Channels at full resolution. */
  baseChannels: number;
  maxChannels: number;
  /** Lowest resolution s₀ (the dense layer's grid). */
  startRes: number;
  /** How the decoder doubles the resolution (checkpoints from before the option: createModel reads them as 'subpixel'). */
  upsample: 'subpixel' | 'nearest';
}

export function checkNetConfig(c: NetConfig): void {
  const levels = Math.log2(c.size / c.startRes);
  const ints = ['size', 'latent', 'baseChannels', 'maxChannels', 'startRes'] as const;
  for (const k of ints) if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`network ${k} must be a positive integer, got ${c[k]}`);
  if (!Number.isInteger(levels) || levels < 1) throw new Error(`image size ${c.size} must be startRes ${c.startRes} times a power of two`);
  if (c.upsample !== 'subpixel' && c.upsample !== 'nearest') throw new Error(`network upsample must be subpixel or nearest, got '${c.upsample}'`);
}

export function channelsAt(c: NetConfig, res: number): number {
  return Math.min(c.maxChannels, Math.round((c.baseChannels * c.size) / res));
}

interface UpLevel { conv: { kernel: tf.Variable<tf.Rank.R4>; bias: tf.Variable<tf.Rank.R1> | null }; bn: BatchNormParams }

export class ImageDecoder {
  private readonly fc: { kernel: tf.Variable<tf.Rank.R2>; bias: tf.Variable<tf.Rank.R1> };
  private readonly fcNorm: BatchNormParams;
  private readonly levels: UpLevel[] = [];
  private readonly out: { kernel: tf.Variable<tf.Rank.R4>; bias: tf.Variable<tf.Rank.R1> | null };

  constructor(readonly config: NetConfig, params: Params, prefix: string) {
    checkNetConfig(config);
    const s0 = config.startRes;
    const c0 = channelsAt(config, s0);
    this.fc = params.dense(`${prefix}/fc`, config.latent, s0 * s0 * c0, Math.SQRT2);
    this.fcNorm = params.batchNorm(`${prefix}/fc_bn`, c0);
    for (let r = s0, i = 1; r < config.size; r *= 2, i++) {
      const [cin, cout] = [channelsAt(config, r), channelsAt(config, 2 * r)];
      this.levels.push({
        // (batch norm follows: the resize-conv goes without bias)
        conv: this.nearest ? params.conv(`${prefix}/up${i}`, 3, cin, cout, { bias: false }) : params.subPixelConv(`${prefix}/up${i}`, cin, cout),
        bn: params.batchNorm(`${prefix}/up${i}_bn`, channelsAt(config, 2 * r)),
      });
    }
    this.out = params.conv(`${prefix}/out`, 3, channelsAt(config, config.size), 1, { gain: 1 });
  }

  private get nearest(): boolean { return this.config.upsample === 'nearest'; }

  /** Images in [0, 1], [B, S, S, 1]. */
  apply(z: tf.Tensor2D, training: boolean): tf.Tensor4D {
    const { startRes: s0 } = this.config;
    let h = tf.reshape(tf.add(tf.matMul(z, this.fc.kernel), this.fc.bias), [z.shape[0], s0, s0, channelsAt(this.config, s0)]) as tf.Tensor4D;
    h = tf.relu(batchNorm(h, this.fcNorm, training));
    this.levels.forEach((level, i) => {
      h = this.nearest ? conv(upsampleNearest(h), level.conv.kernel, null) : pixelShuffle(conv(h, level.conv.kernel, level.conv.bias, i));
      h = tf.relu(batchNorm(h, level.bn, training));
    });
    return tf.sigmoid(conv(h, this.out.kernel, this.out.bias));
  }
}

interface DownLevel { kernel: tf.Variable<tf.Rank.R4>; bias: tf.Variable<tf.Rank.R1> | null; bn?: BatchNormParams; u?: tf.Variable<tf.Rank.R1> }

export class ImageEncoder {
  private readonly input: DownLevel;
  private readonly levels: DownLevel[] = [];
  private readonly fc: { kernel: tf.Variable<tf.Rank.R2>; bias: tf.Variable<tf.Rank.R1>; u?: tf.Variable<tf.Rank.R1> };

  constructor(
    readonly config: NetConfig, params: Params, prefix: string, readonly outputs: number,
    readonly norm: 'batch' | 'spectral' | 'none', readonly downsample: 'unshuffle' | 'avgpool' = 'unshuffle',
  ) {
    checkNetConfig(config);
    const spectral = norm === 'spectral', batch = norm === 'batch';
    const cS = channelsAt(config, config.size);
    this.input = { ...params.conv(`${prefix}/in`, 3, 1, cS) };
    if (spectral) this.input.u = params.spectralVector(`${prefix}/in`, cS);
    for (let r = config.size, i = 1; r > config.startRes; r /= 2, i++) {
      const cout = channelsAt(config, r / 2);
      // batch norm has its own offset, so those convs go without bias
      const level: DownLevel = downsample === 'unshuffle'
        ? { ...params.conv(`${prefix}/down${i}`, 2, 4 * channelsAt(config, r), cout, { bias: !batch }) }
        : { ...params.conv(`${prefix}/down${i}`, 3, channelsAt(config, r), cout, { bias: !batch }) };
      if (spectral) level.u = params.spectralVector(`${prefix}/down${i}`, cout);
      if (batch) level.bn = params.batchNorm(`${prefix}/down${i}_bn`, cout);
      this.levels.push(level);
    }
    const s0 = config.startRes;
    this.fc = params.dense(`${prefix}/fc`, s0 * s0 * channelsAt(config, s0), outputs);
    if (spectral) this.fc.u = params.spectralVector(`${prefix}/fc`, outputs);
  }

  /** [B, outputs] for images [B, S, S, 1]. */
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    const weight = <T extends tf.Tensor>(w: T, u?: tf.Variable<tf.Rank.R1>): T => (u ? spectralNormalize(w, u, training) : w);
    let h = leakyRelu(conv(x, weight(this.input.kernel, this.input.u), this.input.bias));
    this.levels.forEach((level, i) => {
      const pooled = this.downsample === 'avgpool';
      h = conv(pooled ? h : pixelUnshuffle(h), weight(level.kernel, level.u), level.bias, i);
      if (level.bn) h = batchNorm(h, level.bn, training);
      h = leakyRelu(h);
      if (pooled) h = normPool(h);
    });
    const flat = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
    return tf.add(tf.matMul(flat, weight(this.fc.kernel, this.fc.u)), this.fc.bias);
  }
}

/** FLOPs (2 per multiply-add) of one image through the convolutions and dense layers. */
export function decoderFlops(c: NetConfig): number {
  let f = 2 * c.latent * c.startRes ** 2 * channelsAt(c, c.startRes);
  const perLevel = c.upsample === 'nearest' ? 4 * 9 : 4 * 4; // (2r)²·9 vs r²·4·4 multiply-adds per r²·C(r)·C(2r)
  for (let r = c.startRes; r < c.size; r *= 2) f += 2 * r * r * perLevel * channelsAt(c, r) * channelsAt(c, 2 * r);
  return f + 2 * c.size ** 2 * 9 * channelsAt(c, c.size);
}

export function encoderFlops(c: NetConfig, outputs: number, downsample: 'unshuffle' | 'avgpool' = 'unshuffle'): number {
  let f = 2 * c.size ** 2 * 9 * channelsAt(c, c.size);
  for (let r = c.size; r > c.startRes; r /= 2) {
    f += downsample === 'unshuffle' ? 2 * (r / 2) ** 2 * 16 * channelsAt(c, r) * channelsAt(c, r / 2) : 2 * r * r * 9 * channelsAt(c, r) * channelsAt(c, r / 2);
  }
  return f + 2 * c.startRes ** 2 * channelsAt(c, c.startRes) * outputs;
}
