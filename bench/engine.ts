/**
 * Engine internals on the WASM backend: the forward + backward pass of resnet-small with its
 * projector and the LeJEPA loss (batch 128 × 2 views of 32×32 RGB, no optimiser: the
 * training-step module measures the full step), and, interleaved pair by pair, the choices
 * made in engine/kernels and engine/models against their alternatives:
 * - convolution filter gradient as one forward convolution vs nine shifted matrix products;
 * - strided convolution input gradient by phases vs the zero-inserted output gradient;
 * - batch norm as the backend's own forward and backward kernels vs one custom op of tfjs ops
 *   with its analytic gradient vs tfjs's composite ops.
 * Then the same forward + backward on the plain CPU backend for one sample (it is several
 * hundred times slower; left out of --quick). Run alone, `node --import tsx bench/engine.ts [--quick]` writes
 * bench/results/engine-<time>.json; `npm run bench -- --only engine` runs it in the suite.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';

import { enableWasmThreads } from '../src-main/compute/wasm-threads.ts';
import { initBackend } from '../src-main/engine/backend.ts';
import { conv2dFilterGrad, conv2dInputGrad } from '../src-main/engine/kernels/conv-grads.ts';
import { drawDirections, lejepaLoss, quadrature } from '../src-main/engine/lejepa/index.ts';
import {
  createEncoder,
  createProjector,
  ENCODER_PRESETS,
} from '../src-main/engine/models/index.ts';
import { batchNormTrain, batchNormTrainOps } from '../src-main/engine/models/layers.ts';
import { Rng } from '../src-main/engine/rng.ts';
import { Harness, peakRssMB, stats, type BenchOptions, type Stats } from './harness.ts';

const VIEWS = 2;

/** ms of one forward + backward of encoder, projector and LeJEPA loss on `batch` × 2 views. */
function forwardBackward(batch: number): { run: () => Promise<number>; dispose: () => void } {
  const rng = new Rng(0);
  const encoder = createEncoder(ENCODER_PRESETS['resnet-small'], rng);
  const projector = createProjector({ inDim: encoder.featureDim, hidden: 512, out: 128 }, rng);
  const x = tf.tensor4d(rng.normalArray(VIEWS * batch * 32 * 32 * 3), [VIEWS * batch, 32, 32, 3]);
  const vars = [...encoder.params.trainable.values(), ...projector.params.trainable.values()];
  const quad = quadrature();
  return {
    async run() {
      const start = performance.now();
      const directions = drawDirections(rng, 128, 256);
      const { value, grads } = tf.variableGrads(() => {
        const z = projector.apply(encoder.apply(x, { training: true }), { training: true });
        const proj = tf.reshape(z, [VIEWS, batch, 128]) as tf.Tensor3D;
        const loss = lejepaLoss(proj, VIEWS, directions, quad, 0.05);
        tf.dispose([loss.pred, loss.sigreg]);
        return loss.total;
      }, vars);
      await value.data();
      await Promise.all(Object.values(grads).map((g) => g.data()));
      tf.dispose([value, directions, ...Object.values(grads)]);
      return performance.now() - start;
    },
    dispose() {
      tf.dispose(x);
      encoder.dispose();
      projector.dispose();
    },
  };
}

/** Filter gradient of a 3×3 convolution as nine shifted matrix products (the alternative). */
function shiftedFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, stride: number): tf.Tensor {
  return tf.tidy(() => {
    const [n, , , c] = x.shape;
    const [, oh, ow, o] = dy.shape;
    const xp = tf.pad(x, [
      [0, 0],
      [1, 1 + stride],
      [1, 1 + stride],
      [0, 0],
    ]);
    const dy2 = tf.reshape(dy, [-1, o]);
    const taps: tf.Tensor[] = [];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        const end = [n, a + (oh - 1) * stride + 1, b + (ow - 1) * stride + 1, c];
        const xs = tf.stridedSlice(xp, [0, a, b, 0], end, [1, stride, stride, 1]);
        taps.push(tf.matMul(tf.reshape(xs, [-1, c]), dy2, true, false));
      }
    }
    return tf.reshape(tf.stack(taps), [3, 3, c, o]);
  });
}

/** Input gradient of a stride-2 3×3 convolution (pad 1) through the zero-inserted dy. */
function zeroInsertedInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, size: number): tf.Tensor {
  return tf.tidy(() => {
    const [n, oh, ow, k] = dy.shape;
    const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, k]), [
      [0, 0],
      [0, 0],
      [0, 1],
      [0, 0],
      [0, 1],
      [0, 0],
    ]);
    const grid = tf.slice(
      tf.reshape(spread, [n, 2 * oh, 2 * ow, k]),
      [0, 0, 0, 0],
      [n, 2 * oh - 1, 2 * ow - 1, k],
    );
    const back = size + 1 - (2 * oh - 1);
    const padded = tf.pad(grid, [
      [0, 0],
      [1, back],
      [1, back],
      [0, 0],
    ]) as tf.Tensor4D;
    return tf.conv2d(
      padded,
      tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D,
      1,
      'valid',
    );
  });
}

async function timed(f: () => tf.Tensor): Promise<number> {
  const start = performance.now();
  const out = f();
  await out.data();
  out.dispose();
  return performance.now() - start;
}

function imagesPerSec(ms: Stats, images: number): Stats {
  return stats(ms.samples.map((m) => (images * 1000) / m));
}

