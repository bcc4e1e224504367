import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { presetConfig } from '../../../src-main/api/run-config.ts';
import { initBackend } from '../../../src-main/engine/backend.ts';
import { drawDirections, lejepaLoss, quadrature } from '../../../src-main/engine/lejepa/index.ts';
import { createEncoder, createProjector } from '../../../src-main/engine/models/index.ts';
import { reluSum } from '../../../src-main/engine/models/layers.ts';
import { Rng } from '../../../src-main/engine/rng.ts';
import { variableGradsLean } from '../../../src-main/engine/train/backprop.ts';
import { Trainer, type TrainData } from '../../../src-main/engine/train/trainer.ts';
import { resolveEncoder } from '../../../src-main/jobs/run-setup.ts';
import { noiseTrainData } from '../helpers.ts';

const data = (count: number): TrainData => noiseTrainData(count, 10, 5);

/** Loss and gradients of a ResNet + projector + LeJEPA loss, by `grads`, as plain arrays. */
function lossAndGrads(grads: typeof variableGradsLean): {
  value: number;
  grads: Map<string, Float32Array>;
  leaked: number;
} {
  const rng = new Rng(17);
  const enc = createEncoder(
    { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
    rng,
  );
  const proj = createProjector({ inDim: enc.featureDim, hidden: 12, out: 6 }, rng);
  const x = tf.tensor4d(rng.normalArray(2 * 6 * 14 * 14), [2 * 6, 14, 14, 1]);
  const dirs = drawDirections(rng, 6, 8);
  const quad = quadrature();
  const vars = new Map(
    [...enc.params.trainable, ...proj.params.trainable].map(([n, v]) => [v.name, n]),
  );
  const before = tf.memory().numTensors;
  const r = grads(() => {
    const z = proj.apply(enc.apply(x, { training: true }), { training: true });
    const loss = lejepaLoss(tf.reshape(z, [2, 6, 6]) as tf.Tensor3D, 1, dirs, quad, 0.3);
    tf.dispose([loss.pred, loss.sigreg]);
    return loss.total;
  }, [...enc.params.trainable.values(), ...proj.params.trainable.values()]);
  const out = new Map<string, Float32Array>();
  for (const [name, g] of Object.entries(r.grads)) {
    out.set(vars.get(name)!, g.dataSync() as Float32Array);
  }
  const value = r.value.dataSync()[0]!;
  tf.dispose([r.value, ...Object.values(r.grads)]);
  const leaked = tf.memory().numTensors - before;
  tf.dispose([x, dirs]);
  enc.dispose();
  proj.dispose();
  return { value, grads: out, leaked };
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: the freeing backward pass gives tfjs's own gradients bit for bit`, async () => {
    await initBackend({ prefer: backend });
    const ref = lossAndGrads(tf.variableGrads as typeof variableGradsLean);
    const lean = lossAndGrads(variableGradsLean);
    assert.equal(lean.value, ref.value);
    assert.equal(lean.grads.size, ref.grads.size);
    assert.ok(ref.grads.size > 10, 'every convolution, batch norm and linear layer has a gradient');
    for (const [name, g] of ref.grads) {
      assert.deepEqual(lean.grads.get(name), g, `gradient of ${name}`);
    }
    assert.ok([...ref.grads.values()].some((g) => g.some((v) => v !== 0)));
    assert.equal(lean.leaked, 0, 'no tensor is left behind');
  });
}

test('wasm: ReLU keeping its output has the gradients of relu(add(a, b)) bit for bit', async () => {
  await initBackend({ prefer: 'wasm' });
  const rng = new Rng(3);
  const a = tf.tensor4d(rng.normalArray(2 * 5 * 5 * 3), [2, 5, 5, 3]);
  const b = tf.tensor4d(rng.normalArray(2 * 5 * 5 * 3), [2, 5, 5, 3]);
  const w = tf.tensor4d(rng.normalArray(2 * 5 * 5 * 3), [2, 5, 5, 3]);
  const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
    tf.sum(tf.mul(f(x, y), w));
  const ref = tf.grads(loss((x, y) => tf.relu(tf.add(x, y))))([a, b]);
  const ours = tf.grads(loss((x, y) => reluSum(x, y)))([a, b]);
  const one = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(reluSum(x), w)))(a);
  const oneRef = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), w)))(a);
  assert.deepEqual(ours[0]!.dataSync(), ref[0]!.dataSync());
  assert.deepEqual(ours[1]!.dataSync(), ref[1]!.dataSync());
  assert.deepEqual(one.dataSync(), oneRef.dataSync());
  assert.deepEqual(reluSum(a, b).dataSync(), tf.relu(tf.add(a, b)).dataSync());
  assert.ok(ref[0]!.dataSync().some((v) => v === 0) && ref[0]!.dataSync().some((v) => v !== 0));
});

/** The most bytes the WASM backend's tensors allocated at once during one call of `f`. */
function wasmPeak(f: () => void): number {
  const be = tf.backend() as unknown as {
    move(id: object, v: unknown, shape: number[], dtype: string, rc: number): void;
    disposeData(id: object, force?: boolean): boolean;
  };
  const move = be.move;
  const disposeData = be.disposeData;
  const sizes = new Map<object, number>();
  let live = 0;
  let peak = 0;
  be.move = function (id, v, shape, dtype, rc) {
    move.call(this, id, v, shape, dtype, rc);
    if (dtype === 'string') return;
    const bytes = shape.reduce((p, d) => p * d, 1) * 4;
    sizes.set(id, bytes);
    live += bytes;
    peak = Math.max(peak, live);
  };
  be.disposeData = function (id, force) {
    const freed = disposeData.call(this, id, force);
    if (freed && sizes.has(id)) {
      live -= sizes.get(id)!;
      sizes.delete(id);
    }
    return freed;
  };
  try {
    f();
  } finally {
    be.move = move;
    be.disposeData = disposeData;
  }
  return peak;
}

test('wasm: a step of the small preset holds under 7 MB per image at its peak', async () => {
  // The reference recipe (ResNet 32/64/128/256, 2 global + 4 local views, 256 slices) at
  // batch 8: 5.5 MB per image (14.8 when tfjs's backward pass kept every gradient and the WASM
  // Identity copied every saved activation; batch 256 then needed over 3 GB of the 4 GiB a
  // WASM heap can have, and now about 1 GB).
  await initBackend({ prefer: 'wasm' });
  const cfg = presetConfig('small', 1);
  const batch = 8;
  const trainer = new Trainer(
    {
      ...cfg,
      encoder: resolveEncoder(cfg),
      batch,
      epochs: 1,
    },
    data(batch * 2),
    'memory',
  );
  trainer.trainOne(); // kernels' first-call set-up
  const liveBefore = tf.memory().numTensors;
  const peak = wasmPeak(() => trainer.trainOne());
  assert.equal(tf.memory().numTensors, liveBefore, 'the step leaves no tensor behind');
  const perImage = peak / batch / 2 ** 20;
  assert.ok(perImage < 7, `a step held ${perImage.toFixed(2)} MB per image at its peak`);
  assert.ok(perImage > 1, `the measure sees the step's activations (${perImage.toFixed(2)} MB)`);
  trainer.dispose();
});
