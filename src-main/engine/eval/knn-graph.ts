/**
 * The k-nearest-neighbour graph of a point set (Euclidean), the first step of
 * UMAP. Up to `exactLimit` points: exact, one block of rows at a time as a
 * matrix product plus `topk` on the active TensorFlow.js backend. Above:
 * approximate, by list blocks: k-means splits the points into about √n lists, and
 * the points of each list are compared, as one matrix product, with the points of
 * the `probes` lists whose centroids are nearest to their own list's centroid;
 * then rounds of refinement in the manner of NN-descent (Dong, Charikar & Li 2011):
 * each point is compared with its neighbours' neighbours and with the points that
 * list it, which finds most of the neighbours that sat across a list boundary.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { Features } from './features.ts';
import { kmeans } from './kmeans.ts';

export interface KnnGraph {
  n: number;
  k: number;
  /** [n, k] neighbour rows, nearest first, self excluded. */
  indices: Int32Array;
  /** [n, k] Euclidean distances. */
  distances: Float32Array;
  exact: boolean;
}

export interface KnnGraphOptions {
  exactLimit?: number;
  /** Lists searched for each list above `exactLimit` (default 10). */
  probes?: number;
  /** Rounds of neighbours-of-neighbours refinement after the list blocks (default 2). */
  refineRounds?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
  shouldStop?: () => boolean;
}

/** k nearest neighbours of every row of f.x [n, d] among the other rows. Null when stopped. */
export function knnGraph(f: Features, k: number, options: KnnGraphOptions = {}): KnnGraph | null {
  const steps = knnGraphSteps(f, k, options);
  let r = steps.next();
  while (r.done !== true) r = steps.next();
  return r.value;
}

/**
 * The same computation as `knnGraph`, pausing (a `yield`) before each block of rows,
 * where `shouldStop` is polled: a caller that awaits a macrotask turn at each pause
 * lets its process read a cancel request. The result does not depend on the pauses.
 */
export function* knnGraphSteps(
  f: Features,
  k: number,
  options: KnnGraphOptions = {},
): Generator<void, KnnGraph | null> {
  const { x, n, d } = f;
  const kk = Math.min(k, n - 1);
  const indices = new Int32Array(n * kk);
  const distances = new Float32Array(n * kk);
  if (kk <= 0) return { n, k: kk, indices, distances, exact: true };

  if (n > (options.exactLimit ?? 20_000)) {
    if (!(yield* listBlocks(f, kk, indices, distances, options))) return null;
    for (let round = 0; round < (options.refineRounds ?? 2); round++) {
      if (!(yield* refine(f, kk, indices, distances, options))) return null;
    }
    return { n, k: kk, indices, distances, exact: false };
  }

  const bank = tf.tidy(() => tf.transpose(tf.tensor2d(x, [n, d])));
  const sq = tf.tidy(() => tf.sum(tf.square(bank), 0));
  const sqJs = sq.dataSync();
  const block = Math.max(1, Math.floor((1 << 23) / n));
  try {
    for (let start = 0; start < n; start += block) {
      yield;
      if (options.shouldStop?.()) return null;
      const rows = Math.min(block, n - start);
      const [values, idx] = tf.tidy(() => {
        const q = tf.tensor2d(x.subarray(start * d, (start + rows) * d), [rows, d]);
        // Larger = nearer: 2a·b − ‖b‖².
        const score = tf.sub(tf.mul(tf.matMul(q, bank), 2), sq);
        const top = tf.topk(score, kk + 1, true);
        return [top.values, top.indices];
      });
      const v = values.dataSync();
      const ix = idx.dataSync();
      tf.dispose([values, idx]);
      for (let r = 0; r < rows; r++) {
        const i = start + r;
        let w = 0;
        for (let j = 0; j <= kk && w < kk; j++) {
          const nb = ix[r * (kk + 1) + j]!;
          if (nb === i) continue;
          indices[i * kk + w] = nb;
          distances[i * kk + w] = Math.sqrt(Math.max(0, sqJs[i]! - v[r * (kk + 1) + j]!));
          w++;
        }
      }
      options.onProgress?.(start + rows, n);
    }
  } finally {
    tf.dispose([bank, sq]);
  }
  return { n, k: kk, indices, distances, exact: true };
}

/** Rows compared in one matrix product: [rows, candidates] scores stay near 32 MB. */
const BLOCK_SCORES = 1 << 23;

/**
 * The approximate graph: for each k-means list, its points against the points of its
 * `probes` nearest lists (its own first), [rows, d] × [d, candidates] and `topk`.
 * Fills `indices`/`distances`; false when stopped.
 */
