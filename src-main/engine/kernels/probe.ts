/**
 * A short, fixed workload (a 3×3 convolution and a matrix product, forward and backward) used
 * to compare two backends when the faster one is not obvious, e.g. WebGPU on an unknown GPU
 * against WASM. Returns the median milliseconds of a few repetitions after one warm-up.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.ts';

export async function benchBackend(repeats = 3): Promise<number> {
  const x = tf.randomNormal([16, 32, 32, 32], 0, 1, 'float32', 1);
  const w = tf.randomNormal([3, 3, 32, 32], 0, 0.1, 'float32', 2);
  const m = tf.randomNormal([512, 512], 0, 0.05, 'float32', 3);
  const step = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => {
    const y = tf.relu(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 1, 'same'));
    const flat = tf.reshape(y, [-1, 512]);
    return tf.mean(tf.matMul(flat, m));
  });
  const times: number[] = [];
  try {
    for (let i = 0; i <= repeats; i++) {
      const t0 = performance.now();
      const g = step([x, w]);
      await Promise.all(g.map((t) => t.data()));
      tf.dispose(g);
      if (i > 0) times.push(performance.now() - t0);
    }
  } finally {
    tf.dispose([x, w, m]);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
