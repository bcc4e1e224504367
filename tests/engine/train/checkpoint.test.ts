import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import {
  CheckpointFormatError,
  decodeCheckpoint,
  encodeCheckpoint,
  hashJson,
  restoreVariables,
  snapshotVariables,
} from '../../../src-main/engine/train/checkpoint.ts';

const contents = () => ({
  configHash: hashJson({ a: 1, b: [2, 3] }),
  step: 42,
  rngState: { s: [1, 2, 3, 4] },
  extra: { epoch: 1, updates: 42 },
  tensors: [
    {
      name: 'encoder/stem.conv.w',
      shape: [3, 3, 1, 2],
      data: Float32Array.from({ length: 18 }, (_, i) => i / 7),
    },
    { name: 'encoder/bn.mean', shape: [2], data: Float32Array.from([Math.PI, -0]) },
  ],
});

test('a checkpoint survives the round trip to bytes exactly', () => {
  const c = contents();
  const back = decodeCheckpoint(encodeCheckpoint(c));
  assert.deepEqual(back, c);
});

test('a truncated, edited or foreign file is refused with a reason', () => {
  const bytes = encodeCheckpoint(contents());
  assert.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 9)), CheckpointFormatError);
  const edited = bytes.slice();
  edited[edited.length - 20]! ^= 1;
  assert.throws(() => decodeCheckpoint(edited), /checksum/);
  assert.throws(
    () => decodeCheckpoint(new TextEncoder().encode('hello world, not a checkpoint')),
    /not a LeJEPA/,
  );
});

test('the config hash ignores key order and sees every value', () => {
  assert.equal(hashJson({ a: 1, b: { c: 2, d: 3 } }), hashJson({ b: { d: 3, c: 2 }, a: 1 }));
  assert.notEqual(hashJson({ a: 1 }), hashJson({ a: 2 }));
});

test('variables are restored by name, and a different shape is refused', async () => {
  await tf.setBackend('cpu');
  const a = tf.variable(
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    true,
    'ckpt-test-a',
  );
  const vars = new Map([['a', a]]);
  const snap = snapshotVariables('m/', vars);
  a.assign(tf.zeros([2, 2]));
  restoreVariables('m/', vars, new Map(snap.map((t) => [t.name, t])));
  assert.deepEqual(Array.from(a.dataSync()), [1, 2, 3, 4]);
  const wrong = [{ ...snap[0]!, shape: [4, 1] }];
  assert.throws(
    () => restoreVariables('m/', vars, new Map(wrong.map((t) => [t.name, t]))),
    /shape/,
  );
  assert.throws(
    () => restoreVariables('x/', vars, new Map(snap.map((t) => [t.name, t]))),
    /no tensor x\/a/,
  );
  a.dispose();
});
