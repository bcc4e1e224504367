/**
 * The building blocks of the encoders and heads, as small closures over named parameters:
 * convolution with PyTorch's symmetric padding, batch norm with running statistics, linear,
 * layer norm and GELU. Each returns a function of (input, training).
 */
import * as tf from '@tensorflow/tfjs-core';
import '../kernels/gradients.ts';
import { BN_BACKWARD, BN_FORWARD, hasBatchNormKernels } from '../kernels/batch-norm.ts';
import type { ParamBuilder } from './params.ts';

export type Layer<I extends tf.Tensor = tf.Tensor, O extends tf.Tensor = tf.Tensor> = (
  x: I,
  training: boolean,
) => O;

/** Batch-norm momentum (PyTorch convention: new = (1 − m)·old + m·batch) and epsilon. */
export const BN_MOMENTUM = 0.1;
export const BN_EPSILON = 1e-5;

/**
 * A k×k convolution without bias, NHWC, padding (k−1)/2 on every side as PyTorch's
 * `padding=k//2` (tf's 'same' pads asymmetrically at stride 2 and would shift the grid).
 */
export function conv(
  p: ParamBuilder,
  name: string,
  cin: number,
  cout: number,
  k: number,
  stride: number,
): Layer<tf.Tensor4D, tf.Tensor4D> {
  const w = p.uniform(`${name}.w`, [k, k, cin, cout], 1 / Math.sqrt(cin * k * k));
  const half = (k - 1) / 2;
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [half, half],
    [half, half],
    [0, 0],
  ];
  return (x) => tf.conv2d(x, w as tf.Tensor4D, stride, half === 0 ? 'valid' : pad);
}

/**
 * Batch norm over every axis but the last. Training: normalises with the batch's mean and
 * biased variance and moves the running statistics towards the batch's (unbiased variance,
 * as PyTorch); evaluation: uses the running statistics.
 */
export function batchNorm(p: ParamBuilder, name: string, channels: number): Layer {
  const gamma = p.constant(`${name}.gamma`, [channels], 1);
  const beta = p.constant(`${name}.beta`, [channels], 0);
  const mean = p.constant(`${name}.mean`, [channels], 0, false);
  const variance = p.constant(`${name}.var`, [channels], 1, false);
  return (x, training) => {
    if (!training) return tf.batchNorm(x, mean, variance, beta, gamma, BN_EPSILON);
    const { y, batchMean, batchVar } = batchNormTrain(x, gamma, beta);
    tf.tidy(() => {
      const count = x.size / channels;
      const unbiased = count > 1 ? tf.mul(batchVar, count / (count - 1)) : batchVar;
      mean.assign(tf.add(tf.mul(mean, 1 - BN_MOMENTUM), tf.mul(batchMean, BN_MOMENTUM)));
      variance.assign(tf.add(tf.mul(variance, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
    });
    tf.dispose([batchMean, batchVar]);
    return y;
  };
}

/**
 * A convolution (made by `conv`) followed by batch norm in evaluation mode (made by
 * `batchNorm`), as one fused convolution: the running statistics folded into the filter
 * and a bias, w·γ/√(σ²+ε) and β − μ·γ/√(σ²+ε), with ReLU fused where asked. The same
 * function as the two layers, to float32 rounding, in one kernel instead of three on the
 * backends that fuse (WASM's XNNPACK adds the bias and clamps inside the convolution).
 */
export function foldedConvBn(
  p: ParamBuilder,
  convName: string,
  bnName: string,
  stride: number,
): (x: tf.Tensor4D, relu: boolean) => tf.Tensor4D {
  const get = (name: string): tf.Tensor => {
    const v = p.store.trainable.get(name) ?? p.store.state.get(name);
    if (v === undefined) throw new Error(`parameter ${name} is not defined`);
    return v;
  };
  const w = get(`${convName}.w`) as tf.Tensor4D;
  const gamma = get(`${bnName}.gamma`);
  const beta = get(`${bnName}.beta`);
  const mean = get(`${bnName}.mean`);
  const variance = get(`${bnName}.var`);
  const half = (w.shape[0] - 1) / 2;
  return (x, relu) =>
    tf.tidy(() => {
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)));
      return tf.fused.conv2d({
        x,
        filter: tf.mul(w, scale) as tf.Tensor4D,
        strides: stride,
        pad:
          half === 0
            ? 'valid'
            : [
                [0, 0],
                [half, half],
                [half, half],
                [0, 0],
              ],
        bias: tf.sub(beta, tf.mul(mean, scale)),
        activation: relu ? 'relu' : 'linear',
      });
    });
}

