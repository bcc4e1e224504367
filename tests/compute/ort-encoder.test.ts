// Embedding through the compiled encoder (one ONNX Runtime model) must give the features the
// encoder gives in TensorFlow.js: ResNet and ViT, with and without the projector, with batch-norm
// statistics that are not the initial ones (the compiled graph folds them), for a chosen subset
// of rows across several batches. Without ONNX Runtime the compiler says why and embedding
// stays with TensorFlow.js.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { compileEncoder } from '../../src-main/compute/ort-encoder.ts';
import { startBackend } from '../../src-main/compute/start-backend.ts';
import { embed } from '../../src-main/engine/eval/embed.ts';
import { createEncoder, createProjector } from '../../src-main/engine/models/index.ts';
import type { EncoderSpec } from '../../src-main/engine/models/types.ts';
import { Rng } from '../../src-main/engine/rng.ts';
import { worstDifference } from './compare.ts';

const SPECS: { name: string; spec: EncoderSpec; size: number; channels: number }[] = [
  {
    name: 'resnet',
    spec: { kind: 'resnet', inChannels: 3, stem: 8, widths: [8, 16, 24], depths: [1, 2, 1] },
    size: 20,
    channels: 3,
  },
  {
    name: 'vit',
    spec: {
      kind: 'vit',
      inChannels: 1,
      imageSize: 16,
      patch: 4,
      dim: 24,
      depth: 2,
      heads: 2,
      mlpRatio: 2,
    },
    size: 16,
    channels: 1,
  },
];

/** Moves every batch-norm statistic away from its initial value, as training would. */
function perturbState(params: { state: Map<string, tf.Variable> }, rng: Rng): void {
  for (const [name, v] of params.state) {
    const values = rng.normalArray(v.size).map((x) => (name.endsWith('.var') ? 0.5 + x * x : x));
    v.assign(tf.tensor(values, v.shape));
  }
}

function worstRelative(a: Float32Array, b: Float32Array): number {
  const { worst, scale } = worstDifference(a, b);
  return worst / scale;
}

for (const { name, spec, size, channels } of SPECS) {
  test(`compiled ${name} encoder embeds as TensorFlow.js does`, async () => {
    await startBackend({ prefer: 'wasm', threads: 2 });
    const rng = new Rng(5);
    const encoder = createEncoder(spec, rng);
    const projector = createProjector({ inDim: encoder.featureDim, hidden: 16, out: 8 }, rng);
    perturbState(encoder.params, rng);
    perturbState(projector.params, rng);
    const count = 37;
    const pixels = Uint8Array.from({ length: count * size * size * channels }, () =>
      Math.floor(rng.uniform() * 256),
    );
    const block = { pixels, count, size, channels };
    const mean = Array.from({ length: channels }, (_, c) => 0.4 + 0.05 * c);
    const std = Array.from({ length: channels }, (_, c) => 0.25 + 0.02 * c);
    const rows = [36, 0, 5, 5, 17, 30, 2, 11, 29, 8, 23];
    const base = { batch: 4, mean, std, rows };
    try {
      for (const head of [null, projector]) {
        const compiled = await compileEncoder(encoder, spec, size, head, 2);
        assert.notEqual(typeof compiled, 'string', String(compiled));
        if (typeof compiled === 'string') return;
        try {
          const applyHead = head
            ? { head: (f: tf.Tensor2D) => head.apply(f, { training: false }) }
            : {};
          const want = (await embed(encoder, block, { ...base, ...applyHead }))!;
          let calls = 0;
          const forward = (x: Float32Array, n: number) => {
            calls++;
            return compiled.forward(x, n);
          };
          const got = (await embed(encoder, block, { ...base, forward }))!;
          assert.equal(calls, Math.ceil(rows.length / base.batch), 'one compiled call per batch');
          assert.equal(got.length, rows.length * (head ? 8 : encoder.featureDim));
          const rel = worstRelative(got, want);
          assert.ok(rel < 1e-4, `${name}${head ? ' + projector' : ''}: relative difference ${rel}`);
        } finally {
          compiled.dispose();
        }
      }
    } finally {
      encoder.dispose();
      projector.dispose();
    }
  });
}

test('without ONNX Runtime the compiler gives its reason', async () => {
  await startBackend({ prefer: 'wasm', threads: 1 });
  const { spec, size } = SPECS[0]!;
  const encoder = createEncoder(spec, new Rng(1));
  const saved = process.env.LEJEPA_ONNXRUNTIME;
  process.env.LEJEPA_ONNXRUNTIME = 'off';
  try {
    const compiled = await compileEncoder(encoder, spec, size, null, 1);
    assert.equal(typeof compiled, 'string');
    assert.match(String(compiled), /LEJEPA_ONNXRUNTIME=off/);
  } finally {
    if (saved === undefined) delete process.env.LEJEPA_ONNXRUNTIME;
    else process.env.LEJEPA_ONNXRUNTIME = saved;
    encoder.dispose();
  }
});
