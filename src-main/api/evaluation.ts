/**
 * `embedding.*`, `eval.*`, `projection.*` and `export.*`: what a trained
 * encoder sees (embeddings of a dataset version, kNN and linear-probe accuracy,
 * isotropy diagnostics, label-free ranking of runs, PCA/UMAP/k-means, nearest
 * neighbours) and taking it out of the studio. Heavy work runs in job
 * processes; these methods record results in the catalog and reuse them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

import { z } from 'zod';

import { getEmbedding, listEmbeddings, type EmbeddingRow } from '../catalog/embeddings.ts';
import {
  beginProjection,
  endProjection,
  findEvaluation,
  getProjection,
  listEvaluations,
  listProjections,
  paramsKey,
  saveEvaluation,
  type EvaluationKind,
  type EvaluationRow,
} from '../catalog/evaluation.ts';
import { listMetrics, listRuns } from '../catalog/runs.ts';
import type { Workspace } from '../catalog/workspace.ts';
import {
  buildNeighbourIndex,
  type NeighbourIndex,
  type NeighbourMetric,
} from '../engine/eval/neighbours.ts';
import { rankRuns, spearman } from '../engine/eval/ranking.ts';
import { getExport, listExports } from '../catalog/exports.ts';
import { awaitJob, embedDataset, loadEmbedding, runCheckpoint } from '../jobs/embed.ts';
import type { EmbedImageInput } from '../jobs/embed-image-job.ts';
import { exportRun } from '../jobs/export.ts';
import type { EvalJobInput, EvalJobResult } from '../jobs/embed-eval-job.ts';
import { embeddingFiles, type EmbeddingIndex, type StoredEmbedding } from '../jobs/embed-store.ts';
import type { ProjectJobInput, ProjectJobResult } from '../jobs/project-job.ts';

import { expected } from './errors.ts';
import { defineMethod, type ApiContext, type MethodDef } from './method.ts';

const Id = z.number().int().min(1);
const Split = z.enum(['val', 'test']);
const Backend = z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']);

/** The item index of a ready embedding (its status is checked first, with a sentence). */
function readIndex(ws: Workspace, id: number): EmbeddingIndex {
  readyEmbedding(ws, id);
  const files = embeddingFiles(ws.path('embeddings'), id);
  if (!existsSync(files.index)) {
    throw expected(
      'embedding_missing',
      `The files of embedding ${id} are missing. Compute it again with \`lejepa-studio embed\`.`,
    );
  }
  return JSON.parse(readFileSync(files.index, 'utf8')) as EmbeddingIndex;
}

function readyEmbedding(ws: Workspace, id: number): EmbeddingRow {
  const row = getEmbedding(ws.db, id);
  if (row === undefined) {
    throw expected(
      'embedding_not_found',
      `There is no embedding ${id}. List them with \`lejepa-studio embeddings\`.`,
    );
  }
  if (row.status !== 'ready') {
    throw expected(
      'embedding_not_ready',
      `Embedding ${id} is ${row.status}${row.message ? ` (${row.message.replace(/\.$/, '')})` : ''}. Compute it again with \`lejepa-studio embed\`.`,
    );
  }
  return row;
}

/** The evaluation split: the one asked for, else test when it has rows, else val. */
function pickSplit(index: EmbeddingIndex, wanted: 'val' | 'test' | undefined): 'val' | 'test' {
  if (wanted !== undefined) return wanted;
  return index.splits.includes('test') ? 'test' : 'val';
}

/** Runs (or finds) one evaluation of an embedding in a job process. */
async function evaluate(
  ctx: ApiContext,
  embeddingId: number,
  kind: EvaluationKind,
  params: Record<string, unknown>,
  force: boolean,
  backend: string | undefined,
): Promise<EvaluationRow & { reused: boolean }> {
  readyEmbedding(ctx.ws, embeddingId);
  const key = paramsKey(params);
  const old = findEvaluation(ctx.ws.db, embeddingId, kind, key);
  if (old !== undefined && !force) return { ...old, reused: true };
  const input = {
    files: embeddingFiles(ctx.ws.path('embeddings'), embeddingId),
    kind,
    params,
    ...(backend ? { backend } : {}),
  } as EvalJobInput;
  const r = await awaitJob<EvalJobResult>(
    new URL('../jobs/embed-eval-job.ts', import.meta.url),
    input,
    kind,
    (e) => ctx.emit(e),
    ctx.signal,
    'evaluation',
  );
  const row = saveEvaluation(ctx.ws.db, {
    embeddingId,
    kind,
    paramsKey: key,
    params,
    score: r.score,
    result: r.result,
    seconds: r.seconds,
  });
  return { ...row, reused: false };
}

