import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';

import {
  eppsPulley,
  eppsPulleyGaussianMean,
  isotropy,
} from '../../../src-main/engine/eval/isotropy.ts';
import { quadrature, type QuadratureGrid } from '../../../src-main/engine/lejepa/quadrature.ts';
import { Rng } from '../../../src-main/engine/rng.ts';
import { NO_VECTORS, sharedVectorsDir } from '../helpers.ts';
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

interface SigregCase {
  name: string;
  N: number;
  D: number;
  M: number;
  quadrature: { grid: QuadratureGrid; t_max: number; n_points: number };
  z: number[][];
  directions: number[][];
  expected: { per_slice: number[] };
}

const vectors = sharedVectorsDir();

test(
  'the per-slice Epps–Pulley statistic reproduces every golden SIGReg case in float64',
  { skip: vectors === null ? NO_VECTORS : false },
  () => {
    const file = JSON.parse(readFileSync(`${vectors}sigreg.json`, 'utf8')) as {
      cases: SigregCase[];
    };
    for (const c of file.cases) {
      const q = c.quadrature;
      const quad = quadrature({ grid: q.grid, tMax: q.t_max, nPoints: q.n_points });
      const dirs = c.directions.flat();
      const fill = (r: number, out: Float64Array) => out.set(c.z[r]!);
      const got = eppsPulley(c.N, c.D, fill, dirs, c.M, quad);
      assert.equal(got.length, c.M);
      c.expected.per_slice.forEach((want, m) => {
        const err = Math.abs(got[m]! - want);
        assert.ok(
          err <= 1e-9 * Math.abs(want) + 1e-12,
          `${c.name} slice ${m}: ${got[m]} vs ${want}`,
        );
      });
    }
  },
);

test('the Gaussian expectation is about 1.05 on the default grid, and N(0, I) as is averages it', () => {
  const expected = eppsPulleyGaussianMean(quadrature());
  // Σ_k w_k (1 − φ_k²) on 17 nodes over [0, 3], folded: 1.05246 (computed independently).
  assert.ok(Math.abs(expected - 1.05246) < 1e-5, `${expected}`);
  // The as-is statistic of one sample is noisy (all slices share it): average 8 samples.
  let sum = 0;
  for (let seed = 1; seed <= 8; seed++) {
    const n = 1500;
    const d = 24;
    const x = new Rng(seed).normalArray(n * d);
    const r = isotropy({ x, n, d }, { slices: 64, seed });
    assert.equal(r.verdict, 'healthy', r.reasons.join(' '));
    assert.equal(r.epps.expectedGaussian, expected);
    sum += r.epps.asIs.mean;
    if (seed > 1) continue;
    // Scaled by 3 the standardised statistic is unchanged; the as-is one is not.
    const r3 = isotropy({ x: x.map((v) => 3 * v), n, d }, { slices: 64, seed });
    assert.ok(Math.abs(r3.epps.median - r.epps.median) < 1e-6 * r.epps.median + 1e-9);
    assert.ok(r3.epps.asIs.mean > 50 * expected, `scaled as-is mean ${r3.epps.asIs.mean}`);
  }
  assert.ok(Math.abs(sum / 8 - expected) < 0.2, `as-is mean over 8 samples ${sum / 8}`);
});

test('a constant embedding (complete collapse) is collapsed, with finite numbers', () => {
  const n = 200;
  const d = 8;
  const x = new Float32Array(n * d).fill(0.5);
  const report = isotropy({ x, n, d }, { slices: 8 });
  assert.equal(report.verdict, 'collapsed');
  assert.equal(report.deadDimensions, d);
  assert.equal(report.effectiveRank, 0);
  assert.ok(report.epps.perSlice.every(Number.isFinite));
  assert.ok(report.reasons.some((r) => r.includes(`${d} of ${d} dimensions are near-dead`)));
});
