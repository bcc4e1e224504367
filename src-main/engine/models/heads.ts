/**
 * The heads trained next to the encoder: the LeJEPA projector (Linear → BN → ReLU → Linear,
 * whose small output is where the loss lives) and the online linear probe, which reads
 * detached features when labels exist.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.ts';
import { batchNorm, linear } from './layers.ts';
import { disposeStore, isNoDecay, ParamBuilder } from './params.ts';
import type { Model } from './types.ts';

export interface ProjectorSpec {
  inDim: number;
  /** Hidden width. Default 512. */
  hidden?: number;
  /** Output dimension, where SIGReg and the prediction loss act. Default 64. */
  out?: number;
}

/** Projector [B, inDim] → [B, out]: Linear → BatchNorm → ReLU → Linear. */
export function createProjector(spec: ProjectorSpec, rng: Rng): Model<tf.Tensor2D, tf.Tensor2D> {
  const { inDim, hidden = 512, out = 64 } = spec;
  const p = new ParamBuilder(rng);
  const fc1 = linear(p, 'fc1', inDim, hidden);
  const bn = batchNorm(p, 'bn1', hidden);
  const fc2 = linear(p, 'fc2', hidden, out);
  const store = p.store;
  return {
    params: store,
    apply(x, mode) {
      checkFeatures(x, inDim, 'projector');
      return tf.tidy(
        () => fc2(tf.relu(bn(fc1(x, mode.training), mode.training)), mode.training) as tf.Tensor2D,
      );
    },
    noDecay: isNoDecay,
    dispose: () => disposeStore(store),
  };
}

/** Linear probe [B, inDim] → logits [B, classes]. */
export function createLinearProbe(
  inDim: number,
  classes: number,
  rng: Rng,
): Model<tf.Tensor2D, tf.Tensor2D> {
  const p = new ParamBuilder(rng);
  const fc = linear(p, 'fc', inDim, classes);
  const store = p.store;
  return {
    params: store,
    apply(x, mode) {
      checkFeatures(x, inDim, 'linear probe');
      return tf.tidy(() => fc(x, mode.training) as tf.Tensor2D);
    },
    noDecay: isNoDecay,
    dispose: () => disposeStore(store),
  };
}

function checkFeatures(x: tf.Tensor, dim: number, what: string): void {
  if (x.rank !== 2 || x.shape[1] !== dim) {
    throw new RangeError(`${what} input must be [B, ${dim}], got [${x.shape.join(', ')}]`);
  }
}
