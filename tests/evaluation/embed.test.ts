import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { ApiEvent } from '../../src-main/api/events.ts';
import { callMethod } from '../../src-main/api/index.ts';
import {
  beginEmbedding,
  finishEmbedding,
  type EmbeddingRow,
} from '../../src-main/catalog/embeddings.ts';
import type { EvaluationRow, ProjectionRow } from '../../src-main/catalog/evaluation.ts';
import type { RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { Rng } from '../../src-main/engine/rng.ts';
import { embeddingFiles, writeEmbedding } from '../../src-main/jobs/embed-store.ts';
import { importAndFreeze, writeTinyFolder } from '../jobs/fixtures/tiny-dataset.ts';

/** A tiny real run on 3 classes of stripes: 12 train + 4 test images per class. */
const TINY = {
  batch: 12,
  epochs: 2,
  warmupEpochs: 0,
  encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
  projector: { hidden: 16, out: 8 },
  slices: 16,
  backend: 'cpu',
};

let ws: Workspace;
let runId: number;
const events: ApiEvent[] = [];

async function call<T>(method: string, input: unknown): Promise<T> {
  const ctx = { ws, emit: (e: ApiEvent) => events.push(e), signal: new AbortController().signal };
  const reply = await callMethod(ctx, method, input);
  if (!reply.ok) throw Object.assign(new Error(reply.error.message), reply.error);
  return reply.result as T;
}

let folder: string;
before(async () => {
  folder = await writeTinyFolder({ train: 12, test: 4 });
  ws = openWorkspace(mkdtempSync(join(tmpdir(), 'lejepa-embed-')));
  const version = await importAndFreeze(ws, folder);
  const run = await call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: TINY,
  });
  const done = await call<RunRow>('run.wait', { id: run.id });
  assert.equal(done.status, 'completed', done.message ?? '');
  runId = run.id;
});

let closed = false;
after(() => {
  if (!closed) ws.close();
});

test('embedding a version stores a float32 matrix with its index and lineage, then reuses it', async () => {
  const first = await call<EmbeddingRow & { reused: boolean }>('embedding.create', {
    runId,
    batch: 7,
    backend: 'cpu',
  });
  assert.equal(first.status, 'ready');
  assert.equal(first.reused, false);
  assert.equal(first.count, 48);
  assert.equal(first.dim, 8);
  assert.equal(first.checkpointStep, 6);
  assert.equal(first.head, 'backbone');
  const matrix = join(ws.root, first.path!);
  assert.equal(statSync(matrix).size, 48 * 8 * 4);
  const index = JSON.parse(readFileSync(matrix.replace(/\.f32$/, '.json'), 'utf8'));
  assert.equal(index.itemIds.length, 48);
  assert.deepEqual(index.classes, ['class-0', 'class-1', 'class-2']);
  // The lineage, in the catalog row and beside the matrix.
  assert.equal(first.runId, runId);
  assert.deepEqual(
    [index.versionId, index.runId, index.checkpointStep, index.head],
    [first.versionId, runId, 6, 'backbone'],
  );
  assert.match(index.versionHash, /^[0-9a-f]{16,}$/);
  assert.deepEqual([...new Set(index.splits)].sort(), ['test', 'train']);
  const x = new Float32Array(new Uint8Array(readFileSync(matrix)).buffer);
  assert.ok(x.every(Number.isFinite));
  assert.ok(
    x.some((v) => v !== x[0]),
    'rows differ',
  );
  const progress = events.filter((e) => e.type === 'job.progress' && e.kind === 'embed');
  assert.ok(progress.length >= 7, `${progress.length} progress events for 7 batches`);

  const again = await call<EmbeddingRow & { reused: boolean }>('embedding.create', { runId });
  assert.equal(again.reused, true);
  assert.equal(again.id, first.id);

  // A damaged matrix is computed again under the same row.
  rmSync(matrix);
  const redone = await call<EmbeddingRow & { reused: boolean }>('embedding.create', {
    runId,
    backend: 'cpu',
  });
  assert.equal(redone.reused, false);
  assert.equal(redone.id, first.id);
  assert.ok(existsSync(matrix));

  const projected = await call<EmbeddingRow>('embedding.create', {
    runId,
    head: 'projector',
    backend: 'cpu',
  });
  assert.notEqual(projected.id, first.id);
  assert.equal(projected.dim, 8);
});

