/**
 * Isotropy diagnostics of an embedding: how close it is to the isotropic
 * Gaussian that SIGReg pushes towards (LeJEPA §3–4). Reports the mean and
 * spread per dimension, the covariance eigenvalue spectrum and its effective
 * rank, the share of near-dead dimensions, the per-slice Epps–Pulley statistic
 * of standardised embeddings against N(0, 1) beside its expected value for
 * truly Gaussian samples, and a verdict with the numbers and thresholds.
 */
import { moments } from './covariance.ts';
import { symmetricEigen } from './eigen.ts';
import type { Features } from './features.ts';
import { quadrature, type Quadrature, type QuadratureOptions } from '../lejepa/quadrature.ts';
import { Rng } from '../rng.ts';

export type IsotropyVerdict = 'healthy' | 'collapsed' | 'anisotropic';

export interface IsotropyOptions {
  /** Random unit directions (slices) for the Epps–Pulley statistic (default 256). */
  slices?: number;
  /** Rows used for the statistic, drawn without replacement (default 10,000). */
  sampleRows?: number;
  seed?: number;
  quadrature?: QuadratureOptions;
}

/** The thresholds behind the verdict, returned with it so that a reader can judge. */
export const ISOTROPY_THRESHOLDS = {
  /** A dimension is near-dead when its std is below this fraction of the largest std. */
  deadRelativeStd: 1e-3,
  /** Collapsed: effective rank below this fraction of the dimension… */
  collapsedRankRatio: 0.05,
  /** …or at least this share of dimensions near-dead. */
  collapsedDeadShare: 0.5,
  /** Anisotropic: effective rank below this fraction of the dimension… */
  anisotropicRankRatio: 0.5,
  /** …or the median Epps–Pulley statistic above this multiple of the Gaussian reference. */
  anisotropicEppsRatio: 5,
} as const;

export interface IsotropyReport {
  n: number;
  d: number;
  /** ‖mean‖ and the per-dimension means and standard deviations. */
  meanNorm: number;
  mean: number[];
  std: number[];
  /** Covariance eigenvalues, largest first. */
  eigenvalues: number[];
  /** exp(entropy of the normalised spectrum): d for an isotropic cloud, 1 for a line. */
  effectiveRank: number;
  effectiveRankRatio: number;
  /** Largest eigenvalue over the trace. */
  topEigenShare: number;
  deadDimensions: number;
  deadShare: number;
  epps: {
    slices: number;
    sampleRows: number;
    /** Per slice, on the embedding standardised per dimension (what the verdict uses). */
    perSlice: number[];
    mean: number;
    median: number;
    /** E[statistic] for N(0, 1) samples on this grid: Σ_k w_k (1 − φ(t_k)²) ≈ 1.05. */
    expectedGaussian: number;
    /** Median statistic of Gaussian data of the same size, standardised like the embedding. */
    gaussianReference: number;
    /**
     * The same slices of the embedding as it is, neither centred nor scaled: what the
     * SIGReg term measures. For N(0, I) data its mean over slices is `expectedGaussian`
     * (≈ 1.05); for a backbone, whose scale SIGReg never sees, it mostly tells the scale.
     */
    asIs: { perSlice: number[]; mean: number; median: number };
  };
  verdict: IsotropyVerdict;
  /** Plain sentences with the numbers that decided the verdict. */
  reasons: string[];
  thresholds: typeof ISOTROPY_THRESHOLDS;
}

