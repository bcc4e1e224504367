/**
 * The shapes every model in the engine shares: a parameter store split into trainable
 * weights and non-trained state (batch-norm running statistics), an `apply` that knows
 * training from evaluation, and the encoder specification that a run configuration names.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Named parameters. Names are dotted paths (`stem.conv.w`, `stage2.block0.bn1.mean`). */
export interface ParamStore {
  trainable: Map<string, tf.Variable>;
  state: Map<string, tf.Variable>;
}

export interface Model<I extends tf.Tensor, O extends tf.Tensor> {
  readonly params: ParamStore;
  /** training: batch-norm uses batch statistics and updates its running statistics. */
  apply(x: I, mode: { training: boolean }): O;
  /** Parameters without weight decay (norm scales/offsets, biases). */
  noDecay(name: string): boolean;
  dispose(): void;
}

export type EncoderSpec =
  | { kind: 'resnet'; inChannels: 1 | 3; stem: number; widths: number[]; depths: number[] }
  | {
      kind: 'vit';
      inChannels: 1 | 3;
      imageSize: number;
      patch: number;
      dim: number;
      depth: number;
      heads: number;
      mlpRatio: number;
    };

export interface Encoder extends Model<tf.Tensor4D, tf.Tensor2D> {
  spec: EncoderSpec;
  featureDim: number;
}
