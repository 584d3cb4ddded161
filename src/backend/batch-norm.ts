/**
 * Batch normalisation over N,H,W per channel with a closed-form gradient.
 *
 * tfjs's tf.batchNorm takes the statistics as inputs, so training code builds
 * them with tf.moments and autodiff then differentiates through moments,
 * broadcasts and reductions over leading axes: a dozen full passes, each slow
 * on wasm. Here the training-mode op is one custom-gradient op:
 *
 *   μ = mean(x), σ² = mean((x−μ)²), x̂ = (x−μ)/√(σ²+ε), y = γ·x̂ + β
 *   ∂L/∂β = Σ dy,   ∂L/∂γ = Σ dy·x̂,
 *   ∂L/∂x = γ/√(σ²+ε) · (dy − mean(dy) − x̂·mean(dy·x̂))
 *
 * Per-channel means of an NHWC tensor are taken with a full-image average pool
 * (XNNPACK's multipass pooling: one pass, no transpose), then averaged over N.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface BatchNormOptions {
  epsilon?: number;
  /**
   * Receives the batch statistics (per channel; the biased, divide-by-count
   * variance), e.g. to update running averages. They live only during the call.
   */
  onBatchStats?: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void;
}

/** Mean over every axis but the last: [..., C] → [C]. */
export function channelMean(x: tf.Tensor): tf.Tensor1D {
  const channels = x.shape[x.rank - 1]!;
  if (x.rank === 4 && x.shape[1]! * x.shape[2]! > 1) {
    const pooled = tf.avgPool(x as tf.Tensor4D, [x.shape[1]!, x.shape[2]!], 1, 'valid'); // [N, 1, 1, C]
    return tf.reshape(x.shape[0] === 1 ? pooled : tf.mean(pooled, [0, 1, 2]), [channels]);
  }
  return tf.reshape(tf.mean(x, x.shape.slice(0, -1).map((_, i) => i)), [channels]);
}

/**
 * Training-mode batch norm of x [..., C] (NHWC for images) with scale γ and
 * offset β [C]; differentiable in x, γ and β.
 */
export function batchNormTrain<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, options: BatchNormOptions = {}): T {
  const epsilon = options.epsilon ?? 1e-5;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, offset] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const forward = tf.tidy(() => {
      const mu = channelMean(input!);
      const centered = tf.sub(input!, mu);
      const sigma2 = channelMean(tf.square(centered));
      options.onBatchStats?.(mu, sigma2);
      const invStd = tf.rsqrt(tf.add(sigma2, epsilon));
      const xhat = tf.mul(centered, invStd);
      return { invStd, xhat, y: tf.add(tf.mul(xhat, scale!), offset!) };
    });
    save([forward.xhat, forward.invStd, scale!]);
    tf.dispose(forward.xhat);
    tf.dispose(forward.invStd);
    return {
      value: forward.y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xhat, invStd, g] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
        const count = dy.size / dy.shape[dy.rank - 1]!;
        const meanDy = channelMean(dy);
        const meanDyXhat = channelMean(tf.mul(dy, xhat));
        const dx = tf.mul(tf.sub(tf.sub(dy, meanDy), tf.mul(xhat, meanDyXhat)), tf.mul(g, invStd));
        return [dx, tf.mul(meanDyXhat, count), tf.mul(meanDy, count)];
      },
    };
  });
  return op(x, gamma, beta) as T;
}

/** Inference-mode batch norm with running statistics (no batch statistics). */
export function batchNormInfer<T extends tf.Tensor>(
  x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, runningMean: tf.Tensor1D, runningVariance: tf.Tensor1D, epsilon = 1e-5,
): T {
  return tf.tidy(() => {
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVariance, epsilon)));
    return tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(runningMean, scale))) as T;
  });
}
