// The WASM backend's convolutions and batch norm run by ONNX Runtime must compute what the
// kernels they replace compute: every case is run on WASM alone first, then again after
// enableOrtKernels, in the same process, and compared within float32 summation-order
// tolerance. The ONNX Runtime sessions must really have run (none failed), repeated calls must
// give identical bits (resumed training relies on it), and calls the graphs do not cover must
// still work through the replaced kernels.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { enableOrtKernels, ortKernelStats } from '../../src-main/compute/ort-kernels.ts';
import { startBackend } from '../../src-main/compute/start-backend.ts';
import { BN_BACKWARD, BN_FORWARD } from '../../src-main/engine/kernels/batch-norm.ts';
import { Rng } from '../../src-main/engine/rng.ts';
import { worstDifference } from './compare.ts';

type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  stride: number;
  pad: Pad;
}

/** Whether a case's output positions, N·Ho·Wo, split evenly between two threads. */
function chunkable(c: Case): boolean {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.stride, 1, c.pad);
  return (c.x[0] * info.outHeight * info.outWidth) % 2 === 0;
}

const CASES: Case[] = [
  { x: [2, 7, 9, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' },
  // N·Ho·Wo odd: the filter gradient cannot be cut in two chunks.
  { x: [1, 7, 9, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 5], stride: 2, pad: 'same' },
  { x: [3, 9, 6, 2], f: [3, 3, 2, 4], stride: 2, pad: 'valid' },
  // Strided 1×1: the input gradient is a product spread over every second row and column,
  // trimmed where the input's size is odd (here its height), or not (the 'same' case).
  { x: [2, 9, 8, 4], f: [1, 1, 4, 6], stride: 2, pad: 'valid' },
  { x: [2, 8, 6, 5], f: [1, 1, 5, 3], stride: 2, pad: 'same' },
  // Explicit padding: tfjs-core miscounts a numeric pad with a non-square filter.
  {
    x: [1, 7, 9, 2],
    f: [4, 5, 2, 3],
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [2, 1],
      [0, 0],
    ],
  },
  { x: [2, 10, 10, 3], f: [3, 3, 3, 4], stride: 2, pad: 1 },
  { x: [2, 11, 7, 3], f: [3, 2, 3, 2], stride: 2, pad: 'same' },
  // Channel counts that are multiples of 16 run on the blocked layout (both gradients of the
  // stride-1 cases too); the strided input gradient stays on ConvTranspose.
  { x: [2, 6, 5, 16], f: [3, 3, 16, 32], stride: 1, pad: 'same' },
  { x: [2, 8, 8, 32], f: [3, 3, 32, 16], stride: 2, pad: 'same' },
  // Strided 3×3 input gradients by phases: odd sizes, 'valid' and 'same' with padding on top.
  { x: [1, 9, 7, 16], f: [3, 3, 16, 16], stride: 2, pad: 'valid' },
  { x: [2, 7, 7, 16], f: [3, 3, 16, 32], stride: 2, pad: 'same' },
  { x: [3, 7, 7, 16], f: [1, 1, 16, 16], stride: 2, pad: 'valid' },
  { x: [1, 9, 8, 16], f: [3, 3, 16, 16], stride: 1, pad: 'valid' },
];

const rng = new Rng(77);
const random = (shape: number[]) =>
  Float32Array.from(rng.normalArray(shape.reduce((a, b) => a * b, 1)));
const DATA = CASES.map((c) => ({ x: random(c.x), f: random(c.f), b: random([c.f[3]]) }));

/** Convolution, fused convolution (bias + ReLU) and both gradients of Σ conv² for every case. */
function convolutions(): Float32Array[][] {
  return CASES.map((c, i) =>
    tf.tidy(() => {
      const d = DATA[i]!;
      const x = tf.tensor4d(d.x, c.x);
      const f = tf.tensor4d(d.f, c.f);
      const b = tf.tensor1d(d.b);
      const conv = (xi: tf.Tensor, fi: tf.Tensor) =>
        tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad);
      const y = conv(x, f);
      const fused = tf.fused.conv2d({
        x,
        filter: f,
        strides: c.stride,
        pad: c.pad,
        bias: b,
        activation: 'relu',
      });
      const [dx, df] = tf.grads((xi: tf.Tensor, fi: tf.Tensor) => tf.sum(tf.square(conv(xi, fi))))([
        x,
        f,
      ]);
      return [y, fused, dx!, df!].map((t) => t.dataSync() as Float32Array);
    }),
  );
}

const MATMULS: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
  { a: [3, 20, 30], b: [3, 30, 40], ta: false, tb: false },
  { a: [3, 30, 20], b: [1, 30, 40], ta: true, tb: false },
  { a: [1, 20, 30], b: [3, 40, 30], ta: false, tb: true },
  { a: [2, 40, 30], b: [2, 50, 40], ta: true, tb: true },
  // A linear layer and its weight gradient: plain matrices.
  { a: [60, 30], b: [30, 50], ta: false, tb: false },
  { a: [60, 30], b: [60, 50], ta: true, tb: false },
  // Attention scores, [batch, heads, tokens, head size], and a shared operand of lower rank.
  { a: [4, 3, 33, 16], b: [4, 3, 33, 16], ta: false, tb: true },
  { a: [2, 3, 20, 30], b: [30, 40], ta: false, tb: false },
  // Below the size worth a call: stays on WASM.
  { a: [1, 4, 5], b: [1, 5, 6], ta: false, tb: false },
];
const MM_DATA = MATMULS.map((m) => ({ a: random(m.a), b: random(m.b) }));

