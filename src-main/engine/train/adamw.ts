/**
 * AdamW (Loshchilov & Hutter): Adam moments with weight decay applied to the
 * weights directly, not through the gradient, as every LeJEPA recipe trains.
 * Follows the PyTorch update order: `p ← p·(1 − lr·wd)`, then
 * `p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)`.
 * Parameters for which `noDecay(name)` is true (norm scales/offsets, biases)
 * get no weight decay.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay: number;
  noDecay: (name: string) => boolean;
}

export interface AdamWSlots {
  m: tf.Variable;
  v: tf.Variable;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Updates applied so far (t in the bias corrections). */
  updates = 0;
  private readonly slots = new Map<string, AdamWSlots>();
  private readonly noDecay: (name: string) => boolean;

  /** `params`: the trainable variables by name; first and second moments start at zero. */
  constructor(
    readonly params: ReadonlyMap<string, tf.Variable>,
    options: AdamWOptions,
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay;
    this.noDecay = options.noDecay;
    for (const [name, p] of params) {
      this.slots.set(name, {
        m: tf.variable(tf.zerosLike(p), false),
        v: tf.variable(tf.zerosLike(p), false),
      });
    }
  }

  /** The moments by parameter name (for checkpoints). */
  moments(): ReadonlyMap<string, AdamWSlots> {
    return this.slots;
  }

  /**
   * Applies one update with learning rate `lr`. `grads` maps a parameter name to
   * its gradient (same shape); a parameter without a gradient is left alone.
   * Creates no tensor that outlives the call.
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.updates += 1;
    const t = this.updates;
    const stepSize = lr / (1 - this.beta1 ** t);
    const sqrtBc2 = Math.sqrt(1 - this.beta2 ** t);
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (g === undefined) continue;
      const slot = this.slots.get(name)!;
      const decay = this.noDecay(name) ? 0 : lr * this.weightDecay;
      // Functional ops: the chained tensor methods are not registered by tfjs-core alone.
      tf.tidy(() => {
        const m = tf.add(tf.mul(slot.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(slot.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        slot.m.assign(m);
        slot.v.assign(v);
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), this.eps);
        const decayed = decay === 0 ? p : tf.mul(p, 1 - decay);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }
}
