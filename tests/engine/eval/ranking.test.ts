import assert from 'node:assert/strict';
import { test } from 'node:test';

import { rankRuns, ranks, spearman } from '../../../src-main/engine/eval/ranking.ts';

test('ranks average ties', () => {
  assert.deepEqual(Array.from(ranks([10, 20, 10, 30])), [1.5, 3, 1.5, 4]);
});

test('Spearman correlation: monotone, reversed, and a worked example', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 100, 1000, 1e4]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // d = rank differences (0, 2, −1, −1, 0): 1 − 6·Σd²/(n(n²−1)) = 1 − 36/120 = 0.7.
  assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [1, 4, 2, 3, 5]) - 0.7) < 1e-12);
  assert.ok(Number.isNaN(spearman([1], [2])));
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
});

test('runs are ranked by loss / λ^0.4, lowest first', () => {
  const ranked = rankRuns([
    { runId: 1, loss: 0.5, lambda: 0.05 },
    { runId: 2, loss: 0.4, lambda: 0.01 },
    { runId: 3, loss: 0.45, lambda: 0.05 },
  ]);
  assert.deepEqual(
    ranked.map((r) => r.runId),
    [3, 1, 2],
  );
  assert.ok(Math.abs(ranked[0]!.scaledLoss - 0.45 / Math.pow(0.05, 0.4)) < 1e-12);
  assert.equal(ranked[2]!.rank, 3);
});
