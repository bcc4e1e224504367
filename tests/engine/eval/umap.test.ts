import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { knnGraph } from '../../../src-main/engine/eval/knn-graph.ts';
import { buildNeighbourIndex } from '../../../src-main/engine/eval/neighbours.ts';
import { umap, umapAsync } from '../../../src-main/engine/eval/umap.ts';
import { Rng } from '../../../src-main/engine/rng.ts';
import { blobs, randomMeans, useCpu } from './synthetic.ts';

before(useCpu);

test('the exact k-NN graph matches the exact neighbour index and leaves self out', () => {
  const rng = new Rng(1);
  const n = 300;
  const d = 9;
  const x = rng.normalArray(n * d);
  const before = tf.memory().numTensors;
  const g = knnGraph({ x, n, d }, 5)!;
  assert.equal(tf.memory().numTensors, before);
  const index = buildNeighbourIndex({ x, n, d }, { metric: 'euclidean' });
  for (const i of [0, 17, 299]) {
    const hits = index.query(x.subarray(i * d, (i + 1) * d), 5, i);
    assert.deepEqual(Array.from(g.indices.subarray(i * 5, i * 5 + 5)), Array.from(hits.indices));
    for (let j = 0; j < 5; j++) {
      assert.ok(Math.abs(g.distances[i * 5 + j]! - hits.scores[j]!) < 1e-3);
    }
  }
});

test('the approximate k-NN graph finds nearly all exact neighbours of points near a low-dimensional surface', () => {
  // 4,000 points near a 3-D subspace of 20-D, as learned features are: the regime the
  // list blocks and their refinement are for.
  const rng = new Rng(11);
  const n = 4000;
  const d = 20;
  const basis = Array.from({ length: 3 }, () => rng.normalArray(d));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = [rng.normal() * 3, rng.normal() * 2, rng.normal()];
    for (let j = 0; j < d; j++) {
      x[i * d + j] =
        z[0]! * basis[0]![j]! + z[1]! * basis[1]![j]! + z[2]! * basis[2]![j]! + 0.05 * rng.normal();
    }
  }
  const f = { x, n, d };
  const k = 10;
  const exact = knnGraph(f, k)!;
  assert.equal(exact.exact, true);
  const before = tf.memory().numTensors;
  const recall = (g: NonNullable<ReturnType<typeof knnGraph>>): number => {
    let hit = 0;
    for (let i = 0; i < n; i++) {
      const truth = new Set(exact.indices.subarray(i * k, (i + 1) * k));
      for (const j of g.indices.subarray(i * k, (i + 1) * k)) if (truth.has(j)) hit++;
      assert.ok(!g.indices.subarray(i * k, (i + 1) * k).includes(i), `row ${i} lists itself`);
    }
    return hit / (n * k);
  };
  const blocks = knnGraph(f, k, { exactLimit: 1000, refineRounds: 0 })!;
  const refined = knnGraph(f, k, { exactLimit: 1000 })!;
  assert.equal(tf.memory().numTensors, before);
  assert.equal(refined.exact, false);
  const r0 = recall(blocks);
  const r2 = recall(refined);
  assert.ok(r2 >= 0.97, `recall ${r0} then ${r2}`);
  assert.ok(r2 > r0, `refinement should find more neighbours (${r0} then ${r2})`);
  // Distances are sorted and true Euclidean distances of the listed rows.
  for (const i of [0, 1234, 3999]) {
    for (let j = 0; j < k; j++) {
      const nb = refined.indices[i * k + j]!;
      let s = 0;
      for (let q = 0; q < d; q++) s += (x[i * d + q]! - x[nb * d + q]!) ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - refined.distances[i * k + j]!) < 1e-3);
      if (j > 0) assert.ok(refined.distances[i * k + j]! >= refined.distances[i * k + j - 1]!);
    }
  }
  let calls = 0;
  assert.equal(knnGraph(f, k, { exactLimit: 1000, shouldStop: () => ++calls > 3 }), null);
});

test('UMAP keeps separated clusters apart in 2-D and replays with its seed', () => {
  const rng = new Rng(2);
  const f = blobs(rng, randomMeans(rng, 4, 60, 8), 60, 1);
  const phases = new Set<string>();
  const a = umap(f, { seed: 3, epochs: 150, onProgress: (p) => phases.add(p) })!;
  const b = umap(f, { seed: 3, epochs: 150 })!;
  assert.deepEqual(a.coords, b.coords);
  assert.deepEqual([...phases], ['pca', 'graph', 'layout']);
  assert.equal(a.coords.length, f.n * 2);
  // In the layout, each point's nearest other point belongs to its own class.
  const index = buildNeighbourIndex({ x: a.coords, n: f.n, d: 2 }, { metric: 'euclidean' });
  let same = 0;
  for (let i = 0; i < f.n; i++) {
    const nb = index.query(a.coords.subarray(i * 2, i * 2 + 2), 1, i).indices[0]!;
    if (f.labels[nb] === f.labels[i]) same++;
  }
  assert.ok(same / f.n > 0.97, `${same} of ${f.n}`);
});

test('UMAP stops when asked', () => {
  const rng = new Rng(4);
  const f = blobs(rng, randomMeans(rng, 2, 8, 4), 50, 1);
  let calls = 0;
  assert.equal(umap(f, { shouldStop: () => ++calls > 2 }), null);
});

test('umapAsync lays out exactly as umap and reads a stop request set by a timer', async () => {
  const rng = new Rng(5);
  const f = blobs(rng, randomMeans(rng, 3, 10, 6), 40, 1);
  const before = tf.memory().numTensors;
  const sync = umap(f, { seed: 2, epochs: 60 })!;
  const async = (await umapAsync(f, { seed: 2, epochs: 60 }))!;
  assert.deepEqual(async.coords, sync.coords);
  // A timer can only fire when the event loop gets a turn: umapAsync gives it one at each step.
  let stop = false;
  setTimeout(() => (stop = true), 0);
  assert.equal(await umapAsync(f, { seed: 2, shouldStop: () => stop }), null);
  assert.equal(tf.memory().numTensors, before);
});