/** Diagnoses the rows of f.x [n, d] (n ≥ 2). */
export function isotropy(f: Features, options: IsotropyOptions = {}): IsotropyReport {
  const { n, d } = f;
  if (n < 2) throw new Error(`isotropy: needs at least 2 rows, got ${n}.`);
  const T = ISOTROPY_THRESHOLDS;
  const { mean, cov } = moments(f);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(Math.max(0, cov[j * d + j]!)));
  const maxStd = Math.max(...std);
  const dead = std.map((s) => s <= T.deadRelativeStd * maxStd);
  const deadDimensions = dead.filter(Boolean).length;

  const eigenvalues = Array.from(symmetricEigen(cov, d).values, (v) => Math.max(0, v));
  const trace = eigenvalues.reduce((s, v) => s + v, 0);
  let entropy = 0;
  for (const v of eigenvalues) if (v > 0) entropy -= (v / trace) * Math.log(v / trace);
  const effectiveRank = trace > 0 ? Math.exp(entropy) : 0;

  const rng = new Rng(options.seed ?? 0);
  const { asIs, ...epps } = eppsPulleySlices(f, mean, std, dead, options, rng, true);
  const eppsMedian = median(epps.perSlice);
  const eppsMean = meanOf(epps.perSlice);
  const reference = gaussianReference(epps.sampleRows, d, options, rng);

  const ratio = effectiveRank / d;
  const deadShare = deadDimensions / d;
  const reasons: string[] = [];
  const fmt = (v: number) => v.toPrecision(3);
  let verdict: IsotropyVerdict = 'healthy';
  if (ratio < T.collapsedRankRatio || deadShare >= T.collapsedDeadShare) {
    verdict = 'collapsed';
    if (ratio < T.collapsedRankRatio) {
      reasons.push(
        `Effective rank ${fmt(effectiveRank)} of ${d} dimensions (${fmt(ratio)}) is below ${T.collapsedRankRatio}.`,
      );
    }
    if (deadShare >= T.collapsedDeadShare) {
      reasons.push(`${deadDimensions} of ${d} dimensions are near-dead.`);
    }
  } else if (ratio < T.anisotropicRankRatio || eppsMedian > T.anisotropicEppsRatio * reference) {
    verdict = 'anisotropic';
    if (ratio < T.anisotropicRankRatio) {
      reasons.push(
        `Effective rank ${fmt(effectiveRank)} of ${d} (${fmt(ratio)}) is below ${T.anisotropicRankRatio}: a few directions carry most of the variance.`,
      );
    }
    if (eppsMedian > T.anisotropicEppsRatio * reference) {
      reasons.push(
        `Median Epps–Pulley statistic ${fmt(eppsMedian)} is over ${T.anisotropicEppsRatio}× the ${fmt(reference)} of Gaussian data standardised the same way.`,
      );
    }
  } else {
    reasons.push(
      `Effective rank ${fmt(effectiveRank)} of ${d} (${fmt(ratio)}); median Epps–Pulley ${fmt(eppsMedian)} against ${fmt(reference)} for Gaussian data standardised the same way.`,
    );
  }

  return {
    n,
    d,
    meanNorm: Math.hypot(...mean),
    mean: Array.from(mean),
    std,
    eigenvalues,
    effectiveRank,
    effectiveRankRatio: ratio,
    topEigenShare: trace > 0 ? eigenvalues[0]! / trace : 0,
    deadDimensions,
    deadShare,
    epps: {
      ...epps,
      mean: eppsMean,
      median: eppsMedian,
      gaussianReference: reference,
      asIs: { perSlice: asIs, mean: meanOf(asIs), median: median(asIs) },
    },
    verdict,
    reasons,
    thresholds: T,
  };
}

/**
 * Per-slice Epps–Pulley statistic against N(0, 1), the quantity SIGReg averages
 * (LeJEPA §4): N · Σ_k w_k |ecf(t_k) − φ(t_k)|² for each slice, in float64.
 * `fill(r, out)` writes row r [d] of the data; `directions` is [d, slices]
 * row-major with unit-length columns, as in the golden vectors. Returns [slices].
 */
export function eppsPulley(
  rows: number,
  d: number,
  fill: (r: number, out: Float64Array) => void,
  directions: ArrayLike<number>,
  slices: number,
  quad: Quadrature,
): number[] {
  const T = quad.t.length;
  const re = new Float64Array(slices * T);
  const im = new Float64Array(slices * T);
  const z = new Float64Array(d);
  const u = new Float64Array(slices);
  for (let s = 0; s < rows; s++) {
    fill(s, z);
    u.fill(0);
    for (let j = 0; j < d; j++) {
      const zj = z[j]!;
      if (zj === 0) continue;
      const base = j * slices;
      for (let m = 0; m < slices; m++) u[m] = u[m]! + zj * directions[base + m]!;
    }
    for (let m = 0; m < slices; m++) {
      for (let k = 0; k < T; k++) {
        const a = quad.t[k]! * u[m]!;
        re[m * T + k] = re[m * T + k]! + Math.cos(a);
        im[m * T + k] = im[m * T + k]! + Math.sin(a);
      }
    }
  }
  const perSlice = new Array<number>(slices);
  for (let m = 0; m < slices; m++) {
    let stat = 0;
    for (let k = 0; k < T; k++) {
      const r = re[m * T + k]! / rows - quad.phi[k]!;
      const i = im[m * T + k]! / rows;
      stat += quad.weights[k]! * (r * r + i * i);
    }
    perSlice[m] = rows * stat;
  }
  return perSlice;
}

