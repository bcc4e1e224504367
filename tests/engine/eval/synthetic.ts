/** Seeded synthetic feature sets for the evaluation tests. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { Rng } from '../../../src-main/engine/rng.ts';
import type { LabelledFeatures } from '../../../src-main/engine/eval/features.ts';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
}

/** n points per class around class means `means` ([classes][d]) with noise `sigma`. */
export function blobs(
  rng: Rng,
  means: number[][],
  perClass: number,
  sigma: number,
): LabelledFeatures {
  const d = means[0]!.length;
  const n = means.length * perClass;
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  for (let r = 0; r < n; r++) {
    const c = order[r]! % means.length;
    labels[r] = c;
    for (let j = 0; j < d; j++) x[r * d + j] = means[c]![j]! + sigma * rng.normal();
  }
  return { x, n, d, labels };
}

/** Class means at random directions of length `radius`. */
export function randomMeans(rng: Rng, classes: number, d: number, radius: number): number[][] {
  return Array.from({ length: classes }, () => {
    const v = Array.from({ length: d }, () => rng.normal());
    const norm = Math.hypot(...v);
    return v.map((a) => (a / norm) * radius);
  });
}