const labelOf = (index: EmbeddingIndex, row: number): string | null =>
  index.labels[row]! >= 0 ? index.classes[index.labels[row]!]! : null;

/**
 * The matrices and neighbour indexes of the embeddings asked about most recently,
 * kept while the api process lives, so that a click in the scatter does not read the
 * matrix again (an index over 100k items builds in ~1 s). Each entry holds the matrix
 * and a copy per metric, so only a few are kept; the oldest is dropped first. The
 * finish time is part of the key: an embedding computed again is loaded afresh.
 */
const searchable = new Map<
  string,
  { stored: StoredEmbedding; byMetric: Map<NeighbourMetric, NeighbourIndex> }
>();
const KEPT_EMBEDDINGS = 2;

function searchableEmbedding(ws: Workspace, emb: EmbeddingRow) {
  const key = `${emb.id}:${emb.finishedAt}`;
  let entry = searchable.get(key);
  if (entry === undefined) {
    const { x, index } = loadEmbedding(ws, emb.id);
    entry = { stored: { x, index }, byMetric: new Map() };
    if (searchable.size >= KEPT_EMBEDDINGS) searchable.delete(searchable.keys().next().value!);
    searchable.set(key, entry);
  }
  return entry;
}

const embeddingMethods: MethodDef[] = [
  defineMethod({
    name: 'embedding.create',
    summary: 'Embed a dataset version with a checkpoint of a run (reused when already stored).',
    writes: true,
    input: z
      .object({
        runId: Id,
        step: z.number().int().min(0).optional(),
        versionId: Id.optional(),
        head: z.enum(['backbone', 'projector']).default('backbone'),
        batch: z.number().int().min(1).max(4096).default(256),
        backend: Backend.optional(),
      })
      .strict(),
    run: (ctx, input) => embedDataset(ctx.ws, input, (e) => ctx.emit(e), ctx.signal),
  }),
  defineMethod({
    name: 'embedding.list',
    summary: 'Embeddings in the catalog, newest first.',
    writes: false,
    input: z.object({ runId: Id.optional(), versionId: Id.optional() }).strict(),
    run: (ctx, input) => listEmbeddings(ctx.ws.db, input),
  }),
  defineMethod({
    name: 'embedding.show',
    summary: 'One embedding with its evaluations and projections.',
    writes: false,
    input: z.object({ id: Id }).strict(),
    run: (ctx, { id }) => {
      const embedding = getEmbedding(ctx.ws.db, id);
      if (embedding === undefined) {
        throw expected(
          'embedding_not_found',
          `There is no embedding ${id}. List them with \`lejepa-studio embeddings\`.`,
        );
      }
      return {
        embedding,
        evaluations: listEvaluations(ctx.ws.db, id),
        projections: listProjections(ctx.ws.db, id),
      };
    },
  }),
  defineMethod({
    name: 'embedding.neighbours',
    summary: 'Nearest neighbours of an item (by item id or row) in an embedding.',
    writes: false,
    input: z
      .object({
        embeddingId: Id,
        itemId: Id.optional(),
        row: z.number().int().min(0).optional(),
        /** An image file (an upload): embedded with the embedding's checkpoint first. */
        imagePath: z.string().min(1).optional(),
        k: z.number().int().min(1).max(1000).default(10),
        metric: z.enum(['cosine', 'euclidean']).default('cosine'),
      })
      .strict()
      .refine((v) => [v.itemId, v.row, v.imagePath].filter((a) => a !== undefined).length === 1, {
        error: 'give exactly one of itemId, row and imagePath',
      }),
    run: async (ctx, input) => {
      const emb = readyEmbedding(ctx.ws, input.embeddingId);
      const entry = searchableEmbedding(ctx.ws, emb);
      const { x, index } = entry.stored;
      let query: Float32Array;
      let row = -1;
      if (input.imagePath !== undefined) {
        if (emb.runId === null) {
          throw expected(
            'no_encoder',
            `Embedding ${emb.id} has no run whose encoder could embed an image.`,
          );
        }
        const { config, checkpoint } = runCheckpoint(ctx.ws, emb.runId, emb.checkpointStep);
        const vector = await awaitJob<number[]>(
          new URL('../jobs/embed-image-job.ts', import.meta.url),
          {
            imagePath: resolve(input.imagePath),
            checkpoint: checkpoint.path,
            config,
            head: emb.head,
          } satisfies EmbedImageInput,
          'embed-image',
          (e) => ctx.emit(e),
          ctx.signal,
          'image embedding',
        );
        query = Float32Array.from(vector);
      } else {
        row = input.row ?? index.itemIds.indexOf(input.itemId!);
        query = x.subarray(row * index.dim, (row + 1) * index.dim);
      }
      if (input.imagePath === undefined && (row < 0 || row >= index.count)) {
        throw expected(
          'item_not_in_embedding',
          input.itemId !== undefined
            ? `Item ${input.itemId} is not in embedding ${input.embeddingId}. Pick an item of its dataset version.`
            : `Row ${row} is outside embedding ${input.embeddingId}, whose rows are 0 to ${index.count - 1}. Pick a row in that range.`,
        );
      }
      let nn = entry.byMetric.get(input.metric);
      if (nn === undefined) {
        nn = buildNeighbourIndex({ x, n: index.count, d: index.dim }, { metric: input.metric });
        entry.byMetric.set(input.metric, nn);
      }
      const t0 = performance.now();
      const hits = nn.query(query, input.k, row);
      const ms = performance.now() - t0;
      return {
        query:
          row >= 0
            ? { row, itemId: index.itemIds[row], label: labelOf(index, row) }
            : { image: input.imagePath },
        index: nn.kind,
        metric: input.metric,
        ms,
        hits: Array.from(hits.indices, (r, i) => ({
          row: r,
          itemId: index.itemIds[r],
          label: labelOf(index, r),
          split: index.splits[r],
          score: hits.scores[i],
        })),
      };
    },
  }),
];

