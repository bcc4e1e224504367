import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { isotropy } from '../../../src-main/engine/eval/isotropy.ts';
import { Rng } from '../../../src-main/engine/rng.ts';
import { useCpu } from './synthetic.ts';

before(useCpu);

/** n rows of d dimensions: per-dimension scales, then a random rotation, plus an offset. */
function cloud(seed: number, n: number, scales: number[], offset = 0) {
  const rng = new Rng(seed);
  const d = scales.length;
  // Random orthogonal basis (Gram–Schmidt) so the spectrum is not axis-aligned.
  const basis: number[][] = [];
  while (basis.length < d) {
    const v = Array.from({ length: d }, () => rng.normal());
    for (const b of basis) {
      const dot = v.reduce((s, a, i) => s + a * b[i]!, 0);
      for (let i = 0; i < d; i++) v[i] = v[i]! - dot * b[i]!;
    }
    const norm = Math.hypot(...v);
    basis.push(v.map((a) => a / norm));
  }
  const x = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const g = scales.map((s) => s * rng.normal());
    for (let j = 0; j < d; j++) {
      let v = offset;
      for (let k = 0; k < d; k++) v += g[k]! * basis[k]![j]!;
      x[r * d + j] = v;
    }
  }
  return { x, n, d };
}

test('an isotropic Gaussian is healthy and its Epps–Pulley statistic sits at the Gaussian value', () => {
  const report = isotropy(cloud(1, 3000, Array(24).fill(2), 5), { slices: 64 });
  assert.equal(report.verdict, 'healthy', report.reasons.join(' '));
  assert.ok(
    Math.abs(report.epps.expectedGaussian - 1.05) < 0.01,
    `${report.epps.expectedGaussian}`,
  );
  // Standardising with the sample's own moments lowers the statistic well below 1.05;
  // the reference drawn from true Gaussian data lands at the same level.
  const { median, gaussianReference } = report.epps;
  assert.ok(gaussianReference > 0.2 && gaussianReference < 0.8, `reference ${gaussianReference}`);
  assert.ok(Math.abs(median - gaussianReference) < 0.25, `${median} vs ${gaussianReference}`);
  assert.ok(report.effectiveRankRatio > 0.95, `rank ratio ${report.effectiveRankRatio}`);
  assert.ok(Math.abs(report.meanNorm - 5 * Math.sqrt(24)) < 0.5, `mean norm ${report.meanNorm}`);
  assert.equal(report.deadDimensions, 0);
  for (const s of report.std) assert.ok(Math.abs(s - 2) < 0.15);
  const trace = report.eigenvalues.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(trace / 24 - 4) < 0.2);
});

test('a cloud on a 1-D line is collapsed', () => {
  const scales = [3, ...Array<number>(23).fill(1e-3)];
  const report = isotropy(cloud(2, 2000, scales), { slices: 32 });
  assert.equal(report.verdict, 'collapsed');
  assert.ok(report.effectiveRank < 1.2, `effective rank ${report.effectiveRank}`);
  assert.ok(report.topEigenShare > 0.99);
  assert.match(report.reasons[0]!, /Effective rank/);
});

test('dead dimensions are counted and make half-dead embeddings collapsed', () => {
  const rng = new Rng(4);
  const n = 1000;
  const d = 16;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < 6; j++) x[i * d + j] = rng.normal();
  const report = isotropy({ x, n, d }, { slices: 16 });
  assert.equal(report.deadDimensions, 10);
  assert.equal(report.verdict, 'collapsed');
});

test('a fast-decaying spectrum is anisotropic, and the statistic sees it', () => {
  const scales = Array.from({ length: 32 }, (_, i) => Math.pow(0.8, i));
  const report = isotropy(cloud(3, 3000, scales), { slices: 64 });
  assert.equal(report.verdict, 'anisotropic', report.reasons.join(' '));
  assert.ok(report.effectiveRankRatio < 0.5);
  assert.ok(report.epps.median > 5 * report.epps.gaussianReference, `${report.epps.median}`);
  // Eigenvalues follow the squared scales.
  assert.ok(Math.abs(report.eigenvalues[0]! - 1) < 0.1, `${report.eigenvalues[0]}`);
  assert.ok(Math.abs(report.eigenvalues[1]! - 0.64) < 0.07, `${report.eigenvalues[1]}`);
});
