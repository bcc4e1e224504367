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
import type { EmbeddingRow } from '../../src-main/catalog/embeddings.ts';
import type { EvaluationRow } from '../../src-main/catalog/evaluation.ts';
import { getRun, type RunRow } from '../../src-main/catalog/runs.ts';
import { getVersion } from '../../src-main/catalog/versions.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, writeTinyFolder } from '../jobs/fixtures/tiny-dataset.ts';
import { readOnnxFacts } from './onnx-read.ts';

const STUDIO_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

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
    // An evaluated checkpoint: its kNN accuracy goes into the model card.
    const emb = await call<EmbeddingRow>('embedding.create', { runId, backend: 'cpu' });
    const knn = await call<EvaluationRow>('eval.knn', {
      embeddingId: emb.id,
      k: 5,
      backend: 'cpu',
    });
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
    // Every fact the card promises: architecture, input size and normalisation,
    // training configuration, dataset version hash, metrics, studio version.
    const config = getRun(ws.db, runId)!.config as {
      lambda: number;
      views: { mean: number[]; std: number[] };
    };
    const hash = getVersion(ws.db, version)!.contentHash;
    assert.equal(card.studioVersion, STUDIO_VERSION);
    assert.equal(card.architecture.spec.kind, encoder.kind);
    assert.ok(card.architecture.parameters > 100, `${card.architecture.parameters} parameters`);
    assert.equal(card.input.channels, 1);
    assert.deepEqual(card.input.preprocessing.mean, config.views.mean);
    assert.deepEqual(card.input.preprocessing.std, config.views.std);
    assert.deepEqual(card.trainingConfig, config);
    assert.equal(card.datasetVersionHash, hash);
    assert.ok(Number.isFinite(card.metrics.finalLoss), `final loss ${card.metrics.finalLoss}`);
    assert.equal(card.metrics.knnAccuracy, knn.score);
    assert.equal(card.metrics.probeAccuracy, null);
    assert.equal(card.output.dim, dim);
    const md = readFileSync(join(dir, 'model-card.md'), 'utf8');
    for (const needle of [
      `LeJEPA Studio ${STUDIO_VERSION}`,
      encoder.kind === 'vit' ? 'Vision Transformer' : 'ResNet',
      '28×28 pixels, 1 channel',
      `mean ${JSON.stringify(config.views.mean)} and std ${JSON.stringify(config.views.std)}`,
      hash,
      `"lambda": ${config.lambda}`,
      `Trained with LeJEPA: λ ${config.lambda}, slices `,
      `kNN accuracy ${(knn.score! * 100).toFixed(2)} %`,
      '## Parity check',
    ]) {
      assert.ok(md.includes(needle), `model-card.md lacks ${needle}`);
    }

    // The ONNX file itself: opset 17 or newer, standard operators, preprocessing in its metadata.
    const onnx = readOnnxFacts(new Uint8Array(readFileSync(join(dir, 'encoder.onnx'))));
    const opset = onnx.opsets.find((o) => o.domain === '');
    assert.ok(opset !== undefined && opset.version >= 17, JSON.stringify(onnx.opsets));
    assert.equal(onnx.opsets.length, 1, 'only the default operator set');
    assert.equal(onnx.producerVersion, STUDIO_VERSION);
    assert.ok(onnx.operators.length > 5, onnx.operators.join(' '));
    const pre = JSON.parse(onnx.metadata['lejepa.preprocessing']!) as {
      mean: number[];
      std: number[];
    };
    assert.deepEqual([pre.mean, pre.std], [config.views.mean, config.views.std]);
    assert.equal(onnx.metadata['lejepa.input_layout'], 'NCHW');
    assert.equal(onnx.metadata['lejepa.input_size'], '28');
    assert.equal(onnx.metadata['lejepa.dataset_version_hash'], hash);
    assert.equal(onnx.metadata['lejepa.output'], withProjector ? 'projector' : 'backbone');
    await reload(dir, dim);
    const listed = await call<ExportRow[]>('export.list', { runId });
    assert.equal(listed[0]!.id, row.id);
  });
}