const evalMethods: MethodDef[] = [
  defineMethod({
    name: 'eval.knn',
    summary: 'kNN accuracy of an embedding: train split as memory, val or test as queries.',
    writes: true,
    input: z
      .object({
        embeddingId: Id,
        k: z.number().int().min(1).max(1000).default(20),
        metric: z.enum(['cosine', 'euclidean']).default('cosine'),
        temperature: z.number().positive().max(10).default(0.07),
        split: Split.optional(),
        force: z.boolean().default(false),
        backend: Backend.optional(),
      })
      .strict(),
    run: (ctx, { embeddingId, force, backend, split, ...p }) => {
      const params = { ...p, split: pickSplit(readIndex(ctx.ws, embeddingId), split) };
      return evaluate(ctx, embeddingId, 'knn', params, force, backend);
    },
  }),
  defineMethod({
    name: 'eval.probe',
    summary: 'Linear-probe accuracy (logistic regression on standardised features, L-BFGS).',
    writes: true,
    input: z
      .object({
        embeddingId: Id,
        l2: z.number().min(0).max(10).default(1e-4),
        maxIter: z.number().int().min(1).max(5000).default(500),
        split: Split.optional(),
        force: z.boolean().default(false),
        backend: Backend.optional(),
      })
      .strict(),
    run: (ctx, { embeddingId, force, backend, split, ...p }) => {
      const params = { ...p, split: pickSplit(readIndex(ctx.ws, embeddingId), split) };
      return evaluate(ctx, embeddingId, 'linear_probe', params, force, backend);
    },
  }),
  defineMethod({
    name: 'eval.isotropy',
    summary: 'Isotropy diagnostics: spectrum, effective rank, Epps–Pulley per slice, verdict.',
    writes: true,
    input: z
      .object({
        embeddingId: Id,
        slices: z.number().int().min(1).max(4096).default(256),
        sampleRows: z.number().int().min(10).max(1_000_000).default(10_000),
        seed: z.number().int().min(0).default(0),
        force: z.boolean().default(false),
      })
      .strict(),
    run: (ctx, { embeddingId, force, ...params }) =>
      evaluate(ctx, embeddingId, 'isotropy', params, force, undefined),
  }),
  defineMethod({
    name: 'eval.rank',
    summary: 'Label-free ranking of runs by final loss / λ^0.4, and its agreement with accuracy.',
    writes: false,
    input: z.object({ last: z.number().int().min(1).max(1000).default(10) }).strict(),
    run: (ctx, { last }) => rankWorkspaceRuns(ctx.ws, last),
  }),
];