export async function run(h: Harness, opts: BenchOptions): Promise<void> {
  const wanted = Math.min(2, os.cpus().length);
  const wasmThreads = await enableWasmThreads(wanted);
  const info = await initBackend({ prefer: 'wasm' });
  if (wasmThreads.reason) h.note(`WASM threads: ${wasmThreads.reason}`);
  const threads = info.threads;
  const params = { backend: 'wasm', threads };
  const batch = opts.quick ? 32 : 128;
  const rounds = opts.quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 5 };

  const step = forwardBackward(batch);
  const ms = await h.repeat(step.run, opts.quick ? { warmup: 1, reps: 2 } : { warmup: 1, reps: 4 });
  step.dispose();
  h.figure(
    'resnet-small fwd+bwd (encoder, projector, LeJEPA loss)',
    imagesPerSec(ms, VIEWS * batch),
    'images/s',
    {
      ...params,
      batch,
      views: VIEWS,
      size: 32,
      channels: 3,
      slices: 256,
    },
  );

  const n = opts.quick ? 32 : 128;
  const rng = new Rng(1);
  const tensor = (shape: number[]) =>
    tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ];

  // Filter gradient, stage-1 shape of resnet-small (32×32×32 → 32, stride 1).
  const x = tensor([n, 32, 32, 32]) as tf.Tensor4D;
  const dy = tensor([n, 32, 32, 32]) as tf.Tensor4D;
  const geometry = {
    strides: [1, 1] as [number, number],
    dilations: [1, 1] as [number, number],
    pad,
  };
  const fg = await h.interleave(
    {
      forwardConv: () => timed(() => conv2dFilterGrad(x, dy, [3, 3, 32, 32], geometry)),
      shiftedMatMul: () => timed(() => shiftedFilterGrad(x, dy, 1)),
    },
    rounds,
  );
  h.figure(
    'conv filter grad: nine shifted matMuls / forward conv (time ratio)',
    fg.ratio('shiftedMatMul', 'forwardConv'),
    '×',
    {
      ...params,
      x: x.shape,
      filter: [3, 3, 32, 32],
    },
  );

  // Input gradient, stride 2 (32×32×32 → 16×16×64).
  const dy2 = tensor([n, 16, 16, 64]) as tf.Tensor4D;
  const w2 = tensor([3, 3, 32, 64]) as tf.Tensor4D;
  const g2 = { strides: [2, 2] as [number, number], dilations: [1, 1] as [number, number], pad };
  const ig = await h.interleave(
    {
      phases: () => timed(() => conv2dInputGrad(dy2, w2, [n, 32, 32, 32], g2)),
      zeroInserted: () => timed(() => zeroInsertedInputGrad(dy2, w2, 32)),
    },
    rounds,
  );
  h.figure(
    'conv input grad stride 2: zero-inserted / phases (time ratio)',
    ig.ratio('zeroInserted', 'phases'),
    '×',
    {
      ...params,
      dy: dy2.shape,
      filter: w2.shape,
    },
  );

  // Batch norm forward + backward, [n, 32, 32, 32].
  const gamma = tf.ones([32]);
  const beta = tf.zeros([32]);
  const bnWith = (f: typeof batchNormTrain) => () =>
    timed(() =>
      tf.tidy(() => {
        const g = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => {
          const r = f(a, gm, bt);
          tf.dispose([r.batchMean, r.batchVar]);
          return tf.sum(tf.mul(r.y, dy));
        })([x, gamma, beta]);
        return tf.addN([tf.sum(g[0]!), tf.sum(g[1]!), tf.sum(g[2]!)]);
      }),
    );
  const bnComposite = () =>
    timed(() =>
      tf.tidy(() => {
        const g = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => {
          const m = tf.moments(a, [0, 1, 2]);
          return tf.sum(tf.mul(tf.batchNorm(a, m.mean, m.variance, bt, gm, 1e-5), dy));
        })([x, gamma, beta]);
        return tf.addN([tf.sum(g[0]!), tf.sum(g[1]!), tf.sum(g[2]!)]);
      }),
    );
  const bn = await h.interleave(
    { kernels: bnWith(batchNormTrain), ops: bnWith(batchNormTrainOps), composite: bnComposite },
    rounds,
  );
  h.figure(
    'batch norm fwd+bwd: tfjs composite / own kernels (time ratio)',
    bn.ratio('composite', 'kernels'),
    '×',
    { ...params, x: x.shape },
  );
  h.figure(
    'batch norm fwd+bwd: custom op of tfjs ops / own kernels (time ratio)',
    bn.ratio('ops', 'kernels'),
    '×',
    { ...params, x: x.shape },
  );
  tf.dispose([x, dy, dy2, w2, gamma, beta]);

  // The plain CPU backend, for scale: one sample × 2 views, once (minutes on a busy machine).
  if (opts.quick) {
    h.skip('resnet-small fwd+bwd on the CPU backend', 'left out of --quick: minutes per image');
    return;
  }
  await initBackend({ prefer: 'cpu' });
  const cpuBatch = 1;
  const cpu = forwardBackward(cpuBatch);
  const cpuMs = await h.repeat(cpu.run, { warmup: 0, reps: 1 });
  cpu.dispose();
  h.figure(
    'resnet-small fwd+bwd on the CPU backend',
    imagesPerSec(cpuMs, VIEWS * cpuBatch),
    'images/s',
    {
      backend: 'cpu',
      threads: 1,
      batch: cpuBatch,
      views: VIEWS,
    },
  );
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const h = new Harness('engine');
  const started = performance.now();
  await run(h, { quick });
  h.report.peakRssMB.engine = peakRssMB();
  h.report.seconds = (performance.now() - started) / 1000;
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`engine-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir);
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, load: os.loadavg() };
  writeFileSync(file, JSON.stringify({ machine, quick, ...h.report }, null, 2));
  process.stderr.write(`wrote ${file.pathname}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