/**
 * E[statistic] for samples of N(0, 1) with known mean and variance, at any N:
 * Σ_k w_k (1 − φ(t_k)²), since E|ecf(t) − φ(t)|² = (1 − φ(t)²)/N. About 1.05 on the
 * default grid (t_max 3, 17 nodes), as the golden vectors' README states.
 */
export function eppsPulleyGaussianMean(quad: Quadrature): number {
  let sum = 0;
  for (let k = 0; k < quad.t.length; k++) sum += quad.weights[k]! * (1 - quad.phi[k]! ** 2);
  return sum;
}

/** `slices` random unit directions in d dimensions: [d, slices] row-major. */
function randomDirections(d: number, slices: number, rng: Rng): Float64Array {
  const dirs = new Float64Array(d * slices);
  for (let m = 0; m < slices; m++) {
    let norm = 0;
    for (let j = 0; j < d; j++) {
      const v = rng.normal();
      dirs[j * slices + m] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < d; j++) dirs[j * slices + m] = dirs[j * slices + m]! / norm;
  }
  return dirs;
}

/**
 * The statistic of the rows, once standardised per dimension (dead dimensions set to
 * zero rather than blown up by a near-zero std) and once as they are, on the same
 * random directions and the same sample of rows.
 */
function eppsPulleySlices(
  f: Features,
  mean: ArrayLike<number>,
  std: number[],
  dead: boolean[],
  options: IsotropyOptions,
  rng: Rng,
  withAsIs: boolean,
) {
  const { x, n, d } = f;
  const slices = options.slices ?? 256;
  const quad = quadrature(options.quadrature);
  const sample = Math.min(n, options.sampleRows ?? 10_000);
  const rows = Array.from({ length: n }, (_, i) => i);
  if (sample < n) rng.shuffle(rows);
  const dirs = randomDirections(d, slices, rng);
  const standardised = (s: number, z: Float64Array) => {
    const row = rows[s]! * d;
    for (let j = 0; j < d; j++) z[j] = dead[j] ? 0 : (x[row + j]! - mean[j]!) / std[j]!;
  };
  const asIs = (s: number, z: Float64Array) => {
    const row = rows[s]! * d;
    for (let j = 0; j < d; j++) z[j] = x[row + j]!;
  };
  return {
    slices,
    sampleRows: sample,
    perSlice: eppsPulley(sample, d, standardised, dirs, slices, quad),
    asIs: withAsIs ? eppsPulley(sample, d, asIs, dirs, slices, quad) : [],
    expectedGaussian: eppsPulleyGaussianMean(quad),
  };
}

/**
 * The same statistic on a true Gaussian sample of the same size and width,
 * standardised the same way. Standardising with the sample's own mean and std
 * removes part of the statistic (a median of about 0.4 instead of a mean of 1.05 per
 * slice), so this reference, not the textbook value, is what an embedding's
 * standardised statistic is compared with.
 */
function gaussianReference(n: number, d: number, options: IsotropyOptions, rng: Rng): number {
  const x = rng.normalArray(n * d);
  const ref = { x, n, d };
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + x[i * d + j]! / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) sq[j] = sq[j]! + (x[i * d + j]! - mean[j]!) ** 2;
  }
  const std = Array.from(sq, (v) => Math.sqrt(v / (n - 1)));
  const dead = Array<boolean>(d).fill(false);
  return median(eppsPulleySlices(ref, mean, std, dead, options, rng, false).perSlice);
}

function meanOf(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