const TRANSPOSED = random([8, 70, 3, 40]);
// Arguments like SIGReg's (projections times quadrature knots), large enough for ONNX Runtime.
const UNARY_X = Float32Array.from(random([64, 128, 17]), (v) => v * 6);
const UNARY_OPS = [tf.sin, tf.cos, tf.tanh, (t: tf.Tensor) => tf.exp(tf.mul(t, 0.1))];

/** Sine, cosine, tanh and exp of UNARY_X. */
function unaries(): Float32Array[] {
  return UNARY_OPS.map((f) =>
    tf.tidy(() => f(tf.tensor3d(UNARY_X, [64, 128, 17])).dataSync() as Float32Array),
  );
}

/** The products above, then a transpose of the kind attention makes ([B, T, H, D] → [B, H, T, D]). */
function matMuls(): Float32Array[] {
  const transposed = tf.tidy(
    () =>
      tf
        .transpose(tf.tensor4d(TRANSPOSED, [8, 70, 3, 40]), [0, 2, 1, 3])
        .dataSync() as Float32Array,
  );
  const products = MATMULS.map((m, i) =>
    tf.tidy(
      () =>
        tf
          .matMul(tf.tensor(MM_DATA[i]!.a, m.a), tf.tensor(MM_DATA[i]!.b, m.b), m.ta, m.tb)
          .dataSync() as Float32Array,
    ),
  );
  return [...products, transposed];
}

const BN_SHAPES = [
  [4, 5, 6, 8],
  [16, 12],
];
const BN_DATA = BN_SHAPES.map((s) => ({
  x: Float32Array.from(random(s), (v) => v * 3 + 1),
  dy: random(s),
  gamma: random([s[s.length - 1]!]),
  beta: random([s[s.length - 1]!]),
}));

/** The training batch norm's forward outputs and backward outputs for every shape. */
function batchNorms(): Float32Array[][] {
  return BN_SHAPES.map((shape, i) =>
    tf.tidy(() => {
      const d = BN_DATA[i]!;
      const c = shape[shape.length - 1]!;
      const x = tf.tensor(d.x, shape);
      const gamma = tf.tensor1d(d.gamma);
      const beta = tf.tensor1d(d.beta);
      const fwd = tf.engine().runKernel(BN_FORWARD, { x, gamma, beta }, { epsilon: 1e-5 });
      const [y, mean, variance, saved] = fwd as tf.Tensor[];
      assert.deepEqual(saved!.shape, [2, c]);
      const bwd = tf
        .engine()
        .runKernel(BN_BACKWARD, { dy: tf.tensor(d.dy, shape), x, saved: saved!, gamma }, {});
      return [y!, mean!, variance!, saved!, ...(bwd as tf.Tensor[])].map(
        (t) => t.dataSync() as Float32Array,
      );
    }),
  );
}

/** The same seven outputs in float64 JavaScript, straight from the formulas. */
function batchNormReference(
  shape: number[],
  d: { x: Float32Array; dy: Float32Array; gamma: Float32Array; beta: Float32Array },
): Float32Array[] {
  const c = shape[shape.length - 1]!;
  const rows = d.x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < d.x.length; i++) mean[i % c]! += d.x[i]! / rows;
  for (let i = 0; i < d.x.length; i++) variance[i % c]! += (d.x[i]! - mean[i % c]!) ** 2 / rows;
  const rstd = variance.map((v) => 1 / Math.sqrt(v + 1e-5));
  const xhat = d.x.map((v, i) => (v - mean[i % c]!) * rstd[i % c]!);
  const y = xhat.map((v, i) => v * d.gamma[i % c]! + d.beta[i % c]!);
  const dbeta = new Float64Array(c);
  const dgamma = new Float64Array(c);
  for (let i = 0; i < d.x.length; i++) {
    dbeta[i % c]! += d.dy[i]!;
    dgamma[i % c]! += d.dy[i]! * xhat[i]!;
  }
  const dx = d.dy.map((g, i) => {
    const k = i % c;
    return ((d.gamma[k]! * rstd[k]!) / rows) * (rows * g - dbeta[k]! - xhat[i]! * dgamma[k]!);
  });
  const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
  return [
    f32(y),
    f32(mean),
    f32(variance),
    f32([...mean, ...rstd]),
    f32(dx),
    f32(dgamma),
    f32(dbeta),
  ];
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const { worst, scale } = worstDifference(actual, expected);
  assert.ok(
    worst <= 2e-5 * Math.max(scale, 1),
    `${what}: worst difference ${worst} (scale ${scale})`,
  );
}

