/**
 * The k-nearest-neighbour graph of a point set (Euclidean), the first step of
 * UMAP. Up to `exactLimit` points: exact, one block of rows at a time as a
 * matrix product plus `topk` on the active TensorFlow.js backend. Above: the
 * inverted-file index of neighbours.ts (approximate, most neighbours found).
 */
import * as tf from '@tensorflow/tfjs-core';

import type { Features } from './features.ts';
import { buildNeighbourIndex } from './neighbours.ts';

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
    const index = buildNeighbourIndex(f, {
      metric: 'euclidean',
      probes: 6,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    for (let i = 0; i < n; i++) {
      if (i % 1000 === 0) {
        yield;
        if (options.shouldStop?.()) return null;
        options.onProgress?.(i, n);
      }
      const hits = index.query(x.subarray(i * d, (i + 1) * d), kk, i);
      indices.set(hits.indices, i * kk);
      distances.set(hits.scores, i * kk);
      // A sparse list may return fewer than k: repeat the last neighbour found.
      for (let j = hits.indices.length; j < kk; j++) {
        indices[i * kk + j] = hits.indices[hits.indices.length - 1] ?? i;
        distances[i * kk + j] = hits.scores[hits.scores.length - 1] ?? 0;
      }
    }
    options.onProgress?.(n, n);
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
