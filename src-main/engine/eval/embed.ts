/**
 * Feature extraction with a frozen encoder: uint8 images from the tensor cache
 * in, one feature row per image out. Batch norm runs in evaluation mode (its
 * running statistics), as in every downstream evaluation of the LeJEPA paper.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { Encoder } from '../models/types.ts';

export interface ImageBlock {
  /** Raw uint8 pixels, row-major [count, size, size, channels] (NHWC). */
  pixels: Uint8Array;
  count: number;
  size: number;
  channels: number;
}

/**
 * A compiled forward pass of the same encoder (and head): the normalised batch as NCHW
 * float32 [n, C, H, W] in, row-major features [n, width] out.
 */
export type EmbedForward = (nchw: Float32Array, n: number) => Float32Array;

export interface EmbedOptions {
  /** Images per forward pass (default 256). */
  batch?: number;
  /** Per-channel mean and std applied after scaling pixels to [0, 1]. */
  mean: number[];
  std: number[];
  /** Rows of the block to embed, in this order (default: all). */
  rows?: ArrayLike<number>;
  /** A head applied to the encoder's features (e.g. the projector), in eval mode. */
  head?: (features: tf.Tensor2D) => tf.Tensor2D;
  /** Used instead of `encoder.apply` (and `head`) when given. */
  forward?: EmbedForward;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number, total: number) => void;
  /** Checked between batches; when it returns true the embedding stops and returns null. */
  shouldStop?: () => boolean;
}

/**
 * Embeds the images of `block` with `encoder` in evaluation mode.
 * Returns row-major features [rows, featureDim] (or the head's width), or null
 * when `shouldStop` asked to stop. With `shouldStop`, it yields to the event loop
 * after each batch so that a job process reads cancel messages.
 */
export async function embed(
  encoder: Encoder,
  block: ImageBlock,
  options: EmbedOptions,
): Promise<Float32Array | null> {
  const { size, channels } = block;
  const pixelsPerImage = size * size * channels;
  if (block.pixels.length !== block.count * pixelsPerImage) {
    throw new Error(
      `embed: expected ${block.count}×${size}×${size}×${channels} pixels, got ${block.pixels.length}.`,
    );
  }
  if (options.mean.length !== channels || options.std.length !== channels) {
    throw new Error(`embed: mean and std need ${channels} values (one per channel).`);
  }
  const rows = options.rows ?? null;
  const total = rows === null ? block.count : rows.length;
  const batch = Math.max(1, options.batch ?? 256);
  const scale = tf.tensor1d(options.std.map((s) => 1 / (255 * s)));
  const shift = tf.tensor1d(options.mean.map((m, c) => -m / options.std[c]!));
  let out: Float32Array | null = null;
  let width = 0;
  try {
    for (let start = 0; start < total; start += batch) {
      if (options.shouldStop?.()) return null;
      const n = Math.min(batch, total - start);
      const buf = new Uint8Array(n * pixelsPerImage);
      if (rows === null) {
        buf.set(block.pixels.subarray(start * pixelsPerImage, (start + n) * pixelsPerImage));
      } else {
        for (let i = 0; i < n; i++) {
          const r = rows[start + i]!;
          if (!(r >= 0 && r < block.count)) throw new Error(`embed: row ${r} is out of range.`);
          buf.set(
            block.pixels.subarray(r * pixelsPerImage, (r + 1) * pixelsPerImage),
            i * pixelsPerImage,
          );
        }
      }
      let data: Float32Array;
      if (options.forward) {
        data = options.forward(normaliseNchw(buf, n, size, channels, options), n);
      } else {
        const features = tf.tidy(() => {
          const x = tf.tensor4d(buf, [n, size, size, channels], 'int32');
          // (p/255 − mean)/std as one multiply-add per channel.
          const normalised = tf.add(tf.mul(tf.cast(x, 'float32'), scale), shift) as tf.Tensor4D;
          const f = encoder.apply(normalised, { training: false });
          return options.head ? options.head(f) : f;
        });
        data = (await features.data()) as Float32Array;
        features.dispose();
      }
      if (out === null) {
        width = data.length / n;
        out = new Float32Array(total * width);
      }
      out.set(data, start * width);
      options.onProgress?.(start + n, total);
      // A macrotask turn: on the CPU and WASM backends `data()` resolves at once, and a
      // cancel request from the host is only read when the event loop gets a turn.
      if (options.shouldStop) await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    scale.dispose();
    shift.dispose();
  }
  return out ?? new Float32Array(0);
}

/** (p/255 − mean)/std of NHWC uint8 images, laid out NCHW. */
function normaliseNchw(
  nhwc: Uint8Array,
  n: number,
  size: number,
  channels: number,
  o: { mean: number[]; std: number[] },
): Float32Array {
  const plane = size * size;
  const out = new Float32Array(n * channels * plane);
  const scale = o.std.map((s) => 1 / (255 * s));
  const shift = o.mean.map((m, c) => -m / o.std[c]!);
  for (let i = 0; i < n; i++) {
    const src = i * plane * channels;
    for (let c = 0; c < channels; c++) {
      const dst = (i * channels + c) * plane;
      const a = scale[c]!;
      const b = shift[c]!;
      for (let p = 0; p < plane; p++) out[dst + p] = nhwc[src + p * channels + c]! * a + b;
    }
  }
  return out;
}
