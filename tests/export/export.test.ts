import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import * as ort from 'onnxruntime-node';

import type { ApiEvent } from '../../src-main/api/events.ts';
import { callMethod } from '../../src-main/api/index.ts';
import type { ExportRow } from '../../src-main/catalog/exports.ts';
import type { RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, writeTinyFolder } from '../jobs/fixtures/tiny-dataset.ts';

/** 3 classes × (20 train + 4 test) = 72 grey 28×28 images: enough for a 64-image parity check. */
const BASE = {
  batch: 12,
  epochs: 1,
  warmupEpochs: 0,
  projector: { hidden: 16, out: 8 },
  slices: 16,
  backend: 'cpu',
};
const RESNET = { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] };
const VIT = {
  kind: 'vit',
  inChannels: 1,
  imageSize: 28,
  patch: 7,
  dim: 16,
  depth: 1,
  heads: 2,
  mlpRatio: 2,
};

let ws: Workspace;
let version: number;

async function call<T>(method: string, input: unknown): Promise<T> {
  const ctx = { ws, emit: (_e: ApiEvent) => {}, signal: new AbortController().signal };
  const reply = await callMethod(ctx, method, input);
  if (!reply.ok) throw Object.assign(new Error(reply.error.message), reply.error);
  return reply.result as T;
}

async function train(encoder: { kind: string }): Promise<number> {
  // A ViT takes one input size, so every view is made at the image size.
  const views = encoder.kind === 'vit' ? { views: { globalSize: 28, localSize: 28 } } : {};
  const run = await call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: { ...BASE, encoder, ...views },
  });
  const done = await call<RunRow>('run.wait', { id: run.id });
  assert.equal(done.status, 'completed', done.message ?? '');
  return run.id;
}

before(async () => {
  await tf.setBackend('cpu');
  const folder = await writeTinyFolder({ train: 20, test: 4 });
  ws = openWorkspace(mkdtempSync(join(tmpdir(), 'lejepa-export-')));
  version = await importAndFreeze(ws, folder);
});

after(() => ws.close());

/** Reloads both files from disk and runs them on the same normalised batch. */
async function reload(dir: string, dim: number) {
  const x = tf.randomNormal([3, 28, 28, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  const session = await ort.InferenceSession.create(readFileSync(join(dir, 'encoder.onnx')));
  const nchw = tf.transpose(x, [0, 3, 1, 2]).dataSync() as Float32Array;
  const onnxOut = await session.run({ input: new ort.Tensor('float32', nchw, [3, 1, 28, 28]) });
  const a = onnxOut[session.outputNames[0]!]!;
  assert.deepEqual(a.dims, [3, dim]);
  await session.release();

  const json = JSON.parse(readFileSync(join(dir, 'tfjs', 'model.json'), 'utf8'));
  const bin = readFileSync(join(dir, 'tfjs', 'weights.bin'));
  const model = await loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      format: json.format,
    }),
  );
  const b = (model.predict(x) as tf.Tensor).dataSync();
  assert.equal(b.length, 3 * dim);
  // The two formats agree with each other on inputs the parity check never saw.
  const av = a.data as Float32Array;
  let max = 0;
  for (let i = 0; i < b.length; i++) max = Math.max(max, Math.abs(av[i]! - b[i]!));
  assert.ok(max < 1e-4, `ONNX vs TF.js ${max}`);
  assert.ok(json.userDefinedMetadata['lejepa.preprocessing'].includes('pixel / 255'));
  return json;
}

for (const [name, encoder, dim, withProjector] of [
  ['ResNet', RESNET, 8, false],
  ['ViT with its projector', VIT, 8, true],
] as const) {
  test(`a trained ${name} exports to ONNX and TF.js that reload and match the studio`, async () => {
    const runId = await train(encoder);
    const row = await call<ExportRow>('export.create', { runId, format: 'all', withProjector });
    assert.equal(row.status, 'passed', row.message ?? '');
    const parity = row.parity as {
      format: string;
      images: number;
      relative: number;
      passed: boolean;
    }[];
    assert.deepEqual(
      parity.map((p) => p.format),
      ['onnx', 'tfjs'],
    );
    for (const p of parity) {
      assert.equal(p.images, 64);
      assert.ok(p.passed && p.relative <= 1e-4, JSON.stringify(p));
    }
    const dir = join(ws.root, row.dir);
    for (const f of [
      'encoder.onnx',
      'tfjs/model.json',
      'tfjs/weights.bin',
      'model-card.json',
      'model-card.md',
    ]) {
      assert.ok(existsSync(join(dir, f)), f);
    }
    const card = JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8'));
    assert.equal(card.checkpointStep, 5);
    assert.equal(card.input.size, 28);
    assert.equal(card.output.head, withProjector ? 'projector' : 'backbone');
    assert.match(card.datasetVersionHash, /^[0-9a-f]{16,}$/);
    assert.match(readFileSync(join(dir, 'model-card.md'), 'utf8'), /## Parity check/);
    await reload(dir, dim);
    const listed = await call<ExportRow[]>('export.list', { runId });
    assert.equal(listed[0]!.id, row.id);
  });
}