test('kNN, linear probe and isotropy run on the embedding and are recorded once', async () => {
  const e = (await call<EmbeddingRow[]>('embedding.list', { runId })).find(
    (r) => r.head === 'backbone',
  )!;
  const knn = await call<EvaluationRow & { reused: boolean }>('eval.knn', {
    embeddingId: e.id,
    k: 5,
  });
  const result = knn.result as { accuracy: number; total: number };
  assert.equal(result.total, 12);
  assert.equal(knn.score, result.accuracy);
  assert.deepEqual(knn.params, { k: 5, metric: 'cosine', temperature: 0.07, split: 'test' });
  const again = await call<{ reused: boolean; id: number }>('eval.knn', {
    embeddingId: e.id,
    k: 5,
  });
  assert.equal(again.reused, true);
  assert.equal(again.id, knn.id);

  const probe = await call<EvaluationRow>('eval.probe', { embeddingId: e.id });
  const p = probe.result as { trainAccuracy: number; testAccuracy: number; iterations: number };
  assert.ok(p.trainAccuracy >= 0 && p.trainAccuracy <= 1 && p.iterations >= 1);
  assert.equal(probe.score, p.testAccuracy);

  // This version has no val split: asking for it is refused with a sentence.
  await assert.rejects(call('eval.probe', { embeddingId: e.id, split: 'val' }), (err: Error) => {
    assert.match(err.message, /labelled images in the train split and in the val split/);
    return true;
  });

  const iso = await call<EvaluationRow>('eval.isotropy', { embeddingId: e.id, slices: 16 });
  const r = iso.result as { verdict: string; eigenvalues: number[]; effectiveRank: number };
  assert.ok(['healthy', 'collapsed', 'anisotropic'].includes(r.verdict));
  assert.equal(r.eigenvalues.length, 8);
  assert.equal(iso.score, r.effectiveRank);

  const shown = await call<{ evaluations: EvaluationRow[] }>('embedding.show', { id: e.id });
  assert.deepEqual(shown.evaluations.map((v) => v.kind).sort(), [
    'isotropy',
    'knn',
    'linear_probe',
  ]);

  const rank = await call<{
    runs: { runId: number; probeAccuracy: number | null }[];
    agreement: { runsWithAccuracy: number };
  }>('eval.rank', {});
  assert.equal(rank.runs[0]!.runId, runId);
  assert.equal(rank.runs[0]!.probeAccuracy, probe.score);
  assert.equal(rank.agreement.runsWithAccuracy, 1);
});

test('PCA, k-means and UMAP projections are stored; neighbours of an item come back sorted', async () => {
  const e = (await call<EmbeddingRow[]>('embedding.list', { runId })).find(
    (r) => r.head === 'backbone',
  )!;
  for (const method of ['pca', 'kmeans', 'umap'] as const) {
    const p = await call<ProjectionRow>('projection.create', {
      embeddingId: e.id,
      method,
      k: 3,
      neighbours: 5,
      backend: 'cpu',
    });
    assert.equal(p.status, 'ready');
    const data = await call<{ values: number[]; components: number; itemIds: number[] }>(
      'projection.data',
      { id: p.id },
    );
    assert.equal(data.itemIds.length, 48);
    assert.equal(data.components, method === 'kmeans' ? 1 : 2);
    if (method === 'kmeans') assert.deepEqual([...new Set(data.values)].sort(), [0, 1, 2]);
    else assert.ok(data.values.every(Number.isFinite));
  }
  assert.ok(events.some((ev) => ev.type === 'job.progress' && ev.kind === 'umap'));
  const pca3 = await call<ProjectionRow & { info: { explained: number[] } }>('projection.create', {
    embeddingId: e.id,
    method: 'pca',
    components: 3,
  });
  const coords3 = await call<{ components: number }>('projection.data', { id: pca3.id });
  assert.equal(coords3.components, 3);
  assert.equal(pca3.info.explained.length, 3);
  assert.ok(pca3.info.explained[0]! >= pca3.info.explained[1]!);

  const nn = await call<{ hits: { row: number; score: number; label: string }[] }>(
    'embedding.neighbours',
    { embeddingId: e.id, row: 0, k: 5 },
  );
  assert.equal(nn.hits.length, 5);
  assert.ok(nn.hits.every((h) => h.row !== 0));
  for (let i = 1; i < 5; i++) assert.ok(nn.hits[i - 1]!.score >= nn.hits[i]!.score);

  // An image file embedded with the same checkpoint finds its own copy first.
  const up = await call<{ hits: { score: number; label: string }[] }>('embedding.neighbours', {
    embeddingId: e.id,
    imagePath: join(folder, 'test', 'class-1', '2.png'),
    k: 3,
  });
  assert.ok(up.hits[0]!.score > 0.9999, `self similarity ${up.hits[0]!.score}`);
  assert.equal(up.hits[0]!.label, 'class-1');
});

/** Calls a method and aborts it at the first progress event of the given job kind. */
async function callAndCancel(method: string, input: unknown, kind: string) {
  const controller = new AbortController();
  const emit = (e: ApiEvent) => {
    if (e.type === 'job.progress' && e.kind === kind) controller.abort();
  };
  return callMethod({ ws, emit, signal: controller.signal }, method, input);
}

test('a cancelled embedding is recorded as cancelled and computed afresh when asked again', async () => {
  const reply = await callAndCancel(
    'embedding.create',
    { runId, step: 3, batch: 1, backend: 'cpu' },
    'embed',
  );
  assert.equal(reply.ok, false, 'the embedding finished before the cancel');
  if (!reply.ok) assert.equal(reply.error.kind, 'cancelled', reply.error.message);
  const row = (await call<EmbeddingRow[]>('embedding.list', { runId })).find(
    (r) => r.checkpointStep === 3,
  )!;
  assert.equal(row.status, 'cancelled');
  assert.ok(!existsSync(join(ws.root, 'embeddings', `e${row.id}.f32`)), 'no matrix was written');

  const again = await call<EmbeddingRow & { reused: boolean }>('embedding.create', {
    runId,
    step: 3,
    backend: 'cpu',
  });
  assert.equal(again.id, row.id);
  assert.equal(again.reused, false);
  assert.equal(again.status, 'ready');
});