/**
 * Scores every run that has metrics: the mean total loss of its last `last`
 * steps (one step is noisy), and that divided by λ^0.4. Where runs also have a
 * linear-probe (else kNN) accuracy, Spearman's ρ between score and accuracy:
 * lower loss predicting higher accuracy shows as a negative ρ.
 */
export function rankWorkspaceRuns(ws: Workspace, last: number) {
  const probe = new Map<number, number>();
  const knn = new Map<number, number>();
  for (const e of listEvaluations(ws.db)) {
    const emb = getEmbedding(ws.db, e.embeddingId);
    if (emb?.runId == null || e.score === null) continue;
    const target = e.kind === 'linear_probe' ? probe : e.kind === 'knn' ? knn : null;
    if (target === null) continue;
    target.set(emb.runId, Math.max(target.get(emb.runId) ?? -Infinity, e.score));
  }
  const losses = [];
  const names = new Map<number, string>();
  for (const run of listRuns(ws.db)) {
    const metrics = listMetrics(ws.db, run.id);
    if (metrics.length === 0) continue;
    const tail = metrics.slice(-last);
    const loss = tail.reduce((s, m) => s + m.total, 0) / tail.length;
    const lambda = (run.config as { lambda?: number }).lambda ?? NaN;
    if (!(lambda > 0)) continue;
    names.set(run.id, run.name);
    losses.push({ runId: run.id, loss, lambda });
  }
  const ranked = rankRuns(losses).map((r) => ({
    ...r,
    name: names.get(r.runId)!,
    probeAccuracy: probe.get(r.runId) ?? null,
    knnAccuracy: knn.get(r.runId) ?? null,
  }));
  const withAcc = ranked
    .map((r) => ({ ...r, acc: r.probeAccuracy ?? r.knnAccuracy }))
    .filter((r) => r.acc !== null);
  const acc = withAcc.map((r) => r.acc!);
  return {
    runs: ranked,
    agreement: {
      runsWithAccuracy: withAcc.length,
      spearmanLoss: spearman(
        withAcc.map((r) => r.loss),
        acc,
      ),
      spearmanScaledLoss: spearman(
        withAcc.map((r) => r.scaledLoss),
        acc,
      ),
    },
  };
}

