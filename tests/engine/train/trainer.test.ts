import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { presetConfig } from '../../../src-main/api/run-config.ts';
import { initBackend } from '../../../src-main/engine/backend.ts';
import { decodeCheckpoint } from '../../../src-main/engine/train/checkpoint.ts';
import {
  NonFiniteLossError,
  Trainer,
  type TrainData,
  type TrainerSettings,
} from '../../../src-main/engine/train/trainer.ts';
import { noiseTrainData } from '../helpers.ts';

/** 24 random 28×28 grey images in 3 classes; batch 8 → 3 steps per epoch. */
const data = (): TrainData => noiseTrainData(24, 3, 7);

function settings(extra: Partial<TrainerSettings> = {}): TrainerSettings {
  const q = presetConfig('quick', 1);
  return {
    ...q,
    encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
    projector: { hidden: 16, out: 8 },
    slices: 16,
    batch: 8,
    epochs: 2,
    warmupEpochs: 1,
    ...extra,
  };
}

test('live tensors are the same after every step', async () => {
  await initBackend();
  const trainer = new Trainer(settings(), data(), 'h');
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) {
    const r = trainer.trainOne();
    counts.push(r.liveTensors);
    assert.equal(r.liveTensors, tf.memory().numTensors);
  }
  assert.deepEqual(
    counts,
    counts.map(() => before),
    `before ${before}, after steps ${counts}`,
  );
  trainer.dispose();
});

test('a resumed run gives the same next-step loss as an uninterrupted one', async () => {
  await initBackend();
  const a = new Trainer(settings(), data(), 'h');
  a.trainOne();
  a.trainOne();
  const saved = a.checkpoint();
  const next = [a.trainOne(), a.trainOne()];
  a.dispose();

  const b = new Trainer(settings(), data(), 'h');
  b.restore(saved);
  assert.equal(b.step, 2);
  const resumed = [b.trainOne(), b.trainOne()];
  b.dispose();
  for (let i = 0; i < 2; i++) {
    assert.ok(
      Math.abs(resumed[i]!.total - next[i]!.total) <= 1e-6,
      `step ${i + 3}: ${resumed[i]!.total} vs ${next[i]!.total}`,
    );
    assert.equal(resumed[i]!.lr, next[i]!.lr);
    assert.equal(resumed[i]!.probeAcc, next[i]!.probeAcc);
  }
});

test('a checkpoint of another configuration or architecture is refused', async () => {
  await initBackend();
  const a = new Trainer(settings(), data(), 'h');
  const bytes = a.checkpoint();
  a.dispose();
  const other = new Trainer(settings(), data(), 'other');
  assert.throws(() => other.restore(bytes), /different configuration/);
  other.dispose();
  const wider = new Trainer(
    settings({
      encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 16], depths: [1, 1] },
    }),
    data(),
    'h',
  );
  assert.throws(() => wider.restore(bytes), /shape|no tensor/);
  wider.dispose();
});

test('a non-finite loss stops the step before it touches the weights', async () => {
  await initBackend();
  const t = new Trainer(settings({ faults: { nonFiniteAtStep: 2 } }), data(), 'h');
  t.trainOne();
  const before = decodeCheckpoint(t.checkpoint());
  const live = tf.memory().numTensors;
  assert.throws(
    () => t.trainOne(),
    (err: unknown) => {
      assert.ok(err instanceof NonFiniteLossError);
      assert.match(err.message, /non-finite at step 2/);
      return true;
    },
  );
  assert.equal(t.step, 1);
  assert.equal(tf.memory().numTensors, live);
  const after = decodeCheckpoint(t.checkpoint());
  for (let i = 0; i < before.tensors.length; i++) {
    assert.deepEqual(after.tensors[i]!.data, before.tensors[i]!.data, before.tensors[i]!.name);
  }
  t.dispose();
});

test('the loop hands out checkpoints on schedule and stops when asked', async () => {
  await initBackend();
  const t = new Trainer(settings({ checkpointEvery: 2 }), data(), 'h');
  const saved: string[] = [];
  let steps = 0;
  const end = await t.run({
    onProgress: () => steps++,
    onCheckpoint: (_bytes, info) => saved.push(`${info.step}:${info.reason}`),
    control: () => (steps === 4 ? 'pause' : null),
  });
  assert.equal(end, 'paused');
  assert.deepEqual(saved, ['2:interval', '3:epoch', '4:interval', '4:pause']);
  const rest: string[] = [];
  const done = await t.run({
    onProgress: () => {},
    onCheckpoint: (_b, info) => rest.push(`${info.step}:${info.reason}`),
    control: () => null,
  });
  assert.equal(done, 'completed');
  assert.deepEqual(rest, ['6:final']);
  t.dispose();
});