test('ONNX Runtime kernels compute what the WASM kernels compute, deterministically', async () => {
  // startBackend puts the WASM backend's convolutions and batch norm on ONNX Runtime.
  await startBackend({ prefer: 'wasm', threads: 2 });
  const info = enableOrtKernels(2);
  assert.equal(info.enabled, true, info.reason);
  const before = ortKernelStats();
  const ort = convolutions();
  const ortBn = batchNorms();
  const afterConv = ortKernelStats();
  const ortMm = matMuls();
  const afterMm = ortKernelStats();
  const ortUnary = unaries();
  const after = ortKernelStats();
  assert.equal(after.runs - afterMm.runs, UNARY_OPS.length, 'every transcendental kernel');
  assert.equal(
    afterMm.runs - afterConv.runs,
    MATMULS.length,
    'every product but the tiny one, and the transpose',
  );
  assert.deepEqual(after.failed, []);
  assert.ok(after.sessions > before.sessions, 'sessions were built');
  // Per case: the convolution, the fused one, and the convolution again with both gradients.
  assert.ok(
    afterConv.runs - before.runs >= CASES.length * 5 + BN_SHAPES.length * 2,
    `expected every convolution, gradient and batch norm on ONNX Runtime; ran ${afterConv.runs - before.runs}`,
  );
  // The same calls again: the same sessions (sizes do not matter, geometry does), identical bits.
  const again = convolutions();
  ort.forEach((outs, i) => outs.forEach((o, k) => assert.deepEqual(again[i]![k], o)));
  assert.equal(ortKernelStats().sessions, after.sessions, 'no new sessions for seen geometries');
  // Stride-1 filter gradients split their product between the two threads where N·Ho·Wo is
  // even; the strided ones do not, nor the odd case, which therefore runs the unsplit graph.
  // Sessions are per geometry: the stride-1 ones here are 3×3 'same', 4×5 explicit, 3×3 'valid'.
  assert.ok(CASES.some((c) => c.stride === 1 && !chunkable(c)));
  assert.equal(after.chunked, 3);
  assert.equal(after.pointwise, 3, 'one session per strided 1×1 input size');
  // On x86-64 the blocked layout is there, and the three strided 3×3 cases with channels in
  // blocks run by phases, one session per input size.
  if (process.arch === 'x64') assert.equal(after.phased, 3);
  // The runtime reports its channel block on x86-64 (8 with AVX2, 16 with AVX-512).
  if (process.arch === 'x64') {
    assert.ok([8, 16].includes(after.channelBlock ?? 0), `block ${after.channelBlock}`);
    assert.ok(after.blocked >= 6, `blocked-layout sessions: ${after.blocked}`);
  }

  await tf.setBackend('cpu');
  const reference = convolutions();
  const names = ['conv', 'fused conv', 'input gradient', 'filter gradient'];
  CASES.forEach((c, i) =>
    names.forEach((n, k) =>
      assertClose(ort[i]![k]!, reference[i]![k]!, `${n} of ${JSON.stringify(c)}`),
    ),
  );
  const referenceMm = matMuls();
  const referenceUnary = unaries();
  ['sin', 'cos', 'tanh', 'exp'].forEach((n, i) =>
    assertClose(ortUnary[i]!, referenceUnary[i]!, `${n} of SIGReg-sized arguments`),
  );
  MATMULS.forEach((m, i) => assertClose(ortMm[i]!, referenceMm[i]!, `matMul ${JSON.stringify(m)}`));
  assert.deepEqual(ortMm.at(-1), referenceMm.at(-1), 'a transpose moves values exactly');
  const bnNames = ['y', 'mean', 'variance', 'saved', 'dx', 'dgamma', 'dbeta'];
  BN_SHAPES.forEach((s, i) => {
    const want = batchNormReference(s, BN_DATA[i]!);
    bnNames.forEach((n, k) =>
      assertClose(ortBn[i]![k]!, want[k]!, `batch norm ${n} of [${s.join(', ')}]`),
    );
  });
  await tf.setBackend('wasm');
});

test('calls the ONNX graphs do not cover run on the replaced WASM kernels', async () => {
  await startBackend({ prefer: 'wasm', threads: 2 });
  const before = ortKernelStats();
  const data = DATA[0]!;
  const c = CASES[0]!;
  const eluConv = () =>
    tf.tidy(
      () =>
        tf.fused
          .conv2d({
            x: tf.tensor4d(data.x, c.x),
            filter: tf.tensor4d(data.f, c.f),
            strides: c.stride,
            pad: c.pad,
            bias: tf.tensor1d(data.b),
            activation: 'elu',
          })
          .dataSync() as Float32Array,
    );
  const got = eluConv();
  const after = ortKernelStats();
  assert.equal(after.sessions, before.sessions, 'an ELU convolution built no session');
  assert.equal(after.runs, before.runs, 'and ran nothing on ONNX Runtime');
  await tf.setBackend('cpu');
  const want = eluConv();
  await tf.setBackend('wasm');
  assertClose(got, want, 'ELU convolution');
});
