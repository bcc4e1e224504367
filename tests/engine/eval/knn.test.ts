import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { knnAccuracy } from '../../../src-main/engine/eval/knn.ts';
import type { LabelledFeatures } from '../../../src-main/engine/eval/features.ts';
import { Rng } from '../../../src-main/engine/rng.ts';
import { blobs, randomMeans, useCpu } from './synthetic.ts';

before(useCpu);

/** Independent float64 brute force: the k nearest rows, then the same weighted vote. */
function bruteForce(
  train: LabelledFeatures,
  test: LabelledFeatures,
  k: number,
  metric: 'cosine' | 'euclidean',
): Int32Array {
  const { d } = train;
  const unit = (x: Float32Array, i: number) => {
    const row = Array.from(x.subarray(i * d, (i + 1) * d));
    if (metric === 'euclidean') return row;
    const n = Math.hypot(...row);
    return row.map((v) => v / n);
  };
  const tr = Array.from({ length: train.n }, (_, i) => unit(train.x, i));
  const out = new Int32Array(test.n);
  for (let q = 0; q < test.n; q++) {
    const a = unit(test.x, q);
    const scored = tr.map((b, i) => {
      let s = 0;
      for (let j = 0; j < d; j++)
        s += metric === 'cosine' ? a[j]! * b[j]! : -((a[j]! - b[j]!) ** 2);
      return { s, i };
    });
    scored.sort((u, v) => v.s - u.s);
    const votes = new Map<number, number>();
    const top = scored.slice(0, k);
    for (const { s, i } of top) {
      const l = train.labels[i]!;
      votes.set(l, (votes.get(l) ?? 0) + (metric === 'cosine' ? Math.exp(s / 0.07) : 1));
    }
    let best = -1;
    for (const { i } of top) {
      const l = train.labels[i]!;
      if (best < 0 || votes.get(l)! > votes.get(best)!) best = l;
    }
    out[q] = best;
  }
  return out;
}

for (const metric of ['cosine', 'euclidean'] as const) {
  test(`${metric} kNN agrees with a float64 brute force on overlapping classes`, () => {
    const rng = new Rng(7);
    const means = randomMeans(rng, 4, 12, 1.5);
    const train = blobs(rng, means, 60, 1);
    const test = blobs(rng, means, 25, 1);
    const before = tf.memory().numTensors;
    // Small blocks so the block loop runs several times.
    const result = knnAccuracy(train, test, { k: 7, metric, blockRows: 13 });
    assert.equal(tf.memory().numTensors, before);
    const expected = bruteForce(train, test, 7, metric);
    let agree = 0;
    for (let i = 0; i < test.n; i++) if (expected[i] === result.predictions[i]) agree++;
    // Float32 on the backend against float64 here: only exact ties in distance could differ.
    assert.ok(agree >= test.n - 1, `${agree} of ${test.n} predictions agree`);
    let correct = 0;
    for (let i = 0; i < test.n; i++) if (result.predictions[i] === test.labels[i]) correct++;
    assert.equal(result.correct, correct);
    assert.equal(result.accuracy, correct / test.n);
    // Overlapping classes: neither trivial nor chance.
    assert.ok(result.accuracy > 0.4 && result.accuracy < 1, `accuracy ${result.accuracy}`);
  });
}

test('well separated classes are classified perfectly; unlabelled rows are skipped', () => {
  const rng = new Rng(3);
  const means = randomMeans(rng, 5, 16, 10);
  const train = blobs(rng, means, 30, 0.5);
  const test = blobs(rng, means, 10, 0.5);
  test.labels[0] = -1;
  train.labels[1] = -1;
  const result = knnAccuracy(train, test);
  assert.equal(result.total, test.n - 1);
  assert.equal(result.accuracy, 1);
  assert.equal(result.k, 20);
});

test('cosine kNN ignores the length of the features, euclidean does not', () => {
  // Two classes along the same direction at different lengths: cosine cannot tell them apart.
  const x = new Float32Array([1, 0, 2, 0, 10, 0, 11, 0]);
  const train = { x, n: 4, d: 2, labels: new Int32Array([0, 0, 1, 1]) };
  const test = {
    x: new Float32Array([1.5, 0, 10.5, 0]),
    n: 2,
    d: 2,
    labels: new Int32Array([0, 1]),
  };
  assert.equal(knnAccuracy(train, test, { k: 1, metric: 'euclidean' }).accuracy, 1);
  const cos = knnAccuracy(train, test, { k: 4, metric: 'cosine' });
  // Every neighbour has cosine 1, so the vote is a tie and goes to the nearest first voter.
  assert.equal(cos.predictions[0], cos.predictions[1]);
  assert.equal(cos.accuracy, 0.5);
});

test('mismatched shapes are refused with the numbers', () => {
  const train = { x: new Float32Array(6), n: 2, d: 3, labels: new Int32Array(2) };
  assert.throws(() => knnAccuracy(train, { ...train, n: 3 }), /expected 3×3 = 9 values, got 6/);
});
