/**
 * The image losses a MoDL network trains with, of its output against the
 * target, both normalised [B·S, H, W, 2] (S map sets per sample):
 * - 'mse' and 'l1' on the complex image;
 * - 'ssim': 1 − SSIM of the magnitude images (root-sum-of-squares over the
 *   map sets), as fastMRI's SSIMLoss trains its VarNet: physics/metrics.ts's
 *   SSIM (skimage's 7×7 uniform window, K1 0.01, K2 0.03, sample covariance,
 *   the windows inside the image) with each sample's data range the maximum of
 *   its target, so the loss is 1 minus exactly the SSIM every table reports.
 */
import * as tf from '@tensorflow/tfjs-core';

export const IMAGE_LOSSES = ['mse', 'l1', 'ssim'] as const;
export type ImageLoss = (typeof IMAGE_LOSSES)[number];

const SSIM_WINDOW = 7;

/** [B·S, H, W, 2] → the magnitude images [B, H, W, 1]. */
function magnitude(x: tf.Tensor4D, sets: number): tf.Tensor4D {
  const [n, H, W] = x.shape;
  const sumSquares = tf.sum(tf.square(tf.reshape(x, [n / sets, sets, H, W, 2])), [1, 4]);
  // the small floor keeps the gradient of √ finite where an image is exactly zero
  return tf.reshape(tf.sqrt(tf.add(sumSquares, 1e-20)), [n / sets, H, W, 1]);
}

/** Mean SSIM of magnitude images x against ref [B, H, W, 1], each with its own data range [B]. */
function meanSsim(ref: tf.Tensor4D, x: tf.Tensor4D, range: tf.Tensor1D): tf.Scalar {
  const B = ref.shape[0];
  const np = SSIM_WINDOW * SSIM_WINDOW, covNorm = np / (np - 1);
  const box = tf.fill([SSIM_WINDOW, SSIM_WINDOW, 1, 1], 1 / np) as tf.Tensor4D;
  // the five window means in one convolution: x, y, x², y², xy stacked on the batch axis
  const stacked = tf.concat([ref, x, tf.square(ref), tf.square(x), tf.mul(ref, x)], 0) as tf.Tensor4D;
  const means = tf.conv2d(stacked, box, 1, 'valid');
  const [uy, ux, uyy, uxx, uxy] = tf.split(means, [B, B, B, B, B], 0) as tf.Tensor4D[];
  const vx = tf.mul(tf.sub(uxx!, tf.square(ux!)), covNorm);
  const vy = tf.mul(tf.sub(uyy!, tf.square(uy!)), covNorm);
  const vxy = tf.mul(tf.sub(uxy!, tf.mul(ux!, uy!)), covNorm);
  const r2 = tf.reshape(tf.square(range), [B, 1, 1, 1]);
  const c1 = tf.mul(r2, 0.01 ** 2), c2 = tf.mul(r2, 0.03 ** 2);
  const num = tf.mul(tf.add(tf.mul(tf.mul(ux!, uy!), 2), c1), tf.add(tf.mul(vxy, 2), c2));
  const den = tf.mul(tf.add(tf.add(tf.square(ux!), tf.square(uy!)), c1), tf.add(tf.add(vx, vy), c2));
  return tf.mean(tf.div(num, den));
}

/** The loss `kind` of x against target, both [B·S, H, W, 2] with `sets` map sets per sample. */
export function imageLoss(kind: ImageLoss, x: tf.Tensor4D, target: tf.Tensor4D, sets = 1): tf.Scalar {
  return tf.tidy(() => {
    if (kind === 'mse') return tf.losses.meanSquaredError(target, x) as tf.Scalar;
    if (kind === 'l1') return tf.losses.absoluteDifference(target, x) as tf.Scalar;
    const ref = magnitude(target, sets);
    const range = tf.max(ref, [1, 2, 3]) as tf.Tensor1D;
    return tf.sub(1, meanSsim(ref, magnitude(x, sets), range)) as tf.Scalar;
  });
}
