/**
 * Seeded k-means (k-means++ seeding, then Lloyd iterations) for colouring an
 * embedding by cluster and as the coarse quantiser of the approximate
 * neighbour index. Squared Euclidean distance, float64 centroids.
 */
import type { Features } from './features.ts';
import { Rng } from '../rng.ts';

export interface KmeansOptions {
  seed?: number;
  maxIter?: number;
  /** Centroids are fitted on at most this many rows (drawn with the seed); all rows are assigned. */
  sampleRows?: number;
  /** Stop when no centroid moves by more than this (relative to the data spread). */
  tolerance?: number;
}

export interface KmeansResult {
  k: number;
  /** [k, d] row-major. */
  centroids: Float32Array;
  /** [n] cluster of each row. */
  assignments: Int32Array;
  /** Sum of squared distances of every row to its centroid. */
  inertia: number;
  iterations: number;
}

/** Clusters the rows of f.x [n, d] into k groups. */
export function kmeans(f: Features, k: number, options: KmeansOptions = {}): KmeansResult {
  const { x, n, d } = f;
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) {
    throw new Error(`k-means: k must be an integer between 1 and ${n}, got ${k}.`);
  }
  const rng = new Rng(options.seed ?? 0);
  const maxIter = options.maxIter ?? 100;
  const sampleRows = Math.min(n, options.sampleRows ?? 20_000);
  const rows = Array.from({ length: n }, (_, i) => i);
  if (sampleRows < n) rng.shuffle(rows);
  const sample = Int32Array.from(rows.slice(0, sampleRows));

  const centroids = seedPlusPlus(x, d, sample, k, rng);
  const assign = new Int32Array(sampleRows);
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  let scale = 0;
  for (let j = 0; j < d; j++) scale += Math.abs(centroids[j]!);
  const tol = (options.tolerance ?? 1e-6) * (scale / d + 1e-12);
  let iterations = 0;
  while (iterations < maxIter) {
    iterations++;
    for (let s = 0; s < sampleRows; s++) assign[s] = nearest(x, sample[s]! * d, centroids, k, d).c;
    sums.fill(0);
    counts.fill(0);
    for (let s = 0; s < sampleRows; s++) {
      const c = assign[s]!;
      counts[c] = counts[c]! + 1;
      const row = sample[s]! * d;
      for (let j = 0; j < d; j++) sums[c * d + j] = sums[c * d + j]! + x[row + j]!;
    }
    let moved = 0;
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // An empty cluster restarts on a random sample row.
        const row = sample[rng.int(sampleRows)]! * d;
        for (let j = 0; j < d; j++) centroids[c * d + j] = x[row + j]!;
        moved = Infinity;
        continue;
      }
      for (let j = 0; j < d; j++) {
        const v = sums[c * d + j]! / counts[c]!;
        moved = Math.max(moved, Math.abs(v - centroids[c * d + j]!));
        centroids[c * d + j] = v;
      }
    }
    if (moved <= tol) break;
  }

  const assignments = new Int32Array(n);
  let inertia = 0;
  for (let i = 0; i < n; i++) {
    const best = nearest(x, i * d, centroids, k, d);
    assignments[i] = best.c;
    inertia += best.dist;
  }
  return { k, centroids: Float32Array.from(centroids), assignments, inertia, iterations };
}

/** k-means++: each next centre drawn with probability proportional to the squared distance. */
function seedPlusPlus(x: Float32Array, d: number, sample: Int32Array, k: number, rng: Rng) {
  const m = sample.length;
  const centroids = new Float64Array(k * d);
  const first = sample[rng.int(m)]! * d;
  for (let j = 0; j < d; j++) centroids[j] = x[first + j]!;
  const dist = new Float64Array(m).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let s = 0; s < m; s++) {
      const row = sample[s]! * d;
      let dd = 0;
      for (let j = 0; j < d; j++) dd += (x[row + j]! - centroids[(c - 1) * d + j]!) ** 2;
      if (dd < dist[s]!) dist[s] = dd;
      total += dist[s]!;
    }
    let target = rng.uniform() * total;
    let pick = m - 1;
    for (let s = 0; s < m; s++) {
      target -= dist[s]!;
      if (target <= 0) {
        pick = s;
        break;
      }
    }
    const row = sample[pick]! * d;
    for (let j = 0; j < d; j++) centroids[c * d + j] = x[row + j]!;
  }
  return centroids;
}

function nearest(x: Float32Array, row: number, centroids: Float64Array, k: number, d: number) {
  let best = 0;
  let bestDist = Infinity;
  for (let c = 0; c < k; c++) {
    let dd = 0;
    const base = c * d;
    for (let j = 0; j < d && dd < bestDist; j++) dd += (x[row + j]! - centroids[base + j]!) ** 2;
    if (dd < bestDist) {
      bestDist = dd;
      best = c;
    }
  }
  return { c: best, dist: bestDist };
}
