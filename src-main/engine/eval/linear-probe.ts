/**
 * Linear probe: multinomial logistic regression on frozen, standardised
 * features, the evaluation protocol of the LeJEPA paper (a linear classifier
 * on top of the frozen backbone, fitted on the train split).
 *
 * Objective: mean cross-entropy + ½·l2·‖W‖² (the bias is not penalised),
 * minimised full-batch with L-BFGS. The matrix products run on the active
 * TensorFlow.js backend; the optimiser state and the loss sum are float64 in JS.
 */
import * as tf from '@tensorflow/tfjs-core';

import { checkFeatures, classCount, labelledRows, type LabelledFeatures } from './features.ts';
import { lbfgs, type LbfgsResult } from './lbfgs.ts';

export interface LinearProbeOptions {
  /** Weight of ½‖W‖² (default 1e-4). */
  l2?: number;
  /** L-BFGS iterations at most (default 500). */
  maxIter?: number;
  /** Stop when max |gradient| is below this (default 1e-5). */
  gradTol?: number;
  onIteration?: (iteration: number, objective: number) => void;
  shouldStop?: () => boolean;
}

export interface LinearProbeResult {
  trainAccuracy: number;
  /** null when the test features have no labelled row. */
  testAccuracy: number | null;
  /** Final objective: mean cross-entropy + ½·l2·‖W‖². */
  objective: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: LbfgsResult['reason'];
  /**
   * Largest absolute gradient entry at the end. When the line search stops first
   * ('line-search'), float32 rounding of the objective has usually been reached and
   * this is small; it says how close to the optimum the probe got.
   */
  gradientMax: number;
  classes: number;
  trainCount: number;
  testCount: number;
  /** [d, classes] row-major, acting on standardised features. */
  weights: Float32Array;
  bias: Float32Array;
  /** Train mean and standard deviation per dimension (std 1 for constant dimensions). */
  mean: Float32Array;
  std: Float32Array;
}

/** Per-dimension mean and population standard deviation of x [n, d] (float64 sums). */
export function standardisation(
  x: Float32Array,
  n: number,
  d: number,
): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) sum[j] = sum[j]! + x[row + j]!;
  }
  const mean = new Float64Array(d);
  for (let j = 0; j < d; j++) mean[j] = sum[j]! / Math.max(1, n);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[row + j]! - mean[j]!;
      sq[j] = sq[j]! + v * v;
    }
  }
  const std = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(sq[j]! / Math.max(1, n));
    // A constant dimension carries nothing; dividing by 1 keeps it at zero.
    std[j] = s > 1e-8 * (1 + Math.abs(mean[j]!)) ? s : 1;
  }
  return { mean: Float32Array.from(mean), std };
}

function standardise(x: Float32Array, n: number, d: number, mean: Float32Array, std: Float32Array) {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) out[row + j] = (x[row + j]! - mean[j]!) / std[j]!;
  }
  return out;
}

/**
 * Fits the probe on the labelled rows of `train` and reports accuracy on the
 * labelled rows of both sets. Shapes: train.x [nTrain, d], test.x [nTest, d].
 */