const projectionMethods: MethodDef[] = [
  defineMethod({
    name: 'projection.create',
    summary: 'PCA, UMAP (seeded, with progress) or k-means clusters of an embedding.',
    writes: true,
    input: z
      .object({
        embeddingId: Id,
        method: z.enum(['pca', 'umap', 'kmeans']),
        components: z.union([z.literal(2), z.literal(3)]).default(2),
        neighbours: z.number().int().min(2).max(200).default(15),
        minDist: z.number().min(0).max(1).default(0.1),
        k: z.number().int().min(1).max(1000).default(10),
        seed: z.number().int().min(0).default(0),
        force: z.boolean().default(false),
        backend: Backend.optional(),
      })
      .strict(),
    run: async (ctx, input) => {
      readyEmbedding(ctx.ws, input.embeddingId);
      const { method, embeddingId } = input;
      const params =
        method === 'pca'
          ? { components: input.components }
          : method === 'kmeans'
            ? { k: input.k, seed: input.seed }
            : {
                components: input.components,
                neighbours: input.neighbours,
                minDist: input.minDist,
                seed: input.seed,
              };
      const existing = listProjections(ctx.ws.db, embeddingId).find(
        (p) => p.method === method && p.paramsKey === paramsKey(params),
      );
      if (existing?.status === 'ready' && existing.path && !input.force) {
        if (existsSync(resolve(ctx.ws.root, existing.path))) return { ...existing, reused: true };
      }
      const row = beginProjection(ctx.ws.db, embeddingId, method, params);
      const out = ctx.ws.path('embeddings', `e${embeddingId}-${method}-${row.id}`);
      try {
        const r = await awaitJob<ProjectJobResult>(
          new URL('../jobs/project-job.ts', import.meta.url),
          {
            files: embeddingFiles(ctx.ws.path('embeddings'), embeddingId),
            out,
            method,
            params,
            ...(input.backend ? { backend: input.backend } : {}),
          } as ProjectJobInput,
          method,
          (e) => ctx.emit(e),
          ctx.signal,
          method === 'umap' ? 'UMAP projection' : method === 'pca' ? 'PCA' : 'clustering',
        );
        endProjection(ctx.ws.db, row.id, {
          status: 'ready',
          path: relative(ctx.ws.root, r.path),
          seconds: r.seconds,
        });
        return { ...getProjection(ctx.ws.db, row.id)!, info: r.info, reused: false };
      } catch (err) {
        const kind = (err as { kind?: string }).kind;
        endProjection(ctx.ws.db, row.id, {
          status: kind === 'cancelled' ? 'cancelled' : 'failed',
          message: (err as Error).message,
        });
        throw err;
      }
    },
  }),
  defineMethod({
    name: 'projection.data',
    summary: 'The coordinates (PCA/UMAP) or clusters (k-means) of a projection, with item ids.',
    writes: false,
    input: z.object({ id: Id }).strict(),
    run: (ctx, { id }) => {
      const p = getProjection(ctx.ws.db, id);
      if (p === undefined || p.status !== 'ready' || p.path === null) {
        throw expected('projection_not_ready', `Projection ${id} is not ready. Create it first.`);
      }
      const bytes = readFileSync(resolve(ctx.ws.root, p.path));
      const index = readIndex(ctx.ws, p.embeddingId);
      const buf = new Uint8Array(bytes).buffer;
      const values = p.method === 'kmeans' ? new Int32Array(buf) : new Float32Array(buf);
      return {
        id,
        method: p.method,
        count: index.count,
        components: values.length / index.count,
        values: Array.from(values),
        itemIds: index.itemIds,
        labels: index.labels,
        classes: index.classes,
        splits: index.splits,
      };
    },
  }),
];

const exportMethods: MethodDef[] = [
  defineMethod({
    name: 'export.create',
    summary: 'Export a run’s encoder as TF.js and/or ONNX with a model card and a parity check.',
    writes: true,
    input: z
      .object({
        runId: Id,
        step: z.number().int().min(0).optional(),
        format: z.enum(['tfjs', 'onnx', 'all']).default('all'),
        withProjector: z.boolean().default(false),
        parityImages: z.number().int().min(1).max(10_000).default(64),
      })
      .strict(),
    run: (ctx, input) => exportRun(ctx.ws, input, (e) => ctx.emit(e), ctx.signal),
  }),
  defineMethod({
    name: 'export.list',
    summary: 'Exports in the catalog, newest first.',
    writes: false,
    input: z.object({ runId: Id.optional() }).strict(),
    run: (ctx, { runId }) => listExports(ctx.ws.db, runId),
  }),
  defineMethod({
    name: 'export.show',
    summary: 'One export with its parity numbers and model card.',
    writes: false,
    input: z.object({ id: Id }).strict(),
    run: (ctx, { id }) => {
      const row = getExport(ctx.ws.db, id);
      if (row === undefined) throw expected('export_not_found', `There is no export ${id}.`);
      return row;
    },
  }),
];

export const evaluationMethods: MethodDef[] = [
  ...embeddingMethods,
  ...evalMethods,
  ...projectionMethods,
  ...exportMethods,
];