test('UMAP replays with its seed, and a cancelled UMAP is recorded as cancelled', async () => {
  const e = (await call<EmbeddingRow[]>('embedding.list', { runId })).find(
    (r) => r.head === 'backbone' && r.checkpointStep === 6,
  )!;
  const layout = async (seed: number, force: boolean) => {
    const p = await call<ProjectionRow & { reused: boolean }>('projection.create', {
      embeddingId: e.id,
      method: 'umap',
      neighbours: 5,
      seed,
      force,
      backend: 'cpu',
    });
    assert.equal(p.reused, false);
    return (await call<{ values: number[] }>('projection.data', { id: p.id })).values;
  };
  const first = await layout(7, false);
  assert.deepEqual(await layout(7, true), first, 'the same seed computed again');
  assert.notDeepEqual(await layout(8, false), first, 'another seed');

  // A larger stored embedding (3,000 × 16, seeded Gaussian blobs) keeps UMAP busy long enough.
  const n = 3000;
  const dim = 16;
  const lineage = {
    versionId: e.versionId,
    runId,
    checkpointStep: 999,
    head: 'backbone' as const,
    imageSize: 28,
    channels: 1,
  };
  const big = beginEmbedding(ws.db, lineage, 'synthetic-3000');
  const files = embeddingFiles(ws.path('embeddings'), big.id);
  const rng = new Rng(9);
  const x = Float32Array.from(
    rng.normalArray(n * dim),
    (v, i) => v + (Math.floor(i / dim) % 5) * 4,
  );
  writeEmbedding(
    files,
    {
      format: 1,
      count: n,
      dim,
      versionId: e.versionId,
      versionHash: 'synthetic',
      runId,
      checkpointStep: 999,
      head: 'backbone',
      imageSize: 28,
      channels: 1,
      classes: [],
      itemIds: Array.from({ length: n }, (_, i) => i + 1),
      labels: Array<number>(n).fill(-1),
      splits: Array<'train'>(n).fill('train'),
    },
    x,
  );
  finishEmbedding(ws.db, big.id, {
    path: `embeddings/e${big.id}.f32`,
    count: n,
    dim,
    backend: 'cpu',
    seconds: 0,
  });
  const reply = await callAndCancel(
    'projection.create',
    { embeddingId: big.id, method: 'umap', backend: 'cpu' },
    'umap',
  );
  assert.equal(reply.ok, false, 'UMAP finished before the cancel');
  if (!reply.ok) assert.equal(reply.error.kind, 'cancelled', reply.error.message);
  const shown = await call<{ projections: ProjectionRow[] }>('embedding.show', { id: big.id });
  assert.deepEqual(
    shown.projections.map((p) => [p.method, p.status]),
    [['umap', 'cancelled']],
  );
});

test('the CLI evaluates and diagnoses a stored embedding', () => {
  const e = ws.db.prepare("SELECT id FROM embeddings WHERE head = 'backbone'").get() as {
    id: number;
  };
  ws.close();
  closed = true;
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/lejepa-studio.mjs', ...args, '--workspace', ws.root], {
      encoding: 'utf8',
    });
  const evaluated = cli('evaluate', '--embedding', String(e.id), '--k', '5');
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stdout + evaluated.stderr, /kNN \(k 5, cosine\) on test: \d+\.\d\d %/);
  assert.match(evaluated.stdout + evaluated.stderr, /linear probe on test: \d+\.\d\d %/);
  const iso = cli('isotropy', '--embedding', String(e.id), '--slices', '16', '--json');
  assert.equal(iso.status, 0, iso.stderr);
  const reply = JSON.parse(iso.stdout) as { ok: boolean; result: { kind: string } };
  assert.equal(reply.ok, true);
  assert.equal(reply.result.kind, 'isotropy');
  const bad = cli('neighbours', '--embedding', String(e.id), '--row', '999');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /Row 999 is outside embedding \d+, whose rows are 0 to 47\./);

  // Computed again, each step draws progress under its own label.
  const forced = cli('evaluate', '--embedding', String(e.id), '--k', '5', '--force');
  assert.equal(forced.status, 0, forced.stderr);
  const lines = forced.stderr.split('\n');
  assert.ok(lines.includes('kNN: 100%'), forced.stderr);
  assert.ok(
    lines.some((l) => /^linear probe \(L-BFGS iterations\): \d+%$/.test(l)),
    forced.stderr,
  );
  assert.ok(!lines.some((l) => /^kNN: \d\d?%$/.test(l)), 'probe progress drawn as kNN');
  assert.match(forced.stdout + forced.stderr, /linear probe on test: .*(converged|L-BFGS)/);
});
