/**
 * The LeJEPA objective (Balestriero & LeCun 2025, §5): every view's projection predicts the
 * mean of the global views' projections, and SIGReg keeps each view's projections close to an
 * isotropic Gaussian. total = (1 − λ)·pred + λ·SIGReg, with SIGReg averaged over views.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../kernels/gradients.ts';
import type { Quadrature } from './quadrature.ts';
import { sigreg } from './sigreg.ts';

/**
 * Prediction loss of projections `proj` [V, N, K] whose first `nGlobal` views are global:
 * mean over (v, n, k) of (proj[v,n,k] − centre[n,k])², centre = mean of the global views.
 * The centre is not detached: LeJEPA uses no stop-gradient.
 */
export function predictionLoss(proj: tf.Tensor3D, nGlobal: number): tf.Scalar {
  checkViews(proj, nGlobal);
  return tf.tidy(() => {
    const globals = tf.slice(proj, [0, 0, 0], [nGlobal, -1, -1]);
    const centre = tf.mean(globals, 0, true); // [1, N, K]
    // sub + square, not squaredDifference: the latter's gradient ignores broadcasting in tfjs 4.22.
    return tf.mean(tf.square(tf.sub(proj, centre))) as tf.Scalar;
  });
}

export interface LejepaLoss {
  total: tf.Scalar;
  pred: tf.Scalar;
  sigreg: tf.Scalar;
}

/**
 * The full LeJEPA loss of projections `proj` [V, N, K] (first `nGlobal` views global), with
 * unit `directions` [K, M] shared by every view, quadrature `quad` and weight `lambda` in [0, 1].
 */
export function lejepaLoss(
  proj: tf.Tensor3D,
  nGlobal: number,
  directions: tf.Tensor2D,
  quad: Quadrature,
  lambda: number,
): LejepaLoss {
  checkViews(proj, nGlobal);
  if (!(lambda >= 0 && lambda <= 1)) {
    throw new RangeError(`lejepaLoss: lambda must be in [0, 1], got ${lambda}`);
  }
  return tf.tidy(() => {
    const pred = predictionLoss(proj, nGlobal);
    const reg = sigreg(proj, directions, quad).loss;
    const total = tf.add(tf.mul(pred, 1 - lambda), tf.mul(reg, lambda)) as tf.Scalar;
    return { total, pred, sigreg: reg };
  });
}

function checkViews(proj: tf.Tensor, nGlobal: number): void {
  if (proj.rank !== 3) {
    throw new RangeError(
      `LeJEPA loss: proj must be [V, N, K], got shape [${proj.shape.join(', ')}]`,
    );
  }
  if (!Number.isInteger(nGlobal) || nGlobal < 1 || nGlobal > proj.shape[0]!) {
    throw new RangeError(`LeJEPA loss: nGlobal must be in [1, ${proj.shape[0]}], got ${nGlobal}`);
  }
}
