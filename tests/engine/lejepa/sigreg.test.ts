import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';

import { initBackend } from '../../../src-main/engine/backend.ts';
import {
  drawDirections,
  lejepaLoss,
  predictionLoss,
  quadrature,
  sigreg,
} from '../../../src-main/engine/lejepa/index.ts';
import { Rng } from '../../../src-main/engine/rng.ts';

await initBackend({ prefer: 'wasm' });
const quad = quadrature();

function gaussian(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
}

test('the default quadrature is the half grid on [0, 3] with 17 knots and doubled trapezoid weights', () => {
  assert.equal(quad.t.length, 17);
  assert.equal(quad.t[0], 0);
  assert.equal(quad.t[16], 3);
  const h = 3 / 16;
  assert.ok(Math.abs(quad.weights[0]! - h) < 1e-15); // 2 · h/2 · exp(0)
  assert.ok(Math.abs(quad.weights[1]! - 2 * h * Math.exp(-(h * h) / 2)) < 1e-15);
  // The symmetric grid on [-5, 5] with 17 knots equals the half grid on [0, 5] with 9.
  const sym = quadrature({ grid: 'symmetric', tMax: 5, nPoints: 17 });
  const half = quadrature({ tMax: 5, nPoints: 9 });
  const total = (q: typeof sym) => q.weights.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total(sym) - total(half)) < 1e-12);
});

test('directions are unit columns, reproducible from the seed and different across seeds', () => {
  const a = drawDirections(new Rng(5), 32, 64);
  const b = drawDirections(new Rng(5), 32, 64);
  const c = drawDirections(new Rng(6), 32, 64);
  assert.deepEqual(a.shape, [32, 64]);
  const norms = tf.norm(a, 'euclidean', 0).dataSync();
  for (const n of norms) assert.ok(Math.abs(n - 1) < 1e-6, `column norm ${n}`);
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  tf.dispose([a, b, c]);
});

test('Gaussian embeddings score about 1.05 per slice, at any batch size', () => {
  const rng = new Rng(11);
  const dirs = drawDirections(rng, 16, 512);
  for (const n of [128, 1024]) {
    const z = gaussian(rng, [n, 16]);
    const { loss, perSlice } = sigreg(z, dirs, quad);
    const value = loss.dataSync()[0]!;
    assert.ok(value > 0.9 && value < 1.25, `N=${n}: mean statistic ${value}`);
    assert.equal(perSlice.shape[0], 512);
    tf.dispose([z, loss, perSlice]);
  }
  dirs.dispose();
});

test('collapsed embeddings score far above Gaussian ones, growing with N', () => {
  const rng = new Rng(12);
  const dirs = drawDirections(rng, 16, 64);
  const n = 256;
  const zeros = tf.zeros([n, 16]);
  const collapsed = sigreg(zeros, dirs, quad).loss.dataSync()[0]!;
  // Every projection is 0: Re = 1, Im = 0, stat = N · Σ w (1 − φ)².
  let expected = 0;
  for (let k = 0; k < quad.t.length; k++) expected += quad.weights[k]! * (1 - quad.phi[k]!) ** 2;
  assert.ok(
    Math.abs(collapsed - n * expected) < 1e-4 * n * expected,
    `${collapsed} vs ${n * expected}`,
  );
  // Rank-1 collapse: every sample on one line.
  const line = tf.matMul(gaussian(rng, [n, 1]), gaussian(rng, [1, 16]));
  const rankOne = sigreg(line, dirs, quad).loss.dataSync()[0]!;
  assert.ok(rankOne > 10, `rank-1 embeddings scored ${rankOne}`);
  tf.dispose([dirs, zeros, line]);
});

