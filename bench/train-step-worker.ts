/**
 * TF.js side of the training-step, inference and SIGReg benchmarks: a long-lived process on
 * one backend, thread count and kernel set, answering one JSON line per request (see LineWorker in
 * harness.ts). Usage: `node --import tsx bench/train-step-worker.ts BACKEND THREADS [xnnpack]`.
 *
 * The step is the studio's (engine/train/step.ts) without augmentation and probe, so that both
 * sides of the comparison do the same work: the encoder on both views in one batch, the
 * projector, the LeJEPA loss with fresh directions, the gradient (with the studio's
 * backward pass, engine/train/backprop.ts), AdamW.
 */
import { createInterface } from 'node:readline';

import * as tf from '@tensorflow/tfjs-core';

import { compileEncoder } from '../src-main/compute/ort-encoder.ts';
import { startBackend } from '../src-main/compute/start-backend.ts';
import type { BackendName } from '../src-main/engine/backend.ts';
import { drawDirections, lejepaLoss, quadrature, sigreg } from '../src-main/engine/lejepa/index.ts';
import {
  countParams,
  createEncoder,
  createProjector,
  ENCODER_PRESETS,
  type EncoderPreset,
} from '../src-main/engine/models/index.ts';
import { AdamW } from '../src-main/engine/train/adamw.ts';
import { variableGradsLean } from '../src-main/engine/train/backprop.ts';
import { Rng } from '../src-main/engine/rng.ts';
import { firstLine } from '../src-main/engine/error-text.ts';

type Request = Record<string, unknown> & { op: string };

interface Setup {
  step(): number;
  embed(n: number): void;
  dispose(): void;
  params: number;
}

const PROJECTOR_OUT = 128;

async function build(
  model: EncoderPreset,
  batch: number,
  views: number,
  slices: number,
  threads: number,
): Promise<Setup> {
  const rng = new Rng(0);
  const encoder = createEncoder(ENCODER_PRESETS[model], rng);
  const projector = createProjector(
    { inDim: encoder.featureDim, hidden: 512, out: PROJECTOR_OUT },
    rng,
  );
  const params = new Map<string, tf.Variable>();
  for (const [n, v] of encoder.params.trainable) params.set(`encoder.${n}`, v);
  for (const [n, v] of projector.params.trainable) params.set(`projector.${n}`, v);
  const byVariable = new Map([...params].map(([n, v]) => [v.name, n]));
  const optimiser = new AdamW(params, {
    weightDecay: 0.05,
    noDecay: (n) =>
      (n.startsWith('encoder.') ? encoder : projector).noDecay(n.replace(/^\w+\./, '')),
  });
  const size = model === 'vit-tiny' ? 32 : 32;
  const x = tf.randomNormal([views * batch, size, size, 3]) as tf.Tensor4D;
  const quad = quadrature();
  // Inference as the studio embeds: the encoder compiled to one ONNX Runtime model where
  // that is on (compute/ort-encoder.ts), else TensorFlow.js. Same images, laid out NCHW.
  const c = await compileEncoder(encoder, ENCODER_PRESETS[model], size, null, threads);
  const compiled = typeof c === 'string' ? null : c;
  const nchw = compiled === null ? null : await toNchw(x);
  const varList = [...params.values()];

  return {
    params: countParams(encoder.params) + countParams(projector.params),
    step() {
      const directions = drawDirections(rng, PROJECTOR_OUT, slices);
      try {
        const { value, grads } = variableGradsLean(() => {
          const h = encoder.apply(x, { training: true });
          const z = projector.apply(h, { training: true });
          const proj = tf.reshape(z, [views, batch, PROJECTOR_OUT]) as tf.Tensor3D;
          const loss = lejepaLoss(proj, views, directions, quad, 0.05);
          tf.dispose([loss.pred, loss.sigreg]);
          return loss.total;
        }, varList);
        const named = new Map<string, tf.Tensor>();
        for (const [v, g] of Object.entries(grads)) named.set(byVariable.get(v) ?? v, g);
        optimiser.apply(named, 1e-3);
        const loss = value.dataSync()[0]!;
        tf.dispose([value, ...Object.values(grads)]);
        return loss;
      } finally {
        directions.dispose();
      }
    },
    embed(n) {
      if (compiled !== null) {
        compiled.forward(nchw!.subarray(0, n * 3 * size * size), n);
        return;
      }
      tf.tidy(() => {
        const part = tf.slice(x, 0, n);
        encoder.apply(part, { training: false }).dataSync();
      });
    },
    dispose() {
      compiled?.dispose();
      encoder.dispose();
      projector.dispose();
      optimiser.dispose?.();
      x.dispose();
    },
  };
}

