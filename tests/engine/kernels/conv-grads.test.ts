import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';

import { initBackend } from '../../../src-main/engine/backend.ts';
import { Rng } from '../../../src-main/engine/rng.ts';

type Pad =
  'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: number[];
  f: number[];
  stride: number;
  pad: Pad;
  depthwise?: boolean;
}

const rng = new Rng(2024);
const explicit = (t: number, b: number, l: number, r: number): Pad => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];
const CASES: Case[] = [
  { x: [2, 7, 9, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 5], stride: 2, pad: 'same' },
  { x: [3, 9, 6, 2], f: [3, 3, 2, 4], stride: 2, pad: 'valid' },
  { x: [2, 8, 10, 4], f: [1, 1, 4, 6], stride: 1, pad: 'valid' },
  { x: [2, 9, 8, 4], f: [1, 1, 4, 6], stride: 2, pad: 'valid' },
  { x: [2, 8, 8, 4], f: [1, 1, 4, 6], stride: 2, pad: 'valid' },
  { x: [2, 8, 8, 4], f: [3, 3, 4, 6], stride: 2, pad: explicit(1, 1, 1, 1) },
  { x: [1, 7, 9, 2], f: [4, 5, 2, 3], stride: 1, pad: explicit(1, 1, 1, 1) },
  { x: [2, 10, 10, 3], f: [3, 3, 3, 4], stride: 2, pad: explicit(1, 1, 1, 1) },
  { x: [2, 11, 7, 3], f: [3, 2, 3, 2], stride: 2, pad: 'same' },
  { x: [2, 8, 9, 3], f: [3, 3, 3, 1], stride: 1, pad: 'same', depthwise: true },
  { x: [2, 9, 8, 2], f: [3, 3, 2, 2], stride: 2, pad: 'same', depthwise: true },
  { x: [1, 10, 7, 3], f: [5, 3, 3, 1], stride: 2, pad: 'valid', depthwise: true },
];

function random(shape: number[]): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
}

/** Gradients of sum(conv(x, f) · weights) w.r.t. x and f on `backend`. */
async function grads(
  backend: 'cpu' | 'wasm',
  c: Case,
  data: Float32Array[],
): Promise<Float32Array[]> {
  await initBackend({ prefer: backend });
  const [xv, fv, wv] = data;
  const x = tf.tensor4d(xv!, c.x as [number, number, number, number]);
  const f = tf.tensor4d(fv!, c.f as [number, number, number, number]);
  const out = (xi: tf.Tensor, fi: tf.Tensor) =>
    c.depthwise
      ? tf.depthwiseConv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad)
      : tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad);
  const shape = out(x, f).shape;
  const w = tf.tensor(
    wv!.subarray(
      0,
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
  );
  const before = tf.memory().numTensors;
  const g = tf.grads((xi: tf.Tensor, fi: tf.Tensor) => tf.sum(tf.mul(out(xi, fi), w)))([x, f]);
  assert.equal(tf.memory().numTensors, before + 2, 'the kernels leave only their results');
  const values = await Promise.all(g.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([x, f, w, ...g]);
  return values;
}

for (const c of CASES) {
  const what = `${c.depthwise ? 'depthwise' : 'conv2d'} x${c.x.join('×')} f${c.f.join('×')} stride ${c.stride} pad ${typeof c.pad === 'string' ? c.pad : 'explicit'}`;
  test(`WASM input and filter gradients equal the CPU backend's: ${what}`, async () => {
    const data = [
      rng.normalArray(c.x.reduce((a, b) => a * b, 1)),
      rng.normalArray(c.f.reduce((a, b) => a * b, 1)),
      rng.normalArray(4096),
    ];
    const cpu = await grads('cpu', c, data);
    const wasm = await grads('wasm', c, data);
    for (const [k, name] of [
      [0, 'input'],
      [1, 'filter'],
    ] as const) {
      assert.equal(wasm[k]!.length, cpu[k]!.length);
      let scale = 0;
      let err = 0;
      for (let i = 0; i < cpu[k]!.length; i++) {
        scale = Math.max(scale, Math.abs(cpu[k]![i]!));
        err = Math.max(err, Math.abs(cpu[k]![i]! - wasm[k]![i]!));
      }
      assert.ok(
        err <= 1e-5 * Math.max(1, scale),
        `${name} gradient differs by ${err} (scale ${scale})`,
      );
    }
  });
}

test('a random input really exercises the kernels (the gradient is not zero)', async () => {
  await initBackend({ prefer: 'wasm' });
  const x = random([1, 6, 6, 2]);
  const f = random([3, 3, 2, 3]);
  const g = tf.grad((fi: tf.Tensor) =>
    tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, fi as tf.Tensor4D, 2, 'same'))),
  )(f);
  assert.ok((await g.data()).some((v) => Math.abs(v) > 1e-3));
  tf.dispose([x, f, g]);
});

test('WASM matrix products with transposed operands equal the CPU backend, batched or not', async () => {
  const shapes: [number[], number[], boolean, boolean][] = [
    [[7, 5], [7, 3], true, false],
    [[4, 6], [3, 6], false, true],
    [[6, 4], [3, 6], true, true],
    [[2, 5, 4], [2, 5, 3], true, false],
    [[3, 4, 6], [3, 5, 6], false, true],
  ];
  for (const [sa, sb, ta, tb] of shapes) {
    const a = rng.normalArray(sa.reduce((x, y) => x * y, 1));
    const b = rng.normalArray(sb.reduce((x, y) => x * y, 1));
    const product = async (backend: 'cpu' | 'wasm') => {
      await initBackend({ prefer: backend });
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
      assert.equal(tf.memory().numTensors, before + 1);
      const values = await out.data();
      out.dispose();
      return values;
    };
    const cpu = await product('cpu');
    const wasm = await product('wasm');
    for (let i = 0; i < cpu.length; i++) {
      assert.ok(Math.abs(cpu[i]! - wasm[i]!) < 1e-5, `${sa}×${sb} ${ta} ${tb}`);
    }
  }
});