test('3-D input averages the per-view statistic; the analytic gradient matches finite differences', () => {
  const rng = new Rng(13);
  const dirs = drawDirections(rng, 8, 16);
  const z = tf.add(tf.mul(gaussian(rng, [3, 40, 8]), 1.3), 0.2);
  const views = tf.unstack(z);
  const each = views.map((v) => sigreg(v, dirs, quad).loss.dataSync()[0]!);
  const joint = sigreg(z, dirs, quad);
  assert.deepEqual(joint.perSlice.shape, [3, 16]);
  const mean = each.reduce((a, b) => a + b, 0) / 3;
  assert.ok(Math.abs(joint.loss.dataSync()[0]! - mean) < 1e-5 * mean);

  // Central differences in float64 on a few coordinates, against tf.grad in float32.
  const f = (x: tf.Tensor) => sigreg(x, dirs, quad).loss;
  const grad = tf.grad(f)(z).dataSync();
  const base = z.dataSync();
  const eps = 1e-2;
  for (const i of [0, 17, 200, 959]) {
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i]! += eps;
    minus[i]! -= eps;
    const fd =
      (f(tf.tensor(plus, z.shape)).dataSync()[0]! - f(tf.tensor(minus, z.shape)).dataSync()[0]!) /
      (2 * eps);
    assert.ok(
      Math.abs(fd - grad[i]!) < 2e-3 * Math.max(1e-2, Math.abs(fd)) + 1e-4,
      `coord ${i}: ${grad[i]} vs ${fd}`,
    );
  }
  tf.dispose([dirs, z, ...views, joint.loss, joint.perSlice]);
});

test('the LeJEPA total mixes prediction and SIGReg with lambda; identical views predict perfectly', () => {
  const rng = new Rng(14);
  const dirs = drawDirections(rng, 8, 32);
  const one = gaussian(rng, [1, 24, 8]);
  const same = tf.tile(one, [4, 1, 1]) as tf.Tensor3D;
  assert.equal(predictionLoss(same, 2).dataSync()[0], 0);
  const proj = gaussian(rng, [4, 24, 8]) as tf.Tensor3D;
  const { total, pred, sigreg: reg } = lejepaLoss(proj, 2, dirs, quad, 0.05);
  const t = total.dataSync()[0]!;
  const want = 0.95 * pred.dataSync()[0]! + 0.05 * reg.dataSync()[0]!;
  assert.ok(Math.abs(t - want) < 1e-6 * Math.abs(want));
  assert.throws(() => lejepaLoss(proj, 5, dirs, quad, 0.05), /nGlobal/);
  assert.throws(() => lejepaLoss(proj, 2, dirs, quad, 1.5), /lambda/);
  const before = tf.memory().numTensors;
  const g = tf.grad((p: tf.Tensor) => lejepaLoss(p as tf.Tensor3D, 2, dirs, quad, 0.05).total)(
    proj,
  );
  assert.equal(tf.memory().numTensors, before + 1, 'only the gradient survives');
  assert.ok(g.dataSync().every(Number.isFinite));
  tf.dispose([dirs, one, same, proj, total, pred, reg, g]);
});

test('SIGReg cost grows linearly, not quadratically, with N and with the number of slices', async () => {
  // Peak memory is a deterministic proxy for the cost: the largest buffers are [N, M, T].
  const rng = new Rng(15);
  const peak = async (n: number, m: number): Promise<number> => {
    const z = gaussian(rng, [n, 32]);
    const dirs = drawDirections(rng, 32, m);
    const info = await tf.profile(() => {
      tf.grad((x: tf.Tensor) => sigreg(x, dirs, quad).loss)(z).dispose();
    });
    tf.dispose([z, dirs]);
    return info.peakBytes - tf.memory().numBytes;
  };
  const small = await peak(128, 64);
  const twiceN = await peak(256, 64);
  const twiceM = await peak(128, 128);
  assert.ok(twiceN < 2.3 * small && twiceN > 1.7 * small, `N×2: ${small} → ${twiceN} bytes`);
  assert.ok(twiceM < 2.3 * small && twiceM > 1.7 * small, `M×2: ${small} → ${twiceM} bytes`);
});
