/**
 * Photometric augmentations as batched tensor ops with one factor per view (factors come in
 * as [N, 1, 1, 1] columns): brightness, contrast around the view's own mean, saturation and
 * hue (colour only), grayscale, and a small separable Gaussian blur.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ViewParams } from './draws.ts';

const LUMA = [0.299, 0.587, 0.114];
// RGB ↔ YIQ: hue is a rotation of the (I, Q) plane, a cheap stand-in for an HSV hue shift.
const TO_YIQ = [0.299, 0.596, 0.211, 0.587, -0.274, -0.523, 0.114, -0.322, 0.312];
const FROM_YIQ = [1, 1, 1, 0.956, -0.272, -1.106, 0.621, -0.647, 1.703];

type Column = (values: Float32Array) => tf.Tensor4D;

/** Grey value of each pixel [N, H, W, 3] → [N, H, W, 3] (the same grey in every channel). */
export function toGray(x: tf.Tensor4D): tf.Tensor4D {
  const g = tf.sum(tf.mul(x, tf.tensor1d(LUMA)), -1, true);
  return tf.tile(g, [1, 1, 1, 3]) as tf.Tensor4D;
}

/**
 * Brightness (x·b), then contrast ((x − m)·c + m with m the view's mean), then, with three
 * channels, saturation ((x − grey)·s + grey) and hue (rotation of the YIQ chroma by 2π·h);
 * clipped to [0, 1] after each step, as the reference recipe clips.
 */
export function colourJitter(x: tf.Tensor4D, p: ViewParams, column: Column): tf.Tensor4D {
  let y = tf.clipByValue(tf.mul(x, column(p.brightness)), 0, 1) as tf.Tensor4D;
  const m = tf.mean(y, [1, 2, 3], true);
  y = tf.clipByValue(tf.add(tf.mul(tf.sub(y, m), column(p.contrast)), m), 0, 1) as tf.Tensor4D;
  if (x.shape[3] !== 3) return y;

  const grey = tf.sum(tf.mul(y, tf.tensor1d(LUMA)), -1, true);
  y = tf.clipByValue(
    tf.add(tf.mul(tf.sub(y, grey), column(p.saturation)), grey),
    0,
    1,
  ) as tf.Tensor4D;

  const [n, h, w] = y.shape;
  const yiq = tf.reshape(tf.matMul(tf.reshape(y, [-1, 3]), tf.tensor2d(TO_YIQ, [3, 3])), [
    n,
    h,
    w,
    3,
  ]);
  const [luma, i, q] = tf.split(yiq, 3, -1);
  const angle = Float32Array.from(p.hue, (v) => 2 * Math.PI * v);
  const cos = column(Float32Array.from(angle, Math.cos));
  const sin = column(Float32Array.from(angle, Math.sin));
  const i2 = tf.sub(tf.mul(i!, cos), tf.mul(q!, sin));
  const q2 = tf.add(tf.mul(i!, sin), tf.mul(q!, cos));
  const rotated = tf.concat([luma!, i2, q2], -1);
  const rgb = tf.matMul(tf.reshape(rotated, [-1, 3]), tf.tensor2d(FROM_YIQ, [3, 3]));
  return tf.clipByValue(tf.reshape(rgb, [n, h, w, 3]), 0, 1) as tf.Tensor4D;
}

/** Largest blur radius in pixels (9 taps): the sigma range 0.1–2 px is cut at about 2σ. */
const RADIUS = 4;

/**
 * Separable Gaussian blur with one sigma (pixels) per view, edges mirrored. Written as a sum
 * of shifted copies weighted per view, because each view has its own kernel.
 */
export function gaussianBlur(x: tf.Tensor4D, sigma: Float32Array): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const r = Math.min(RADIUS, h - 1, w - 1);
  if (r < 1) return x;
  const taps = 2 * r + 1;
  const weights: Float32Array[] = Array.from({ length: taps }, () => new Float32Array(n));
  for (let v = 0; v < n; v++) {
    let total = 0;
    for (let k = -r; k <= r; k++) total += Math.exp(-(k * k) / (2 * sigma[v]! ** 2));
    for (let k = -r; k <= r; k++)
      weights[k + r]![v] = Math.exp(-(k * k) / (2 * sigma[v]! ** 2)) / total;
  }
  const columns = weights.map((wk) => tf.tensor4d(wk, [n, 1, 1, 1]));
  const along = (t: tf.Tensor4D, axis: 1 | 2): tf.Tensor4D => {
    const pad: [number, number][] = [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ];
    pad[axis] = [r, r];
    const padded = tf.mirrorPad(t, pad, 'reflect');
    const len = axis === 1 ? h : w;
    let acc: tf.Tensor4D | null = null;
    for (let k = 0; k < taps; k++) {
      const begin = [0, 0, 0, 0];
      begin[axis] = k;
      const size = [-1, -1, -1, -1];
      size[axis] = len;
      const term = tf.mul(tf.slice(padded, begin, size), columns[k]!) as tf.Tensor4D;
      acc = acc === null ? term : (tf.add(acc, term) as tf.Tensor4D);
    }
    return acc!;
  };
  return along(along(x, 1), 2);
}
