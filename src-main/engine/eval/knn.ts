/**
 * k-nearest-neighbour classification of frozen features, the label-light check
 * of an encoder that the LeJEPA paper reports beside the linear probe.
 *
 * Similarities are computed on the active TensorFlow.js backend, one block of
 * query rows at a time (a [rows, nTrain] similarity block plus `topk`), so a
 * 10k × 60k × 256 evaluation never holds the full similarity matrix.
 */
import * as tf from '@tensorflow/tfjs-core';

import { checkFeatures, classCount, labelledRows, type LabelledFeatures } from './features.ts';

export type KnnMetric = 'cosine' | 'euclidean';

export interface KnnOptions {
  /** Neighbours that vote (default 20; capped at the number of labelled train rows). */
  k?: number;
  /** 'cosine' (default): L2-normalised features, votes weighted by exp(sim / temperature). */
  metric?: KnnMetric;
  /** Temperature of the cosine vote weights (default 0.07). */
  temperature?: number;
  /** Query rows per block; by default about 16M similarities per block. */
  blockRows?: number;
  /** Called after each block with the number of query rows done. */
  onProgress?: (done: number, total: number) => void;
}

export interface KnnResult {
  accuracy: number;
  correct: number;
  /** Labelled query rows that were classified. */
  total: number;
  k: number;
  metric: KnnMetric;
  /** [total] predicted class per labelled query row, in query order. */
  predictions: Int32Array;
}

/**
 * Classifies every labelled row of `test` by a vote of its k nearest labelled
 * rows of `train` and returns the accuracy.
 *
 * Cosine: features are L2-normalised, each neighbour votes with weight
 * exp(cos / T). Euclidean: each neighbour votes 1. Ties go to the class whose
 * first voter is nearest. Shapes: train.x [nTrain, d], test.x [nTest, d].
 */
export function knnAccuracy(
  train: LabelledFeatures,
  test: LabelledFeatures,
  options: KnnOptions = {},
): KnnResult {
  checkFeatures(train, 'kNN train features');
  checkFeatures(test, 'kNN test features');
  if (train.d !== test.d) {
    throw new Error(`kNN: train has ${train.d} dimensions but test has ${test.d}.`);
  }
  const metric = options.metric ?? 'cosine';
  const temperature = options.temperature ?? 0.07;
  const tr = labelledRows(train);
  const te = labelledRows(test);
  if (tr.n === 0) throw new Error('kNN: the train features have no labelled rows.');
  const k = Math.max(1, Math.min(options.k ?? 20, tr.n));
  const classes = classCount(tr.labels, te.labels);
  const predictions = new Int32Array(te.n);
  const blockRows = options.blockRows ?? Math.max(1, Math.floor((1 << 24) / tr.n));

  // The bank is stored transposed, [d, nTrain]: the WASM backend multiplies by a
  // transposed operand about ten times slower than by a plain one.
  const bank = tf.tidy(() => {
    const x = tf.tensor2d(tr.x, [tr.n, tr.d]);
    return tf.transpose(metric === 'cosine' ? l2Normalise(x) : x);
  });
  // ‖b‖² per train row, subtracted so that larger score = nearer: 2a·b − ‖b‖².
  const bankSq = metric === 'euclidean' ? tf.tidy(() => tf.sum(tf.square(bank), 0)) : null;
  const votes = new Float64Array(classes);
  let correct = 0;
  try {
    for (let start = 0; start < te.n; start += blockRows) {
      const rows = Math.min(blockRows, te.n - start);
      const [values, indices] = tf.tidy(() => {
        const q0 = tf.tensor2d(te.x.subarray(start * te.d, (start + rows) * te.d), [rows, te.d]);
        const q = metric === 'cosine' ? l2Normalise(q0) : q0;
        const dots = tf.matMul(q, bank);
        const score = bankSq === null ? dots : tf.sub(tf.mul(dots, 2), bankSq);
        const top = tf.topk(score, k, true);
        return [top.values, top.indices];
      });
      const sims = values.dataSync() as Float32Array;
      const idx = indices.dataSync() as Int32Array;
      values.dispose();
      indices.dispose();

      for (let r = 0; r < rows; r++) {
        votes.fill(0);
        for (let j = 0; j < k; j++) {
          const label = tr.labels[idx[r * k + j]!]!;
          const w = metric === 'cosine' ? Math.exp(sims[r * k + j]! / temperature) : 1;
          votes[label] = votes[label]! + w;
        }
        // Neighbours arrive nearest first: scanning them in order with a strict
        // comparison gives a tie to the class whose first voter is nearest.
        let best = -1;
        for (let j = 0; j < k; j++) {
          const label = tr.labels[idx[r * k + j]!]!;
          if (best < 0 || votes[label]! > votes[best]!) best = label;
        }
        predictions[start + r] = best;
        if (best === te.labels[start + r]) correct++;
      }
      options.onProgress?.(start + rows, te.n);
    }
  } finally {
    bank.dispose();
    bankSq?.dispose();
  }
  return {
    accuracy: te.n === 0 ? 0 : correct / te.n,
    correct,
    total: te.n,
    k,
    metric,
    predictions,
  };
}

/** Rows scaled to unit L2 length (zero rows stay zero). */
function l2Normalise(x: tf.Tensor2D): tf.Tensor2D {
  const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
  return tf.div(x, tf.maximum(norm, 1e-12));
}
