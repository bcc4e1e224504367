import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import type { LabelledFeatures } from '../../../src-main/engine/eval/features.ts';
import { linearProbe, standardisation } from '../../../src-main/engine/eval/linear-probe.ts';
import { Rng } from '../../../src-main/engine/rng.ts';
import { blobs, randomMeans, useCpu } from './synthetic.ts';

before(useCpu);

/** Objective and gradient recomputed here in float64 from the returned weights. */
function objectiveAt(
  f: LabelledFeatures,
  w: Float32Array,
  b: Float32Array,
  mean: Float32Array,
  std: Float32Array,
  l2: number,
) {
  const { n, d } = f;
  const c = b.length;
  const gw = new Float64Array(d * c);
  const gb = new Float64Array(c);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: d }, (_, j) => (f.x[i * d + j]! - mean[j]!) / std[j]!);
    const logits = Array.from({ length: c }, (_, k) => {
      let s = b[k]!;
      for (let j = 0; j < d; j++) s += z[j]! * w[j * c + k]!;
      return s;
    });
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
    loss += lse - logits[f.labels[i]!]!;
    for (let k = 0; k < c; k++) {
      const r = Math.exp(logits[k]! - lse) - (k === f.labels[i] ? 1 : 0);
      gb[k] = gb[k]! + r / n;
      for (let j = 0; j < d; j++) gw[j * c + k] = gw[j * c + k]! + (z[j]! * r) / n;
    }
  }
  let wsq = 0;
  for (let i = 0; i < d * c; i++) {
    wsq += w[i]! ** 2;
    gw[i] = gw[i]! + l2 * w[i]!;
  }
  const maxGrad = Math.max(...Array.from(gw, Math.abs), ...Array.from(gb, Math.abs));
  return { objective: loss / n + 0.5 * l2 * wsq, maxGrad };
}

test('on overlapping classes the probe reaches the optimum and near-Bayes accuracy', () => {
  const rng = new Rng(11);
  // Two 1-D Gaussians at ±1 with unit noise plus 5 pure-noise dimensions: Bayes accuracy Φ(1) = 0.841.
  const make = (n: number) => {
    const f = blobs(
      rng,
      [
        [-1, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0],
      ],
      n,
      1,
    );
    return f;
  };
  const train = make(1500);
  const test = make(1500);
  const before = tf.memory().numTensors;
  const l2 = 1e-3;
  const r = linearProbe(train, test, { l2 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(r.converged, `stopped by ${r.reason} after ${r.iterations}`);
  const check = objectiveAt(train, r.weights, r.bias, r.mean, r.std, l2);
  assert.ok(Math.abs(check.objective - r.objective) < 1e-5, `${check.objective} vs ${r.objective}`);
  assert.ok(check.maxGrad < 1e-4, `gradient at the solution ${check.maxGrad}`);
  // The reported final gradient is the optimiser's own (float32 products), close to ours.
  assert.ok(Math.abs(r.gradientMax - check.maxGrad) < 1e-4, `${r.gradientMax} vs ${check.maxGrad}`);
  assert.ok(Math.abs(r.testAccuracy! - 0.841) < 0.03, `test accuracy ${r.testAccuracy}`);
  assert.ok(r.iterations < 100);
});

test('separable classes: perfect train and test accuracy, objective at its optimum', () => {
  const rng = new Rng(5);
  const means = randomMeans(rng, 6, 20, 6);
  const train = blobs(rng, means, 40, 1);
  const test = blobs(rng, means, 20, 1);
  const r = linearProbe(train, test);
  assert.equal(r.trainAccuracy, 1);
  assert.equal(r.testAccuracy, 1);
  assert.equal(r.classes, 6);
  assert.ok(r.iterations <= 500);
  const check = objectiveAt(train, r.weights, r.bias, r.mean, r.std, 1e-4);
  assert.ok(check.maxGrad < 1e-4, `gradient at the solution ${check.maxGrad}`);
  // With l2 = 1e-4 the weights grow until the penalty balances the tiny cross-entropy.
  assert.ok(r.objective < 0.05, `objective ${r.objective}`);
});

test('standardisation uses train statistics and leaves constant dimensions at zero', () => {
  const x = new Float32Array([1, 5, 3, 5, 5, 5]); // d = 2, second dimension constant
  const { mean, std } = standardisation(x, 3, 2);
  assert.deepEqual(Array.from(mean), [3, 5]);
  assert.ok(Math.abs(std[0]! - Math.sqrt(8 / 3)) < 1e-6);
  assert.equal(std[1], 1);
});

test('a stronger penalty shrinks the weights', () => {
  const rng = new Rng(2);
  const means = randomMeans(rng, 3, 8, 2);
  const train = blobs(rng, means, 50, 1);
  const norm = (l2: number) => Math.hypot(...linearProbe(train, train, { l2 }).weights);
  assert.ok(norm(1e-1) < norm(1e-3));
});

test('the probe standardises with train statistics only and applies them to the test rows', () => {
  const rng = new Rng(8);
  const means = randomMeans(rng, 3, 6, 8);
  const scaled = (f: LabelledFeatures) => ({ ...f, x: f.x.map((v) => v * 1000 + 5000) });
  const train = scaled(blobs(rng, means, 60, 1));
  const testRows = blobs(rng, means, 30, 1);
  const r = linearProbe(train, scaled(testRows));
  const s = standardisation(train.x, train.n, train.d);
  assert.deepEqual(r.mean, s.mean);
  assert.deepEqual(r.std, s.std);
  assert.ok(r.testAccuracy! > 0.9, `test accuracy ${r.testAccuracy}`);
  // The same rows unscaled: standardised with their own statistics they would be classified
  // as well; with the train's they all land on one side and mostly in one class.
  const unscaled = linearProbe(train, testRows);
  assert.ok(unscaled.testAccuracy! < 0.5, `unscaled test accuracy ${unscaled.testAccuracy}`);
});