export function linearProbe(
  train: LabelledFeatures,
  test: LabelledFeatures,
  options: LinearProbeOptions = {},
): LinearProbeResult {
  checkFeatures(train, 'linear probe train features');
  checkFeatures(test, 'linear probe test features');
  if (train.d !== test.d) {
    throw new Error(`Linear probe: train has ${train.d} dimensions but test has ${test.d}.`);
  }
  const tr = labelledRows(train);
  const te = labelledRows(test);
  if (tr.n === 0) throw new Error('Linear probe: the train features have no labelled rows.');
  const l2 = options.l2 ?? 1e-4;
  const d = tr.d;
  const c = classCount(tr.labels, te.labels);
  const { mean, std } = standardisation(tr.x, tr.n, d);

  const xTrain = tf.tensor2d(standardise(tr.x, tr.n, d, mean, std), [tr.n, d]);
  // A transposed copy: WASM multiplies by a transposed operand far slower than by a plain one.
  const xTrainT = tf.transpose(xTrain);
  const yTrain = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(tr.labels, 'int32'), c), 'float32'));
  const objective = (theta: Float64Array) => {
    const [rowLoss, gradW, gradB] = tf.tidy(() => {
      const w = tf.tensor2d(Float32Array.from(theta.subarray(0, d * c)), [d, c]);
      const b = tf.tensor1d(Float32Array.from(theta.subarray(d * c)));
      const logits = tf.add(tf.matMul(xTrain, w), b);
      const lse = tf.logSumExp(logits, 1, true);
      // Cross-entropy per row: log Σ exp(z) − z_y.
      const ce = tf.sub(tf.squeeze(lse, [1]), tf.sum(tf.mul(logits, yTrain), 1));
      const resid = tf.div(tf.sub(tf.exp(tf.sub(logits, lse)), yTrain), tr.n);
      const gw = tf.add(tf.matMul(xTrainT, resid), tf.mul(w, l2));
      return [ce, gw, tf.sum(resid, 0)];
    });
    const ce = rowLoss.dataSync();
    const gw = gradW.dataSync();
    const gb = gradB.dataSync();
    tf.dispose([rowLoss, gradW, gradB]);
    let sum = 0;
    for (let i = 0; i < ce.length; i++) sum += ce[i]!;
    let wsq = 0;
    for (let i = 0; i < d * c; i++) wsq += theta[i]! * theta[i]!;
    const g = new Float64Array(theta.length);
    g.set(gw);
    g.set(gb, d * c);
    return { f: sum / tr.n + 0.5 * l2 * wsq, g };
  };

  let result: LbfgsResult;
  try {
    result = lbfgs(objective, new Float64Array(d * c + c), {
      maxIter: options.maxIter ?? 500,
      gradTol: options.gradTol ?? 1e-5,
      ...(options.onIteration ? { onIteration: options.onIteration } : {}),
      ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}),
    });
  } finally {
    tf.dispose([xTrain, xTrainT, yTrain]);
  }
  const weights = Float32Array.from(result.x.subarray(0, d * c));
  const bias = Float32Array.from(result.x.subarray(d * c));
  const accuracy = (f: LabelledFeatures) => {
    const z = standardise(f.x, f.n, d, mean, std);
    const pred = predictStandardised(z, f.n, d, weights, bias, c);
    let ok = 0;
    for (let i = 0; i < f.n; i++) if (pred[i] === f.labels[i]) ok++;
    return ok / f.n;
  };
  return {
    trainAccuracy: accuracy(tr),
    testAccuracy: te.n === 0 ? null : accuracy(te),
    objective: result.f,
    iterations: result.iterations,
    evaluations: result.evaluations,
    converged: result.converged,
    reason: result.reason,
    gradientMax: result.g.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
    classes: c,
    trainCount: tr.n,
    testCount: te.n,
    weights,
    bias,
    mean,
    std,
  };
}

/** Argmax class of z·W + b for standardised rows z [n, d]; W [d, c]. */
export function predictStandardised(
  z: Float32Array,
  n: number,
  d: number,
  weights: Float32Array,
  bias: Float32Array,
  c: number,
): Int32Array {
  const out = new Int32Array(n);
  const logits = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) logits[k] = bias[k]!;
    for (let j = 0; j < d; j++) {
      const v = z[i * d + j]!;
      if (v === 0) continue;
      const wRow = j * c;
      for (let k = 0; k < c; k++) logits[k] = logits[k]! + v * weights[wRow + k]!;
    }
    let best = 0;
    for (let k = 1; k < c; k++) if (logits[k]! > logits[best]!) best = k;
    out[i] = best;
  }
  return out;
}
