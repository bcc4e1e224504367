/**
 * Mean and covariance of a feature matrix, in float64 JS loops. The Gram
 * matrix takes eight centred rows at a time, interleaved in one buffer, so each
 * covariance entry is loaded once per eight rows: 100k × 256 in about 1–2 s on
 * one core, faster here than the WASM or pure-JS TensorFlow.js matMul.
 */
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

const R = 8;

/** Mean and covariance of the rows of f.x [n, d]. */
export function moments(f: Features): Moments {
  const { x, n, d } = f;
  const mean = columnMean(f);
  const cov = new Float64Array(d * d);
  // buf[j·R + r] = x[i+r, j] − mean[j]; a short last group is padded with zeros.
  const buf = new Float64Array(d * R);
  for (let i = 0; i < n; i += R) {
    const rows = Math.min(R, n - i);
    if (rows < R) buf.fill(0);
    for (let r = 0; r < rows; r++) {
      const row = (i + r) * d;
      for (let j = 0; j < d; j++) buf[j * R + r] = x[row + j]! - mean[j]!;
    }
    for (let j = 0; j < d; j++) {
      const bj = j * R;
      const a0 = buf[bj]!;
      const a1 = buf[bj + 1]!;
      const a2 = buf[bj + 2]!;
      const a3 = buf[bj + 3]!;
      const a4 = buf[bj + 4]!;
      const a5 = buf[bj + 5]!;
      const a6 = buf[bj + 6]!;
      const a7 = buf[bj + 7]!;
      const base = j * d;
      for (let k = j; k < d; k++) {
        const bk = k * R;
        cov[base + k] =
          cov[base + k]! +
          a0 * buf[bk]! +
          a1 * buf[bk + 1]! +
          a2 * buf[bk + 2]! +
          a3 * buf[bk + 3]! +
          a4 * buf[bk + 4]! +
          a5 * buf[bk + 5]! +
          a6 * buf[bk + 6]! +
          a7 * buf[bk + 7]!;
      }
    }
  }
  const denom = Math.max(1, n - 1);
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const v = cov[j * d + k]! / denom;
      cov[j * d + k] = v;
      cov[k * d + j] = v;
    }
  }
  return { mean, cov };
}
