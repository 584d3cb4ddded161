/**
 * Adam (Kingma & Ba 2015) whose whole state is plain data: the step count t and
 * the moments m, v per variable, with the bias corrections 1 − βᵗ computed in
 * float64 from t. tfjs's AdamOptimizer keeps βᵗ as a running float32 product
 * and rebuilds it with pow() on setWeights, so a resumed run drifts from an
 * uninterrupted one; with this one, resuming reproduces the trajectory bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';

export class Adam {
  private t = 0;
  private m: tf.Variable[] = [];
  private v: tf.Variable[] = [];

  /** The step size; a schedule may change it between steps. */
  constructor(public learningRate: number, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly epsilon = 1e-8) {}

  /** One update of `variables` with `grads` (same order). */
  step(variables: tf.Variable[], grads: tf.Tensor[]): void {
    if (this.m.length === 0) {
      // the zeros are freed with the tidy; the variables keep their own reference to the data
      this.m = tf.tidy(() => variables.map((x) => tf.variable(tf.zerosLike(x), false)));
      this.v = tf.tidy(() => variables.map((x) => tf.variable(tf.zerosLike(x), false)));
    }
    if (grads.length !== variables.length || this.m.length !== variables.length) throw new Error('Adam: variables and gradients do not match');
    this.t++;
    const c1 = 1 - this.beta1 ** this.t, c2 = 1 - this.beta2 ** this.t;
    const stepSize = (this.learningRate * Math.sqrt(c2)) / c1;
    const epsHat = this.epsilon * Math.sqrt(c2);
    tf.tidy(() => {
      variables.forEach((x, i) => {
        const g = grads[i]!;
        const m = tf.add(tf.mul(this.m[i]!, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i]!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        // x ← x − lr·m̂/(√v̂ + ε), written with the corrections folded into the step size
        x.assign(tf.sub(x, tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsHat)), stepSize)));
      });
    });
  }

  /** The state to save: step count and moments. */
  getState(): { t: number; tensors: tf.NamedTensorMap } {
    const tensors: tf.NamedTensorMap = {};
    this.m.forEach((m, i) => { tensors[`m/${i}`] = m; tensors[`v/${i}`] = this.v[i]!; });
    return { t: this.t, tensors };
  }

  setState(t: number, tensors: tf.NamedTensorMap): void {
    this.dispose();
    const n = Object.keys(tensors).length / 2;
    this.m = Array.from({ length: n }, (_, i) => tf.variable(tensors[`m/${i}`]!, false));
    this.v = Array.from({ length: n }, (_, i) => tf.variable(tensors[`v/${i}`]!, false));
    this.t = t;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = [];
    this.v = [];
  }
}

/** Scales gradients so that their global L2 norm is at most `clip` (0: unchanged). */
export function clipByGlobalNorm(grads: tf.Tensor[], clip: number): tf.Tensor[] {
  return tf.tidy(() => {
    const norm = Math.sqrt(grads.reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0]!, 0));
    const scale = clip > 0 && norm > clip ? clip / norm : 1;
    return grads.map((g) => tf.mul(g, scale));
  });
}

/** The loss and its gradients in `vars` by tfjs's tape. */
export function tapedGradients(vars: tf.Variable[], loss: () => tf.Scalar): { loss: number; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(loss, vars);
  const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => grads[v.name]!) };
  value.dispose();
  return out;
}
