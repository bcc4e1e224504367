/**
 * Random slicing directions for SIGReg (LeJEPA §4.2): Gaussian columns normalised to unit
 * length, i.e. uniform on the sphere. Training draws fresh ones every step from the run's
 * generator and uses the same directions for every view.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.ts';

/** Draws `slices` unit directions in R^dim. Returns a float32 tensor [dim, slices] (columns). */
export function drawDirections(rng: Rng, dim: number, slices: number): tf.Tensor2D {
  if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(slices) || slices < 1) {
    throw new RangeError(
      `drawDirections: dim and slices must be positive integers, got ${dim}, ${slices}`,
    );
  }
  const raw = rng.normalArray(dim * slices); // row-major [dim, slices]
  const norms = new Float64Array(slices);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < slices; j++) norms[j]! += raw[i * slices + j]! ** 2;
  }
  for (let j = 0; j < slices; j++) norms[j] = Math.sqrt(norms[j]!);
  const out = new Float32Array(dim * slices);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < slices; j++) out[i * slices + j] = raw[i * slices + j]! / norms[j]!;
  }
  return tf.tensor2d(out, [dim, slices], 'float32');
}