/**
 * Training-mode batch norm with its analytic gradient, on the WASM backend as two kernels of
 * its own (kernels/batch-norm.ts), elsewhere as one custom op instead of tfjs's composite,
 * whose gradient tiles the statistics to the input's full size:
 * x̂ = (x − μ)/σ, y = γ·x̂ + β; dx = γ/(σ·R)·(R·dy − Σdy − x̂·Σ(dy·x̂)), dγ = Σ(dy·x̂), dβ = Σdy,
 * with R the number of values per channel. Sums over rows are products with a row of ones
 * (no transposes). Also returns the batch mean and biased variance, computed inside the op
 * so that no gradient tape sees them; the caller disposes them.
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
): { y: tf.Tensor; batchMean: tf.Tensor1D; batchVar: tf.Tensor1D } {
  return hasBatchNormKernels()
    ? batchNormTrainKernel(x, gamma, beta)
    : batchNormTrainOps(x, gamma, beta);
}

/** batchNormTrain composed of tfjs ops with a hand-written gradient (backends without the kernels). */
export function batchNormTrainOps(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
): { y: tf.Tensor; batchMean: tf.Tensor1D; batchVar: tf.Tensor1D } {
  const channels = x.shape[x.rank - 1]!;
  const rows = x.size / channels;
  let stats: tf.Tensor1D[] = [];
  const op = tf.customGrad((xIn, gIn, bIn, save) => {
    const ones = tf.fill([1, rows], 1 / rows);
    const x2 = tf.reshape(xIn as tf.Tensor, [rows, channels]) as tf.Tensor2D;
    const mu = tf.matMul(ones, x2); // [1, C]
    const centred = tf.sub(x2, mu);
    const v = tf.matMul(ones, tf.square(centred));
    const rstd = tf.rsqrt(tf.add(v, BN_EPSILON));
    const xhat = tf.mul(centred, rstd);
    const out = tf.add(tf.mul(xhat, gIn as tf.Tensor), bIn as tf.Tensor);
    stats = [tf.keep(tf.reshape(mu, [channels])), tf.keep(tf.reshape(v, [channels]))];
    (save as tf.GradSaveFunc)([xhat, rstd, gIn as tf.Tensor]);
    return {
      value: tf.reshape(out, x.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sXhat, sRstd, sGamma] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const ones1 = tf.ones([1, rows]);
        const dy2 = tf.reshape(dy, [rows, channels]) as tf.Tensor2D;
        const dBeta = tf.matMul(ones1, dy2); // [1, C]
        const dGamma = tf.matMul(ones1, tf.mul(dy2, sXhat));
        const scale = tf.div(tf.mul(sGamma, sRstd), rows);
        const inner = tf.sub(tf.sub(tf.mul(dy2, rows), dBeta), tf.mul(sXhat, dGamma));
        const dx = tf.reshape(tf.mul(inner, scale), x.shape);
        return [dx, tf.reshape(dGamma, [channels]), tf.reshape(dBeta, [channels])];
      },
    };
  });
  const y = op(x, gamma, beta);
  const [batchMean, batchVar] = stats as [tf.Tensor1D, tf.Tensor1D];
  return { y, batchMean, batchVar };
}

/** batchNormTrain through the backend's own forward and backward kernels (kernels/batch-norm.ts). */
function batchNormTrainKernel(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
): { y: tf.Tensor; batchMean: tf.Tensor1D; batchVar: tf.Tensor1D } {
  let stats: tf.Tensor1D[] = [];
  const op = tf.customGrad((xIn, gIn, bIn, save) => {
    const [y, mean, variance, saved] = tf
      .engine()
      .runKernel(
        BN_FORWARD,
        { x: xIn as tf.Tensor, gamma: gIn as tf.Tensor, beta: bIn as tf.Tensor },
        { epsilon: BN_EPSILON },
      ) as tf.Tensor[];
    stats = [tf.keep(mean as tf.Tensor1D), tf.keep(variance as tf.Tensor1D)];
    (save as tf.GradSaveFunc)([xIn as tf.Tensor, saved!, gIn as tf.Tensor]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) =>
        tf
          .engine()
          .runKernel(BN_BACKWARD, { dy, x: s[0]!, saved: s[1]!, gamma: s[2]! }, {}) as tf.Tensor[],
    };
  });
  const y = op(x, gamma, beta);
  const [batchMean, batchVar] = stats as [tf.Tensor1D, tf.Tensor1D];
  return { y, batchMean, batchVar };
}

/** y = x·W + b with W [in, out] (PyTorch default initialisation). */
export function linear(
  p: ParamBuilder,
  name: string,
  cin: number,
  cout: number,
  init: 'torch' | 'vit' = 'torch',
): Layer<tf.Tensor, tf.Tensor> {
  const bound = 1 / Math.sqrt(cin);
  const w =
    init === 'torch'
      ? p.uniform(`${name}.w`, [cin, cout], bound)
      : p.truncatedNormal(`${name}.w`, [cin, cout], 0.02);
  const b =
    init === 'torch' ? p.uniform(`${name}.b`, [cout], bound) : p.constant(`${name}.b`, [cout], 0);
  return (x) => {
    if (x.rank === 2) return linearOp(x as tf.Tensor2D, w as tf.Tensor2D, b);
    const lead = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, cin]) as tf.Tensor2D;
    return tf.reshape(linearOp(flat, w as tf.Tensor2D, b), [...lead, cout]);
  };
}

