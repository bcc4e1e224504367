/**
 * A Vision Transformer encoder (Dosovitskiy et al. 2021) sized for small images: patch
 * embedding as a reshape plus one matrix product (no convolution, so it trains on every
 * backend without extra kernels), a learned class token and position table, pre-norm blocks
 * of multi-head self-attention and a GELU MLP, a final layer norm, then the class token
 * (default) or the mean of the patch tokens as the feature.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.ts';
import { gelu, layerNorm, linear, type Layer } from './layers.ts';
import { disposeStore, isNoDecay, ParamBuilder } from './params.ts';
import { checkInput } from './resnet.ts';
import type { Encoder, EncoderSpec } from './types.ts';

type VitSpec = Extract<EncoderSpec, { kind: 'vit' }>;

function attention(
  p: ParamBuilder,
  name: string,
  dim: number,
  heads: number,
): Layer<tf.Tensor3D, tf.Tensor3D> {
  const qkv = linear(p, `${name}.qkv`, dim, 3 * dim, 'vit');
  const out = linear(p, `${name}.proj`, dim, dim, 'vit');
  const dh = dim / heads;
  return (x, training) => {
    const [b, t] = x.shape;
    const packed = tf.reshape(qkv(x, training), [b, t, 3, heads, dh]);
    const qkvT = tf.transpose(packed, [2, 0, 3, 1, 4]); // [3, B, heads, T, dh]
    const [q, k, v] = tf.unstack(qkvT, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)); // [B, heads, T, T]
    const mixed = tf.matMul(tf.softmax(scores), v); // [B, heads, T, dh]
    const merged = tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [b, t, dim]);
    return out(merged, training) as tf.Tensor3D;
  };
}

function block(
  p: ParamBuilder,
  name: string,
  dim: number,
  heads: number,
  hidden: number,
): Layer<tf.Tensor3D, tf.Tensor3D> {
  const ln1 = layerNorm(p, `${name}.ln1`, dim);
  const attn = attention(p, `${name}.attn`, dim, heads);
  const ln2 = layerNorm(p, `${name}.ln2`, dim);
  const fc1 = linear(p, `${name}.mlp.fc1`, dim, hidden, 'vit');
  const fc2 = linear(p, `${name}.mlp.fc2`, hidden, dim, 'vit');
  return (x, training) => {
    const a = tf.add(x, attn(ln1(x, training) as tf.Tensor3D, training));
    const m = fc2(gelu(fc1(ln2(a, training), training)), training);
    return tf.add(a, m) as tf.Tensor3D;
  };
}

/** Builds a ViT encoder from `spec`; input NHWC [B, imageSize, imageSize, C], output [B, dim]. */
export function createVit(spec: VitSpec & { pool?: 'cls' | 'mean' }, rng: Rng): Encoder {
  const { inChannels, imageSize, patch, dim, depth, heads, mlpRatio } = spec;
  const pool = spec.pool ?? 'cls';
  if (imageSize % patch !== 0) {
    throw new RangeError(
      `ViT: imageSize ${imageSize} must be a multiple of the patch size ${patch}`,
    );
  }
  if (dim % heads !== 0)
    throw new RangeError(`ViT: dim ${dim} must be divisible by heads ${heads}`);
  const grid = imageSize / patch;
  const tokens = grid * grid;
  const patchDim = patch * patch * inChannels;

  const p = new ParamBuilder(rng);
  const embed = linear(p, 'patch', patchDim, dim, 'torch');
  const cls = p.truncatedNormal('cls', [1, 1, dim], 0.02);
  const pos = p.truncatedNormal('pos', [1, tokens + 1, dim], 0.02);
  const blocks = Array.from({ length: depth }, (_, i) =>
    block(p, `block${i}`, dim, heads, Math.round(dim * mlpRatio)),
  );
  const norm = layerNorm(p, 'norm', dim);
  const store = p.store;

  return {
    spec,
    featureDim: dim,
    params: store,
    apply(x, mode) {
      checkInput(x, inChannels);
      if (x.shape[1] !== imageSize || x.shape[2] !== imageSize) {
        throw new RangeError(
          `ViT input must be ${imageSize}×${imageSize}, got ${x.shape[1]}×${x.shape[2]}`,
        );
      }
      return tf.tidy(() => {
        const b = x.shape[0];
        // [B, g, p, g, p, C] → [B, g, g, p, p, C] → [B, tokens, p·p·C]
        const split = tf.reshape(x, [b, grid, patch, grid, patch, inChannels]);
        const patches = tf.reshape(tf.transpose(split, [0, 1, 3, 2, 4, 5]), [b, tokens, patchDim]);
        let h = embed(patches, mode.training) as tf.Tensor3D;
        h = tf.concat([tf.tile(cls, [b, 1, 1]) as tf.Tensor3D, h], 1);
        h = tf.add(h, pos) as tf.Tensor3D;
        for (const blk of blocks) h = blk(h, mode.training);
        h = norm(h, mode.training) as tf.Tensor3D;
        const feature =
          pool === 'cls'
            ? tf.reshape(tf.slice(h, [0, 0, 0], [b, 1, dim]), [b, dim])
            : tf.mean(tf.slice(h, [0, 1, 0], [b, tokens, dim]), 1);
        return feature as tf.Tensor2D;
      });
    },
    noDecay: isNoDecay,
    dispose: () => disposeStore(store),
  };
}
