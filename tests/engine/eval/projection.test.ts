import assert from 'node:assert/strict';
import { test } from 'node:test';

import { moments } from '../../../src-main/engine/eval/covariance.ts';
import { kmeans } from '../../../src-main/engine/eval/kmeans.ts';
import { buildNeighbourIndex } from '../../../src-main/engine/eval/neighbours.ts';
import { pca } from '../../../src-main/engine/eval/pca.ts';
import { Rng } from '../../../src-main/engine/rng.ts';
import { blobs, randomMeans } from './synthetic.ts';

test('the blocked covariance equals a plain two-pass computation (n not a multiple of 8)', () => {
  const rng = new Rng(1);
  const n = 203;
  const d = 7;
  const x = Float32Array.from(rng.normalArray(n * d), (v, i) => v + (i % d) * 100);
  const { mean, cov } = moments({ x, n, d });
  for (let a = 0; a < d; a++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * d + a]!;
    m /= n;
    assert.ok(Math.abs(m - mean[a]!) < 1e-9);
    for (let b = 0; b < d; b++) {
      let mb = 0;
      for (let i = 0; i < n; i++) mb += x[i * d + b]! / n;
      let s = 0;
      for (let i = 0; i < n; i++) s += (x[i * d + a]! - m) * (x[i * d + b]! - mb);
      assert.ok(Math.abs(s / (n - 1) - cov[a * d + b]!) < 1e-9);
    }
  }
});

test('PCA finds a planted plane and its coordinates have the axis variances', () => {
  const rng = new Rng(2);
  const n = 2000;
  const d = 10;
  // Variance 9 along (1,1,0,…)/√2, 4 along e3, 0.01 elsewhere.
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const a = 3 * rng.normal();
    const b = 2 * rng.normal();
    for (let j = 0; j < d; j++) x[i * d + j] = 0.1 * rng.normal() + 7;
    x[i * d] = x[i * d]! + a / Math.SQRT2;
    x[i * d + 1] = x[i * d + 1]! + a / Math.SQRT2;
    x[i * d + 2] = x[i * d + 2]! + b;
  }
  const r = pca({ x, n, d }, 3);
  assert.ok(
    Math.abs(r.axes[0]! - Math.SQRT1_2) < 0.01 && Math.abs(r.axes[3]! - Math.SQRT1_2) < 0.01,
  );
  assert.ok(Math.abs(Math.abs(r.axes[2 * 3 + 1]!) - 1) < 0.01);
  assert.ok(Math.abs(r.variances[0]! - 9) < 0.7 && Math.abs(r.variances[1]! - 4) < 0.3);
  assert.ok(r.explained[0]! + r.explained[1]! > 0.98);
  for (let c = 0; c < 3; c++) {
    let m = 0;
    let v = 0;
    for (let i = 0; i < n; i++) m += r.coords[i * 3 + c]! / n;
    for (let i = 0; i < n; i++) v += (r.coords[i * 3 + c]! - m) ** 2 / (n - 1);
    assert.ok(Math.abs(m) < 1e-3, `coordinate mean ${m}`);
    assert.ok(Math.abs(v - r.variances[c]!) < 1e-3 * r.variances[c]!, `${v} vs ${r.variances[c]}`);
  }
});

test('k-means recovers well separated clusters and is reproducible with its seed', () => {
  const rng = new Rng(3);
  const f = blobs(rng, randomMeans(rng, 5, 8, 20), 80, 1);
  const a = kmeans(f, 5, { seed: 4 });
  const b = kmeans(f, 5, { seed: 4 });
  assert.deepEqual(a.assignments, b.assignments);
  // Every true class maps to exactly one cluster and vice versa.
  const pairs = new Set<string>();
  for (let i = 0; i < f.n; i++) pairs.add(`${f.labels[i]}-${a.assignments[i]}`);
  assert.equal(pairs.size, 5);
  assert.ok(a.inertia / f.n < 8 * 1.5, `inertia per row ${a.inertia / f.n}`);
});

for (const metric of ['cosine', 'euclidean'] as const) {
  test(`exact ${metric} neighbours match a sort of all distances`, () => {
    const rng = new Rng(5);
    const n = 500;
    const d = 13;
    const x = rng.normalArray(n * d);
    const index = buildNeighbourIndex({ x, n, d }, { metric });
    assert.equal(index.kind, 'exact');
    const q = x.slice(7 * d, 8 * d);
    const hits = index.query(q, 10, 7);
    const scored = Array.from({ length: n }, (_, i) => {
      let dot = 0;
      let na = 0;
      let nb = 0;
      let dist = 0;
      for (let j = 0; j < d; j++) {
        dot += q[j]! * x[i * d + j]!;
        na += q[j]! ** 2;
        nb += x[i * d + j]! ** 2;
        dist += (q[j]! - x[i * d + j]!) ** 2;
      }
      return { i, s: metric === 'cosine' ? dot / Math.sqrt(na * nb) : -Math.sqrt(dist) };
    })
      .filter((r) => r.i !== 7)
      .sort((a, b) => b.s - a.s);
    assert.deepEqual(
      Array.from(hits.indices),
      scored.slice(0, 10).map((r) => r.i),
    );
    for (let r = 0; r < 10; r++) {
      assert.ok(Math.abs(Math.abs(hits.scores[r]!) - Math.abs(scored[r]!.s)) < 1e-4);
    }
  });
}

test('the approximate index finds most true neighbours on clustered data', () => {
  const rng = new Rng(6);
  const f = blobs(rng, randomMeans(rng, 30, 16, 4), 100, 1);
  const exact = buildNeighbourIndex(f);
  const approx = buildNeighbourIndex(f, { exactLimit: 100, probes: 6 });
  assert.equal(approx.kind, 'ivf');
  let found = 0;
  for (let qi = 0; qi < 50; qi++) {
    const q = f.x.slice(qi * f.d, (qi + 1) * f.d);
    const truth = new Set(exact.query(q, 10, qi).indices);
    for (const i of approx.query(q, 10, qi).indices) if (truth.has(i)) found++;
  }
  assert.ok(found / 500 > 0.9, `recall ${found / 500}`);
});
