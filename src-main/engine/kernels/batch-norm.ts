/**
 * Training-mode batch norm as two kernels of the WASM backend, forward and backward, each a few
 * passes over the tensors in the backend's own memory. Composed from tfjs ops, the same
 * arithmetic makes about 30 passes over every activation per step (centring, squaring, scaling,
 * column sums as matrix products that repack the whole activation), and was a third of a
 * training step of the reference ResNet on WASM.
 *
 * For x [R, C] (every axis but the last flattened), per channel c:
 *   μ = Σx/R, v = Σ(x − μ)²/R (two passes, float64 sums), r = 1/√(v + ε), x̂ = (x − μ)·r,
 *   y = γ·x̂ + β;
 *   dβ = Σdy, dγ = Σdy·x̂, dx = γ·r/R · (R·dy − dβ − x̂·dγ).
 * The loops run on the JavaScript thread over views of the WASM heap, taken after every
 * output is allocated (allocation may grow, and so detach, the heap).
 */
import * as tf from '@tensorflow/tfjs-core';

export const BN_FORWARD = 'LejepaBatchNormTrain';
export const BN_BACKWARD = 'LejepaBatchNormTrainGrad';

interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

function needInput(info: tf.TensorInfo | undefined, what: string): tf.TensorInfo {
  if (info === undefined) throw new Error(`batch-norm kernel called without its ${what}`);
  return info;
}

/** Inputs x, gamma, beta; attrs epsilon. Outputs y, batch mean [C], biased variance [C], and [2, C] = (mean, 1/√(var + ε)) kept for the backward kernel. */
function forward({
  inputs,
  backend,
  attrs,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo[] {
  const b = backend as WasmLike;
  const x = needInput(inputs.x, 'input');
  const gamma = needInput(inputs.gamma, 'scale');
  const beta = needInput(inputs.beta, 'offset');
  const eps = Number(attrs?.epsilon ?? 1e-5);
  const c = x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((p, d) => p * d, 1);
  const rows = size / c;
  const yInfo = b.makeOutput([...x.shape], 'float32');
  const meanInfo = b.makeOutput([c], 'float32');
  const varInfo = b.makeOutput([c], 'float32');
  const savedInfo = b.makeOutput([2, c], 'float32');
  const xv = b.typedArrayFromHeap(x);
  const gv = b.typedArrayFromHeap(gamma);
  const bv = b.typedArrayFromHeap(beta);
  const yv = b.typedArrayFromHeap(yInfo);
  const mv = b.typedArrayFromHeap(meanInfo);
  const vv = b.typedArrayFromHeap(varInfo);
  const sv = b.typedArrayFromHeap(savedInfo);

  const mean = new Float64Array(c);
  for (let o = 0; o < size; o += c) for (let k = 0; k < c; k++) mean[k]! += xv[o + k]!;
  for (let k = 0; k < c; k++) mean[k]! /= rows;
  const sq = new Float64Array(c);
  for (let o = 0; o < size; o += c) {
    for (let k = 0; k < c; k++) {
      const d = xv[o + k]! - mean[k]!;
      sq[k]! += d * d;
    }
  }
  const scale = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const v = sq[k]! / rows;
    const r = 1 / Math.sqrt(v + eps);
    mv[k] = mean[k]!;
    vv[k] = v;
    sv[k] = mean[k]!;
    sv[c + k] = r;
    scale[k] = r * gv[k]!;
  }
  for (let o = 0; o < size; o += c) {
    for (let k = 0; k < c; k++) yv[o + k] = (xv[o + k]! - mean[k]!) * scale[k]! + bv[k]!;
  }
  return [yInfo, meanInfo, varInfo, savedInfo];
}

/** Inputs dy, x, saved [2, C] (mean, 1/√(var + ε)), gamma. Outputs dx, dgamma [C], dbeta [C]. */
function backward({
  inputs,
  backend,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
}): tf.TensorInfo[] {
  const b = backend as WasmLike;
  const dy = needInput(inputs.dy, 'output gradient');
  const x = needInput(inputs.x, 'input');
  const saved = needInput(inputs.saved, 'statistics');
  const gamma = needInput(inputs.gamma, 'scale');
  const c = x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((p, d) => p * d, 1);
  const rows = size / c;
  const dxInfo = b.makeOutput([...x.shape], 'float32');
  const dgInfo = b.makeOutput([c], 'float32');
  const dbInfo = b.makeOutput([c], 'float32');
  const dyv = b.typedArrayFromHeap(dy);
  const xv = b.typedArrayFromHeap(x);
  const sv = b.typedArrayFromHeap(saved);
  const gv = b.typedArrayFromHeap(gamma);
  const dxv = b.typedArrayFromHeap(dxInfo);
  const dgv = b.typedArrayFromHeap(dgInfo);
  const dbv = b.typedArrayFromHeap(dbInfo);

  const mean = sv.slice(0, c);
  const rstd = sv.slice(c, 2 * c);
  const sdy = new Float64Array(c);
  const sdyx = new Float64Array(c);
  for (let o = 0; o < size; o += c) {
    for (let k = 0; k < c; k++) {
      const g = dyv[o + k]!;
      sdy[k]! += g;
      sdyx[k]! += g * (xv[o + k]! - mean[k]!) * rstd[k]!;
    }
  }
  // dx = γr·dy − γr·Σdy/R − x̂·γr·Σ(dy·x̂)/R, with x̂ = (x − μ)·r.
  const a = new Float64Array(c);
  const off = new Float64Array(c);
  const slope = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    dbv[k] = sdy[k]!;
    dgv[k] = sdyx[k]!;
    const gr = gv[k]! * rstd[k]!;
    a[k] = gr;
    off[k] = (gr * sdy[k]!) / rows;
    slope[k] = ((gr * sdyx[k]!) / rows) * rstd[k]!;
  }
  for (let o = 0; o < size; o += c) {
    for (let k = 0; k < c; k++) {
      dxv[o + k] = a[k]! * dyv[o + k]! - off[k]! - slope[k]! * (xv[o + k]! - mean[k]!);
    }
  }
  return [dxInfo, dgInfo, dbInfo];
}

let registered = false;

/** Registers both kernels on the 'wasm' backend (idempotent). */
export function registerBatchNormKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: BN_FORWARD, backendName: 'wasm', kernelFunc: forward });
  tf.registerKernel({ kernelName: BN_BACKWARD, backendName: 'wasm', kernelFunc: backward });
}

/** Whether the current backend has the fused kernels. */
export function hasBatchNormKernels(): boolean {
  return tf.getKernel(BN_FORWARD, tf.getBackend()) !== undefined;
}
