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
