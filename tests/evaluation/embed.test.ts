import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { ApiEvent } from '../../src-main/api/events.ts';
import { callMethod } from '../../src-main/api/index.ts';
import type { EmbeddingRow } from '../../src-main/catalog/embeddings.ts';
import type { EvaluationRow, ProjectionRow } from '../../src-main/catalog/evaluation.ts';
import type { RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
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
  assert.match(bad.stderr, /not in embedding/);
});
