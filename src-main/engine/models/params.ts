/**
 * Creating named parameters deterministically from the run's generator, with the
 * initialisations of PyTorch's defaults (so the reference recipe starts from the same
 * distributions): convolution and linear weights Kaiming-uniform with a = √5, i.e.
 * U(−1/√fan_in, 1/√fan_in), biases the same bound, norm scales 1 and offsets 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.ts';
import type { ParamStore } from './types.ts';

export class ParamBuilder {
  readonly store: ParamStore = { trainable: new Map(), state: new Map() };

  constructor(private readonly rng: Rng) {}

  /** U(−bound, bound) of the given shape, from the generator. */
  uniform(name: string, shape: number[], bound: number): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const u = this.rng.uniformArray(n);
    for (let i = 0; i < n; i++) u[i] = (2 * u[i]! - 1) * bound;
    return this.add(name, tf.tensor(u, shape, 'float32'), true);
  }

  /** Normal(0, std) truncated at ±2·std (the usual ViT initialisation). */
  truncatedNormal(name: string, shape: number[], std: number): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let v = this.rng.normal();
      while (Math.abs(v) > 2) v = this.rng.normal();
      out[i] = v * std;
    }
    return this.add(name, tf.tensor(out, shape, 'float32'), true);
  }

  /** A constant-filled parameter (trainable) or state tensor (not trainable). */
  constant(name: string, shape: number[], value: number, trainable = true): tf.Variable {
    return this.add(name, tf.fill(shape, value, 'float32'), trainable);
  }

  private add(name: string, init: tf.Tensor, trainable: boolean): tf.Variable {
    const map = trainable ? this.store.trainable : this.store.state;
    if (this.store.trainable.has(name) || this.store.state.has(name)) {
      init.dispose();
      throw new Error(`parameter ${name} is defined twice`);
    }
    // Unnamed: tfjs variable names are global, and two models may share parameter names.
    const v = tf.variable(init, trainable);
    init.dispose();
    map.set(name, v);
    return v;
  }
}

/** Parameters that get no weight decay: norm scales/offsets, biases, tokens and position tables. */
export function isNoDecay(name: string): boolean {
  return /\.(gamma|beta|b)$/.test(name) || /(^|\.)(cls|pos)$/.test(name);
}

/** Total number of trainable values. */
export function countParams(store: ParamStore): number {
  let n = 0;
  for (const v of store.trainable.values()) n += v.size;
  return n;
}

export function disposeStore(store: ParamStore): void {
  for (const v of store.trainable.values()) v.dispose();
  for (const v of store.state.values()) v.dispose();
  store.trainable.clear();
  store.state.clear();
}
