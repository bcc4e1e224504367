/**
 * Multi-crop views on the accelerator (LeJEPA §6, DINO-style multi-crop). All random draws
 * come from the run's generator in a fixed order, so a run replays exactly; the pixels are
 * only touched by tensor ops: one `cropAndResize` per view set (global, local), then colour
 * jitter, grayscale, blur and solarize as batched ops with per-view factors, then
 * normalisation.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.ts';
import type { ViewsConfig } from './config.ts';
import { drawViewParams, type ViewParams } from './draws.ts';
import { colourJitter, gaussianBlur, toGray } from './colour.ts';

export interface Views {
  /** [globalViews·B, globalSize, globalSize, C], view-major (rows v·B..v·B+B−1 are view v). */
  global: tf.Tensor4D;
  /** [localViews·B, localSize, localSize, C] or null when there are no local views. */
  local: tf.Tensor4D | null;
}

/**
 * Makes the views of a batch `images` [B, H, W, C] (float32 in [0, 1], NHWC). Draws first
 * every parameter of the global views, then of the local views (see `drawViewParams`).
 */
export function makeViews(images: tf.Tensor4D, rng: Rng, cfg: ViewsConfig): Views {
  if (images.rank !== 4) {
    throw new RangeError(
      `makeViews: images must be [B, H, W, C], got [${images.shape.join(', ')}]`,
    );
  }
  const [batch, , , channels] = images.shape;
  if (cfg.mean.length !== channels || cfg.std.length !== channels) {
    throw new RangeError(
      `makeViews: mean and std need ${channels} values (one per channel), got ${cfg.mean.length} and ${cfg.std.length}`,
    );
  }
  const globalParams = drawViewParams(rng, cfg.globalViews, batch, cfg.globalScale, cfg, channels);
  const localParams =
    cfg.localViews > 0
      ? drawViewParams(rng, cfg.localViews, batch, cfg.localScale, cfg, channels)
      : null;
  const [global, local] = tf.tidy(() => {
    const g = viewSet(images, globalParams, cfg.globalSize, cfg);
    return localParams === null ? [g] : [g, viewSet(images, localParams, cfg.localSize, cfg)];
  }) as tf.Tensor4D[];
  return { global: global!, local: local ?? null };
}

function viewSet(images: tf.Tensor4D, p: ViewParams, size: number, cfg: ViewsConfig): tf.Tensor4D {
  const count = p.boxes.length / 4;
  const boxes = tf.tensor2d(p.boxes, [count, 4]);
  const index = tf.tensor1d(p.imageIndex, 'int32');
  let x = tf.image.cropAndResize(images, boxes, index, [size, size], 'bilinear');
  const column = (values: Float32Array) => tf.tensor4d(values, [count, 1, 1, 1]);
  const mix = (flag: Float32Array, changed: tf.Tensor4D, base: tf.Tensor4D): tf.Tensor4D => {
    const f = column(flag);
    return tf.add(tf.mul(changed, f), tf.mul(base, tf.sub(1, f))) as tf.Tensor4D;
  };

  if (cfg.jitter.p > 0) x = mix(p.jitter, colourJitter(x, p, column), x);
  if (cfg.grayscale > 0 && x.shape[3] === 3) x = mix(p.gray, toGray(x), x);
  if (cfg.blur > 0) x = mix(p.blur, gaussianBlur(x, p.sigma), x);
  if (cfg.solarize > 0) {
    const solarized = tf.where(tf.less(x, 0.5), x, tf.sub(1, x)) as tf.Tensor4D;
    x = mix(p.solarize, solarized, x);
  }
  const mean = tf.tensor1d(cfg.mean);
  const std = tf.tensor1d(cfg.std);
  return tf.div(tf.sub(x, mean), std) as tf.Tensor4D;
}