/** NHWC → NCHW copy of a batch. */
async function toNchw(x: tf.Tensor4D): Promise<Float32Array> {
  const t = tf.transpose(x, [0, 3, 1, 2]);
  const data = Float32Array.from((await t.data()) as Float32Array);
  t.dispose();
  return data;
}

/** SIGReg forward and backward on z [views, n, dim] with `slices` fresh directions, ms. */
function sigregMs(n: number, slices: number, dim: number, views: number): number {
  const rng = new Rng(1);
  const z = tf.randomNormal([views, n, dim]);
  const directions = drawDirections(rng, dim, slices);
  const quad = quadrature();
  const start = performance.now();
  tf.tidy(() => {
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => sigreg(t, directions, quad).loss)(z);
    value.dataSync();
    grad.dataSync();
  });
  const ms = performance.now() - start;
  tf.dispose([z, directions]);
  return ms;
}

/** Kernel time of one step by kernel name (nested kernels counted inside their parent too). */
async function profileStep(setup: Setup): Promise<Record<string, unknown>> {
  const info = await tf.profile(() => {
    setup.step();
  });
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs);
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number.isFinite(ms) ? ms : 0;
    e.calls += 1;
    byName.set(k.name, e);
  }
  const top = [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
  return {
    kernels: info.kernels.length,
    newTensors: info.newTensors,
    newMB: info.newBytes / 2 ** 20,
    peakMB: info.peakBytes / 2 ** 20,
    top: top.map(([name, e]) => ({ name, ms: e.ms, calls: e.calls })),
  };
}

async function main(): Promise<void> {
  const backend = (process.argv[2] ?? 'wasm') as BackendName;
  const threads = Number(process.argv[3] ?? 1);
  // 'xnnpack': the WASM backend's own kernels, without ONNX Runtime (compute/ort-kernels.ts).
  if (process.argv[4] === 'xnnpack') process.env.LEJEPA_ONNXRUNTIME = 'off';
  const info = await startBackend({ prefer: backend, threads });
  let setup: Setup | null = null;
  const reply = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as Request;
    try {
      if (req.op === 'init') {
        setup?.dispose();
        const model = req.model as EncoderPreset;
        setup = await build(
          model,
          Number(req.batch ?? 128),
          Number(req.views ?? 2),
          Number(req.slices ?? 256),
          threads,
        );
        reply({
          params: setup.params,
          backend: info.name,
          threads: info.threads,
          line: info.line,
        });
      } else if (req.op === 'step') {
        const start = performance.now();
        const loss = setup!.step();
        const ms = performance.now() - start;
        reply(
          Number.isFinite(loss)
            ? { ms, loss, tensors: tf.memory().numTensors }
            : { error: 'non-finite loss' },
        );
      } else if (req.op === 'embed') {
        const start = performance.now();
        setup!.embed(Number(req.n ?? 256));
        reply({ ms: performance.now() - start });
      } else if (req.op === 'sigreg') {
        const { n, slices, dim, views } = req as unknown as Record<string, number>;
        reply({ ms: sigregMs(n!, slices!, dim ?? PROJECTOR_OUT, views ?? 1) });
      } else if (req.op === 'profile') {
        reply(await profileStep(setup!));
      } else if (req.op === 'exit') {
        reply({ peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) });
        process.exit(0);
      } else {
        reply({ error: `unknown op ${req.op}` });
      }
    } catch (err) {
      reply({ error: firstLine(err) });
    }
  }
}

await main();
