/**
 * ResNet encoders (basic blocks) for 28–224 px input with 1 or 3 channels: a 3×3 stem
 * convolution + BN + ReLU, then one stage per width, each of `depths[i]` basic blocks, the
 * first block of every stage after the first with stride 2 and a 1×1 convolution + BN
 * shortcut where the shape changes, then global average pooling. This is the reference
 * encoder of the LeJEPA Fashion-MNIST recipe when widths are 32/64/128/256 and depths 1/1/1/1.
 *
 * Input larger than 64 px gets a stride-2 stem (and above 128 px an extra 2×2 average pool),
 * so that the stages work at 16–56 px as they do for small images; the parameters do not
 * depend on the input size, so one checkpoint serves any size.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.ts';
import { batchNorm, conv, foldedConvBn, reluSum, type Layer } from './layers.ts';
import { disposeStore, isNoDecay, ParamBuilder } from './params.ts';
import type { Encoder, EncoderSpec } from './types.ts';

type ResnetSpec = Extract<EncoderSpec, { kind: 'resnet' }>;

function basicBlock(
  p: ParamBuilder,
  name: string,
  cin: number,
  cout: number,
  stride: number,
): Layer<tf.Tensor4D, tf.Tensor4D> {
  const conv1 = conv(p, `${name}.conv1`, cin, cout, 3, stride);
  const bn1 = batchNorm(p, `${name}.bn1`, cout);
  const conv2 = conv(p, `${name}.conv2`, cout, cout, 3, 1);
  const bn2 = batchNorm(p, `${name}.bn2`, cout);
  const project = stride !== 1 || cin !== cout;
  const shortConv = project ? conv(p, `${name}.short.conv`, cin, cout, 1, stride) : null;
  const shortBn = project ? batchNorm(p, `${name}.short.bn`, cout) : null;
  // Evaluation: each convolution and its batch norm folded into one fused convolution.
  const fold1 = foldedConvBn(p, `${name}.conv1`, `${name}.bn1`, stride);
  const fold2 = foldedConvBn(p, `${name}.conv2`, `${name}.bn2`, 1);
  const foldShort = project
    ? foldedConvBn(p, `${name}.short.conv`, `${name}.short.bn`, stride)
    : null;
  return (x, training) => {
    if (!training) {
      const y = fold2(fold1(x, true), false);
      return tf.relu(tf.add(y, foldShort ? foldShort(x, false) : x)) as tf.Tensor4D;
    }
    const h = reluSum(bn1(conv1(x, training), training)) as tf.Tensor4D;
    const y = bn2(conv2(h, training), training);
    const skip = shortConv && shortBn ? shortBn(shortConv(x, training), training) : x;
    return reluSum(y, skip) as tf.Tensor4D;
  };
}

/** Builds a ResNet encoder from `spec`, its weights drawn from `rng`. Input NHWC, output [B, widths.at(-1)]. */
export function createResnet(spec: ResnetSpec, rng: Rng): Encoder {
  const { inChannels, stem, widths, depths } = spec;
  if (widths.length === 0 || widths.length !== depths.length) {
    throw new RangeError(
      `ResNet: widths and depths must be non-empty and of equal length, got ${widths.length} and ${depths.length}`,
    );
  }
  if (![stem, ...widths, ...depths].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RangeError('ResNet: stem, widths and depths must be positive integers');
  }
  const p = new ParamBuilder(rng);
  const stemConv1 = conv(p, 'stem.conv', inChannels, stem, 3, 1);
  const stemConv2 = conv2Stride(p.store.trainable.get('stem.conv.w')!);
  const stemBn = batchNorm(p, 'stem.bn', stem);
  const stemFold = foldedConvBn(p, 'stem.conv', 'stem.bn', 1);
  const blocks: Layer<tf.Tensor4D, tf.Tensor4D>[] = [];
  let cin = stem;
  widths.forEach((width, s) => {
    for (let b = 0; b < depths[s]!; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      blocks.push(basicBlock(p, `stage${s + 1}.block${b}`, cin, width, stride));
      cin = width;
    }
  });
  const store = p.store;

  return {
    spec,
    featureDim: cin,
    params: store,
    apply(x, mode) {
      checkInput(x, inChannels);
      return tf.tidy(() => {
        const size = x.shape[1];
        let h: tf.Tensor4D;
        if (size <= 64 && !mode.training) h = stemFold(x, true);
        else {
          h = (size > 64 ? stemConv2(x) : stemConv1(x, mode.training)) as tf.Tensor4D;
          h = reluSum(stemBn(h, mode.training)) as tf.Tensor4D;
        }
        if (size > 128) h = tf.avgPool(h, 2, 2, 'valid');
        for (const block of blocks) h = block(h, mode.training);
        return tf.mean(h, [1, 2]) as tf.Tensor2D;
      });
    },
    noDecay: isNoDecay,
    dispose: () => disposeStore(store),
  };
}

/** The stem's 3×3 weights applied with stride 2 (pad 1 each side), for inputs above 64 px. */
function conv2Stride(w: tf.Variable): (x: tf.Tensor4D) => tf.Tensor4D {
  return (x) =>
    tf.conv2d(x, w as tf.Tensor4D, 2, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
}

export function checkInput(x: tf.Tensor, channels: number): void {
  if (x.rank !== 4 || x.shape[3] !== channels) {
    throw new RangeError(
      `encoder input must be [B, H, W, ${channels}] (NHWC), got [${x.shape.join(', ')}]`,
    );
  }
  if (x.dtype !== 'float32') throw new RangeError(`encoder input must be float32, got ${x.dtype}`);
}
