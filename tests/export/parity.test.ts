import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import type { TensorCacheMeta } from '../../src-main/datasets/tensor-cache.ts';
import { buildExportGraph, type WeightSource } from '../../src-main/engine/export/graph.ts';
import { writeOnnx } from '../../src-main/engine/export/onnx-writer.ts';
import { createEncoder } from '../../src-main/engine/models/index.ts';
import { Rng } from '../../src-main/engine/rng.ts';
import { parityCheck } from '../../src-main/jobs/export-parity.ts';

before(async () => {
  await tf.setBackend('cpu');
});

test('the parity check passes a faithful export and fails a perturbed one with its numbers', async () => {
  const spec = {
    kind: 'resnet' as const,
    inChannels: 3 as const,
    stem: 4,
    widths: [4, 8],
    depths: [1, 1],
  };
  const encoder = createEncoder(spec, new Rng(1));
  // Non-trivial batch-norm statistics, so that folding them into the convolutions matters.
  for (const [name, v] of encoder.params.state) {
    v.assign(
      tf.add(
        tf.abs(tf.randomNormal(v.shape, 0, 0.5, 'float32', 3)),
        name.endsWith('var') ? 0.5 : 0,
      ),
    );
  }
  const source =
    (scale: number): WeightSource =>
    (name) => {
      const v = encoder.params.trainable.get(name) ?? encoder.params.state.get(name)!;
      const data = Float32Array.from(v.dataSync() as Float32Array);
      if (name === 'stage2.block0.conv2.w') for (let i = 0; i < data.length; i++) data[i]! *= scale;
      return { shape: [...v.shape], data };
    };
  const size = 12;
  const count = 70;
  const pixels = Uint8Array.from(new Rng(2).uniformArray(count * size * size * 3), (v) => v * 255);
  const meta = { count, size, channels: 3 } as TensorCacheMeta;
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-parity-'));
  const check = async (scale: number) => {
    const graph = buildExportGraph(spec, size, source(scale), null);
    const path = join(dir, `s${scale}.onnx`);
    writeFileSync(path, writeOnnx(graph, { producerVersion: 'test', metadata: {} }));
    const [report] = await parityCheck({
      encoder,
      projector: null,
      cache: { meta, pixels },
      images: 64,
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      paths: { onnx: path },
      outputName: graph.output.name,
    });
    return report!;
  };
  const good = await check(1);
  assert.equal(good.images, 64);
  assert.ok(good.passed, JSON.stringify(good));
  assert.ok(good.relative < 1e-5);
  const bad = await check(1.01);
  assert.equal(bad.passed, false);
  assert.ok(bad.relative > 1e-4, JSON.stringify(bad));
  assert.ok(bad.maxAbsDiff > 0 && bad.scale > 0);
  encoder.dispose();
});
