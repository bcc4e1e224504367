/**
 * Mean and covariance of a feature matrix. The mean is a float64 sum in JS;
 * the centred Gram matrix XᵀX is computed on the active TensorFlow.js backend
 * one block of rows at a time and accumulated in float64, so 100k × 256
 * features never need a second full-size copy.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { Features } from './features.ts';

export interface Moments {
  /** [d] per-dimension mean. */
  mean: Float64Array;
  /** [d, d] row-major covariance with the 1/(n−1) normalisation (1/n when n = 1). */
  cov: Float64Array;
}

/** Per-dimension mean of x [n, d] in float64. */
export function columnMean(f: Features): Float64Array {
  const { x, n, d } = f;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) mean[j] = mean[j]! + x[row + j]!;
  }
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / Math.max(1, n);
  return mean;
}

/** Mean and covariance of the rows of f.x [n, d]. */
export function moments(f: Features, blockRows = 16384): Moments {
  const { x, n, d } = f;
  const mean = columnMean(f);
  const cov = new Float64Array(d * d);
  const mean32 = tf.tensor1d(Float32Array.from(mean));
  try {
    for (let start = 0; start < n; start += blockRows) {
      const rows = Math.min(blockRows, n - start);
      const gram = tf.tidy(() => {
        const block = tf.sub(
          tf.tensor2d(x.subarray(start * d, (start + rows) * d), [rows, d]),
          mean32,
        );
        return tf.matMul(block, block, true, false);
      });
      const g = gram.dataSync();
      gram.dispose();
      for (let i = 0; i < d * d; i++) cov[i] = cov[i]! + g[i]!;
    }
  } finally {
    mean32.dispose();
  }
  const denom = Math.max(1, n - 1);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      // Average the two halves: the block products are symmetric only up to rounding.
      const v = (cov[i * d + j]! + cov[j * d + i]!) / 2 / denom;
      cov[i * d + j] = cov[j * d + i] = v;
    }
  }
  return { mean, cov };
}