/**
 * x·W + b as one custom op that saves only x and W for its gradient (tfjs's Add would also
 * keep the product x·W, a tensor of the output's size, until the backward pass): the same
 * gradient ops as tfjs's, dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ dy over rows.
 */
export function linearOp(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor): tf.Tensor2D {
  const op = tf.customGrad((xIn, wIn, bIn, save) => {
    (save as tf.GradSaveFunc)([xIn as tf.Tensor, wIn as tf.Tensor]);
    return {
      value: tf.add(tf.matMul(xIn as tf.Tensor2D, wIn as tf.Tensor2D), bIn as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy as tf.Tensor2D;
        return [tf.matMul(dy2, sw, false, true), tf.matMul(sx, dy2, true, false), tf.sum(dy2, 0)];
      },
    };
  });
  return op(x, w, b) as tf.Tensor2D;
}

/**
 * Layer norm over the last axis (epsilon 1e-6, as ViT), as one custom op that saves only
 * x̂, 1/σ and γ for its gradient (tfjs's autodiff of the formula would save every
 * intermediate, several tensors of the activation's size per layer):
 * dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))/σ with ĝ = dy·γ; dγ = Σ dy·x̂, dβ = Σ dy.
 */
export function layerNorm(p: ParamBuilder, name: string, dim: number): Layer {
  const gamma = p.constant(`${name}.gamma`, [dim], 1);
  const beta = p.constant(`${name}.beta`, [dim], 0);
  return (x) => layerNormOp(x, gamma, beta);
}

export function layerNormOp(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const dim = x.shape[x.rank - 1]!;
  const op = tf.customGrad((xIn, gIn, bIn, save) => {
    const m = tf.moments(xIn as tf.Tensor, -1, true);
    const rstd = tf.rsqrt(tf.add(m.variance, 1e-6));
    const xhat = tf.mul(tf.sub(xIn as tf.Tensor, m.mean), rstd);
    (save as tf.GradSaveFunc)([xhat, rstd, gIn as tf.Tensor]);
    return {
      value: tf.add(tf.mul(xhat, gIn as tf.Tensor), bIn as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sXhat, sRstd, sGamma] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const g = tf.mul(dy, sGamma);
        const meanG = tf.mean(g, -1, true);
        const meanGx = tf.mean(tf.mul(g, sXhat), -1, true);
        const dx = tf.mul(tf.sub(tf.sub(g, meanG), tf.mul(sXhat, meanGx)), sRstd);
        const rows = tf.reshape(dy, [-1, dim]);
        const dGamma = tf.sum(tf.mul(rows, tf.reshape(sXhat, [-1, dim])), 0);
        const dBeta = tf.sum(rows, 0);
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta);
}

/**
 * GELU, tanh form (every backend has tanh and its gradient; erf is missing on some), as one
 * custom op that saves only its input: tfjs's autodiff of the formula would keep about seven
 * tensors of the MLP's hidden size per block, which is what exhausted the WASM heap for
 * ViT-tiny at batch 256. g(x) = ½x(1 + tanh u), u = c(x + 0.044715x³), c = √(2/π);
 * g'(x) = ½(1 + tanh u) + ½x(1 − tanh²u)·c(1 + 3·0.044715x²).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((xIn, save) => {
    (save as tf.GradSaveFunc)([xIn as tf.Tensor]);
    return {
      value: geluFormula(xIn as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0]!;
        const c = Math.sqrt(2 / Math.PI);
        const x2 = tf.square(xs);
        const t = tf.tanh(tf.mul(tf.mul(xs, tf.add(tf.mul(x2, 0.044715), 1)), c));
        const du = tf.mul(tf.add(tf.mul(x2, 3 * 0.044715), 1), c);
        const slope = tf.add(
          tf.mul(tf.add(t, 1), 0.5),
          tf.mul(tf.mul(tf.mul(xs, 0.5), tf.sub(1, tf.square(t))), du),
        );
        return [tf.mul(dy, slope)];
      },
    };
  });
  return op(x);
}

/** The GELU formula in tfjs ops (also the reference of the custom op's gradient test). */
export function geluFormula(x: tf.Tensor): tf.Tensor {
  const cube = tf.mul(tf.square(x), x);
  const inner = tf.mul(tf.add(x, tf.mul(cube, 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/**
 * ReLU of `a` (+ `b`, same shape) that keeps only its output for the gradient. tfjs's own ReLU
 * keeps its input and its Add keeps both inputs, so `relu(add(y, skip))` held three tensors of
 * the activation's size where one is enough: the output's sign is the input's (x > 0 exactly
 * when relu(x) > 0), so the gradient, dy·step(output), is the same number for number.
 */
export function reluSum(a: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args) => {
    const inputs = args.slice(0, -1) as tf.Tensor[];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const value = tf.relu(inputs.length === 2 ? tf.add(inputs[0]!, inputs[1]!) : inputs[0]!);
    save([value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const g = tf.mul(dy, tf.step(saved[0]!));
        return inputs.length === 2 ? [g, tf.reshape(g, g.shape)] : [g];
      },
    };
  });
  return b === undefined ? op(a) : op(a, b);
}
