// Multi-threaded WASM must compute what the plain CPU backend computes: a small convolutional
// network's loss and the gradients of its weights (convolution filter gradients included, the
// kernel the engine adds to WASM), within float32 summation-order tolerance.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { enableWasmThreads } from '../../src-main/compute/wasm-threads.ts';
import { initBackend } from '../../src-main/engine/backend.ts';
import { Rng } from '../../src-main/engine/rng.ts';

interface Weights {
  x: Float32Array;
  w1: Float32Array;
  w2: Float32Array;
  dense: Float32Array;
}

function draw(seed: number): Weights {
  const rng = new Rng(seed);
  const scaled = (n: number, s: number) => Float32Array.from(rng.normalArray(n), (v) => v * s);
  return {
    x: scaled(6 * 12 * 12 * 3, 1),
    w1: scaled(3 * 3 * 3 * 16, 0.3),
    w2: scaled(3 * 3 * 16 * 24, 0.1),
    dense: scaled(24 * 10, 0.2),
  };
}

/** Loss and gradients (w1, w2, dense) of a conv → BN-free ReLU → strided conv → pool → dense net. */
function lossAndGrads(w: Weights): { loss: number; grads: Float32Array[] } {
  return tf.tidy(() => {
    const x = tf.tensor4d(w.x, [6, 12, 12, 3]);
    const params = [
      tf.tensor4d(w.w1, [3, 3, 3, 16]),
      tf.tensor4d(w.w2, [3, 3, 16, 24]),
      tf.tensor2d(w.dense, [24, 10]),
    ];
    const f = (w1: tf.Tensor, w2: tf.Tensor, dense: tf.Tensor) => {
      const h1 = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'));
      const h2 = tf.relu(tf.conv2d(h1, w2 as tf.Tensor4D, 2, 'same'));
      const pooled = tf.mean(h2, [1, 2]);
      return tf.sum(tf.square(tf.matMul(pooled, dense as tf.Tensor2D)));
    };
    const { value, grads } = tf.valueAndGrads(f as (...a: tf.Tensor[]) => tf.Scalar)(params);
    return { loss: value.dataSync()[0]!, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

/** Loss and every gradient within float32 summation-order tolerance of the CPU backend's. */
function assertSameAsCpu(
  wasm: ReturnType<typeof lossAndGrads>,
  cpu: ReturnType<typeof lossAndGrads>,
): void {
  assert.ok(
    Math.abs(wasm.loss - cpu.loss) <= 1e-4 * Math.abs(cpu.loss),
    `${wasm.loss} vs ${cpu.loss}`,
  );
  for (const [i, g] of wasm.grads.entries()) {
    const err = worstRelative(g, cpu.grads[i]!);
    assert.ok(err < 1e-4, `gradient ${i}: worst error ${err} of its scale`);
  }
}

function worstRelative(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / Math.max(scale, 1e-12);
}

test('threaded WASM starts with two threads and the engine keeps it', async () => {
  const got = await enableWasmThreads(2);
  assert.deepEqual(got, { threads: 2 });
  const info = await initBackend({ prefer: 'wasm' });
  assert.equal(info.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const again = await enableWasmThreads(4);
  assert.equal(again.threads, 2);
  assert.match(again.reason ?? '', /already initialised/);
});

test('threaded WASM gives the CPU backend loss and gradients within float tolerance', async () => {
  await enableWasmThreads(2);
  await initBackend({ prefer: 'wasm' });
  const weights = draw(7);
  const wasm = lossAndGrads(weights);

  await initBackend({ prefer: 'cpu' });
  const cpu = lossAndGrads(weights);
  await tf.setBackend('wasm');

  assert.ok(Number.isFinite(wasm.loss) && wasm.loss > 0);
  assertSameAsCpu(wasm, cpu);
});

test('on WASM already threaded, ONNX Runtime kernels still give the CPU backend results', async () => {
  // The WASM memory is shared here: ONNX Runtime's inputs and outputs go through copies.
  const { startBackend } = await import('../../src-main/compute/start-backend.ts');
  const info = await startBackend({ prefer: 'wasm', threads: 2 });
  assert.equal(info.name, 'wasm');
  assert.equal(info.threads, 2);
  assert.match(info.line, /^backend wasm, 2 threads/);
  const { ortKernelStats } = await import('../../src-main/compute/ort-kernels.ts');
  const weights = draw(9);
  const before = ortKernelStats().runs;
  const wasm = lossAndGrads(weights);
  assert.ok(ortKernelStats().runs > before, 'ONNX Runtime ran the convolutions');
  await initBackend({ prefer: 'cpu' });
  const cpu = lossAndGrads(weights);
  await tf.setBackend('wasm');
  assertSameAsCpu(wasm, cpu);
});
