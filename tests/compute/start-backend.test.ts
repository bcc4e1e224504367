// Where ONNX Runtime takes the WASM backend's heavy kernels, startBackend gives it the threads
// and keeps WASM single-threaded, so that tensors are read and written in place (ordinary
// WASM memory); a small network then still gives the CPU backend's loss and gradients.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { ortKernelStats } from '../../src-main/compute/ort-kernels.ts';
import { startBackend } from '../../src-main/compute/start-backend.ts';
import { Rng } from '../../src-main/engine/rng.ts';
import { worstDifference } from './compare.ts';

/** Loss and gradients of conv (16 → 16, blocked layout) → ReLU → strided conv → pool → dense. */
function lossAndGrads(data: Float32Array[]): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(data[0]!, [4, 10, 10, 16]);
    const params = [
      tf.tensor4d(data[1]!, [3, 3, 16, 16]),
      tf.tensor4d(data[2]!, [3, 3, 16, 32]),
      tf.tensor2d(data[3]!, [32, 5]),
    ];
    const f = (w1: tf.Tensor, w2: tf.Tensor, dense: tf.Tensor) => {
      const h1 = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'));
      const h2 = tf.relu(tf.conv2d(h1, w2 as tf.Tensor4D, 2, 'same'));
      return tf.sum(tf.square(tf.matMul(tf.mean(h2, [1, 2]), dense as tf.Tensor2D)));
    };
    const { value, grads } = tf.valueAndGrads(f as (...a: tf.Tensor[]) => tf.Scalar)(params);
    return [value, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

test('ONNX Runtime gets the threads, WASM stays single-threaded with ordinary memory', async () => {
  const info = await startBackend({ prefer: 'wasm', threads: 2 });
  assert.equal(info.name, 'wasm');
  assert.equal(info.threads, 2);
  assert.match(info.line, /^backend wasm, 1 thread\b[^;]*;.* by ONNX Runtime, 2 threads$/);
  const wasm = tf.backend() as unknown as { wasm: { HEAPF32: Float32Array } };
  const memory = Object.prototype.toString.call(wasm.wasm.HEAPF32.buffer);
  assert.equal(memory, '[object ArrayBuffer]', 'WASM memory is not shared');

  const rng = new Rng(5);
  const sizes = [4 * 10 * 10 * 16, 9 * 16 * 16, 9 * 16 * 32, 32 * 5];
  const data = sizes.map((n) => Float32Array.from(rng.normalArray(n), (v) => v * 0.3));
  const before = ortKernelStats().runs;
  const onWasm = lossAndGrads(data);
  assert.ok(ortKernelStats().runs - before >= 5, 'the convolutions ran on ONNX Runtime');
  await tf.setBackend('cpu');
  const reference = lossAndGrads(data);
  await tf.setBackend('wasm');
  onWasm.forEach((a, i) => {
    const { worst, scale } = worstDifference(a, reference[i]!);
    assert.ok(worst <= 1e-4 * Math.max(scale, 1), `output ${i}: ${worst} of ${scale}`);
  });
});
