import assert from 'node:assert/strict';
import { test } from 'node:test';

import { symmetricEigen } from '../../../src-main/engine/eval/eigen.ts';
import { Rng } from '../../../src-main/engine/rng.ts';

function randomSymmetric(rng: Rng, d: number): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) a[i * d + j] = a[j * d + i] = rng.normal();
  }
  return a;
}

for (const d of [1, 2, 3, 17, 64]) {
  test(`A·V = V·Λ and VᵀV = I for a random symmetric ${d}×${d} matrix`, () => {
    const a = randomSymmetric(new Rng(d), d);
    const { values, vectors } = symmetricEigen(a, d);
    let worst = 0;
    let worstOrtho = 0;
    for (let c = 0; c < d; c++) {
      for (let r = 0; r < d; r++) {
        let av = 0;
        for (let k = 0; k < d; k++) av += a[r * d + k]! * vectors[k * d + c]!;
        worst = Math.max(worst, Math.abs(av - values[c]! * vectors[r * d + c]!));
      }
      for (let c2 = 0; c2 < d; c2++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += vectors[k * d + c]! * vectors[k * d + c2]!;
        worstOrtho = Math.max(worstOrtho, Math.abs(dot - (c === c2 ? 1 : 0)));
      }
    }
    assert.ok(worst < 1e-10, `residual ${worst}`);
    assert.ok(worstOrtho < 1e-10, `orthogonality ${worstOrtho}`);
    for (let i = 1; i < d; i++) assert.ok(values[i - 1]! >= values[i]!);
    // The trace is the sum of the eigenvalues.
    let trace = 0;
    for (let i = 0; i < d; i++) trace += a[i * d + i]!;
    assert.ok(Math.abs(trace - values.reduce((s, v) => s + v, 0)) < 1e-9);
  });
}

test('known spectrum: a diagonal matrix in a rotated basis, with repeated eigenvalues', () => {
  const d = 6;
  const lambda = [5, 3, 3, 1, 0, 0];
  // Orthogonal basis from Gram–Schmidt on random vectors.
  const rng = new Rng(9);
  const basis: number[][] = [];
  while (basis.length < d) {
    const v = Array.from({ length: d }, () => rng.normal());
    for (const b of basis) {
      const dot = v.reduce((s, x, i) => s + x * b[i]!, 0);
      for (let i = 0; i < d; i++) v[i] = v[i]! - dot * b[i]!;
    }
    const n = Math.hypot(...v);
    basis.push(v.map((x) => x / n));
  }
  const a = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++)
        a[i * d + j] = a[i * d + j]! + lambda[k]! * basis[k]![i]! * basis[k]![j]!;
    }
  }
  const { values } = symmetricEigen(a, d);
  lambda.forEach((l, i) => assert.ok(Math.abs(values[i]! - l) < 1e-12, `${values[i]} vs ${l}`));
});
