/**
 * Exact principal component analysis: covariance in float64, full symmetric
 * eigendecomposition, projection of the centred rows on the leading axes.
 * Used for the instant 2-D/3-D view of an embedding.
 */
import { moments } from './covariance.ts';
import { symmetricEigen } from './eigen.ts';
import type { Features } from './features.ts';

export interface PcaModel {
  /** Number of components kept. */
  components: number;
  d: number;
  /** [d] mean subtracted before projecting. */
  mean: Float64Array;
  /** [d, components] row-major: column c is axis c (unit length). */
  axes: Float64Array;
  /** Variance along each kept axis. */
  variances: number[];
  /** Share of the total variance along each kept axis. */
  explained: number[];
}

export interface PcaResult extends PcaModel {
  /** [n, components] row-major coordinates. */
  coords: Float32Array;
}

/**
 * Fits PCA on f.x [n, d] and returns the coordinates of every row on the
 * first `components` axes. Each axis is signed so that its largest entry is
 * positive, which makes the picture the same from run to run.
 */
export function pca(f: Features, components = 2): PcaResult {
  const { n, d } = f;
  if (!(components >= 1 && components <= d)) {
    throw new Error(`pca: components must be between 1 and ${d}, got ${components}.`);
  }
  const { mean, cov } = moments(f);
  const { values, vectors } = symmetricEigen(cov, d);
  const total = values.reduce((s, v) => s + Math.max(0, v), 0);
  const axes = new Float64Array(d * components);
  for (let c = 0; c < components; c++) {
    let big = 0;
    for (let j = 0; j < d; j++) {
      const v = vectors[j * d + c]!;
      if (Math.abs(v) > Math.abs(big)) big = v;
    }
    const sign = big < 0 ? -1 : 1;
    for (let j = 0; j < d; j++) axes[j * components + c] = sign * vectors[j * d + c]!;
  }
  const variances = Array.from(values.subarray(0, components), (v) => Math.max(0, v));
  const model: PcaModel = {
    components,
    d,
    mean,
    axes,
    variances,
    explained: variances.map((v) => (total > 0 ? v / total : 0)),
  };
  return { ...model, coords: pcaProject(model, f.x, n) };
}

/** Coordinates of rows x [n, d] on the axes of a fitted model: [n, components]. */
export function pcaProject(model: PcaModel, x: Float32Array, n: number): Float32Array {
  const { d, components, mean, axes } = model;
  const out = new Float32Array(n * components);
  const acc = new Float64Array(components);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    const row = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[row + j]! - mean[j]!;
      const base = j * components;
      for (let c = 0; c < components; c++) acc[c] = acc[c]! + v * axes[base + c]!;
    }
    for (let c = 0; c < components; c++) out[i * components + c] = acc[c]!;
  }
  return out;
}
