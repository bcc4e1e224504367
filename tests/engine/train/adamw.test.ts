import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { AdamW } from '../../../src-main/engine/train/adamw.ts';
import { learningRateAt } from '../../../src-main/engine/train/schedule.ts';

/** Plain-number AdamW in PyTorch's order, to check the tensor version against. */
function reference(p: number[], grads: number[][], lrs: number[], wd: number): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const out = [...p];
  grads.forEach((g, step) => {
    const t = step + 1;
    const lr = lrs[step]!;
    for (let i = 0; i < out.length; i++) {
      out[i] = out[i]! * (1 - lr * wd);
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
      out[i] = out[i]! - (lr / (1 - 0.9 ** t)) * (m[i]! / denom);
    }
  });
  return out;
}

test('AdamW matches the PyTorch update, with no decay on names marked noDecay', async () => {
  await tf.setBackend('cpu');
  const w0 = [0.5, -1.25, 2, 0.01];
  const w = tf.variable(tf.tensor1d(w0), true, 'adamw-test-w');
  const b = tf.variable(tf.tensor1d(w0), true, 'adamw-test-b');
  const opt = new AdamW(
    new Map([
      ['w', w],
      ['bias', b],
    ]),
    { weightDecay: 0.05, noDecay: (n) => n === 'bias' },
  );
  const grads = [
    [0.1, -0.2, 0.3, 0],
    [1, 2, -3, 0.5],
    [-0.01, 0.02, 0.5, 4],
  ];
  const lrs = [1e-2, 5e-3, 1e-3];
  const before = tf.memory().numTensors;
  grads.forEach((g, i) => {
    const gt = tf.tensor1d(g);
    opt.apply(
      new Map([
        ['w', gt],
        ['bias', gt],
      ]),
      lrs[i]!,
    );
    gt.dispose();
  });
  assert.equal(tf.memory().numTensors, before, 'no tensor outlives an update');
  const gotW = Array.from(w.dataSync());
  const gotB = Array.from(b.dataSync());
  const wantW = reference(w0, grads, lrs, 0.05);
  const wantB = reference(w0, grads, lrs, 0);
  for (let i = 0; i < w0.length; i++) {
    assert.ok(Math.abs(gotW[i]! - wantW[i]!) < 1e-6, `w[${i}] ${gotW[i]} vs ${wantW[i]}`);
    assert.ok(Math.abs(gotB[i]! - wantB[i]!) < 1e-6, `bias[${i}] ${gotB[i]} vs ${wantB[i]}`);
  }
  assert.notEqual(gotW[0], gotB[0], 'weight decay made a difference where it applies');
  opt.dispose();
  w.dispose();
  b.dispose();
});

test('the schedule warms up linearly then decays by cosine to 0 at the last step', () => {
  const s = { peak: 1e-3, warmupSteps: 10, totalSteps: 50 };
  assert.equal(learningRateAt(0, s), 1e-4);
  assert.equal(learningRateAt(9, s), 1e-3);
  assert.equal(learningRateAt(10, s), 1e-3);
  assert.ok(Math.abs(learningRateAt(29.5, s) - 5e-4) < 1e-12);
  assert.equal(learningRateAt(49, s), 0);
  for (let i = 11; i < 50; i++) assert.ok(learningRateAt(i, s) < learningRateAt(i - 1, s));
  assert.equal(learningRateAt(0, { peak: 2, warmupSteps: 0, totalSteps: 1 }), 2);
});