function* listBlocks(
  f: Features,
  kk: number,
  indices: Int32Array,
  distances: Float32Array,
  options: KnnGraphOptions,
): Generator<void, boolean> {
  const { x, n, d } = f;
  const lists = Math.max(1, Math.round(Math.sqrt(n)));
  const probes = Math.min(lists, options.probes ?? 10);
  const coarse = kmeans(f, lists, {
    seed: options.seed ?? 0,
    maxIter: 10,
    sampleRows: Math.min(n, 50 * lists),
  });
  // The rows of each list, contiguous in `order`.
  const start = new Int32Array(lists + 1);
  for (const c of coarse.assignments) start[c + 1]!++;
  for (let c = 0; c < lists; c++) start[c + 1]! += start[c]!;
  const order = new Int32Array(n);
  const fill = start.slice(0, lists);
  coarse.assignments.forEach((c, i) => (order[fill[c]!++] = i));
  const sq = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! ** 2;
    sq[i] = s;
  }

  let done = 0;
  for (let c = 0; c < lists; c++) {
    yield;
    if (options.shouldStop?.()) return false;
    options.onProgress?.(done, n);
    const rows = order.subarray(start[c]!, start[c + 1]!);
    if (rows.length === 0) continue;
    const near = nearestCentroids(coarse.centroids, lists, d, c, probes);
    let count = 0;
    for (const l of near) count += start[l + 1]! - start[l]!;
    const cand = new Int32Array(count);
    let w = 0;
    for (const l of near) {
      cand.set(order.subarray(start[l]!, start[l + 1]!), w);
      w += start[l + 1]! - start[l]!;
    }
    const candX = new Float32Array(count * d);
    const candSq = new Float32Array(count);
    cand.forEach((i, r) => {
      candX.set(x.subarray(i * d, (i + 1) * d), r * d);
      candSq[r] = sq[i]!;
    });
    const top = Math.min(kk + 1, count);
    const [bank, bankSq] = tf.tidy(() => [tf.tensor2d(candX, [count, d]), tf.tensor1d(candSq)]);
    try {
      const chunk = Math.max(1, Math.floor(BLOCK_SCORES / count));
      for (let r0 = 0; r0 < rows.length; r0 += chunk) {
        const part = rows.subarray(r0, Math.min(rows.length, r0 + chunk));
        const q = new Float32Array(part.length * d);
        part.forEach((i, r) => q.set(x.subarray(i * d, (i + 1) * d), r * d));
        const [values, idx] = tf.tidy(() => {
          // Larger = nearer: 2a·b − ‖b‖².
          const score = tf.sub(
            tf.mul(tf.matMul(tf.tensor2d(q, [part.length, d]), bank, false, true), 2),
            bankSq,
          );
          const t = tf.topk(score, top, true);
          return [t.values, t.indices];
        });
        const v = values.dataSync();
        const ix = idx.dataSync();
        tf.dispose([values, idx]);
        for (let r = 0; r < part.length; r++) {
          const i = part[r]!;
          let got = 0;
          for (let j = 0; j < top && got < kk; j++) {
            const nb = cand[ix[r * top + j]!]!;
            if (nb === i) continue;
            indices[i * kk + got] = nb;
            distances[i * kk + got] = Math.sqrt(Math.max(0, sq[i]! - v[r * top + j]!));
            got++;
          }
          // Fewer candidates than k: repeat the last neighbour found.
          for (let j = got; j < kk; j++) {
            indices[i * kk + j] = got > 0 ? indices[i * kk + got - 1]! : i;
            distances[i * kk + j] = got > 0 ? distances[i * kk + got - 1]! : 0;
          }
        }
      }
    } finally {
      tf.dispose([bank, bankSq]);
    }
    done += rows.length;
  }
  options.onProgress?.(n, n);
  return true;
}

/** The `probes` centroids nearest to centroid c (c itself first). */
function nearestCentroids(
  centroids: Float32Array,
  lists: number,
  d: number,
  c: number,
  probes: number,
): number[] {
  const dist = new Float64Array(lists);
  for (let l = 0; l < lists; l++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (centroids[l * d + j]! - centroids[c * d + j]!) ** 2;
    dist[l] = l === c ? -1 : s;
  }
  return Array.from({ length: lists }, (_, l) => l)
    .sort((a, b) => dist[a]! - dist[b]! || a - b)
    .slice(0, probes);
}

/**
 * One refinement round: each row i is compared with the neighbours of its neighbours
 * and with its reverse neighbours (at most k of them), keeping the k nearest. Rows are
 * updated in place, in index order, so a round sees the improvements of earlier rows.
 */
function* refine(
  f: Features,
  kk: number,
  indices: Int32Array,
  distances: Float32Array,
  options: KnnGraphOptions,
): Generator<void, boolean> {
  const { x, n, d } = f;
  // Reverse lists, capped at kk entries a row.
  const reverse = new Int32Array(n * kk).fill(-1);
  const reverseCount = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < kk; j++) {
      const t = indices[i * kk + j]!;
      if (t !== i && reverseCount[t]! < kk) reverse[t * kk + reverseCount[t]!++] = i;
    }
  }
  const seen = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (i % 2000 === 0) {
      yield;
      if (options.shouldStop?.()) return false;
    }
    const row = i * kk;
    seen[i] = i;
    for (let j = 0; j < kk; j++) seen[indices[row + j]!] = i;
    let worst = distances[row + kk - 1]! ** 2;
    const consider = (c: number): void => {
      if (c < 0 || seen[c] === i) return;
      seen[c] = i;
      let s = 0;
      for (let q = 0; q < d; q++) {
        const v = x[i * d + q]! - x[c * d + q]!;
        s += v * v;
      }
      if (s >= worst) return;
      // Insert in order, dropping the last.
      const dist = Math.sqrt(s);
      let p = kk - 1;
      while (p > 0 && distances[row + p - 1]! > dist) {
        distances[row + p] = distances[row + p - 1]!;
        indices[row + p] = indices[row + p - 1]!;
        p--;
      }
      distances[row + p] = dist;
      indices[row + p] = c;
      worst = distances[row + kk - 1]! ** 2;
    };
    for (let j = 0; j < kk; j++) {
      const nb = indices[row + j]!;
      for (let q = 0; q < kk; q++) consider(indices[nb * kk + q]!);
      consider(reverse[i * kk + j]!);
    }
  }
  return true;
}
