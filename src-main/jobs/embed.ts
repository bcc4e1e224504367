/**
 * Host side of embedding: resolves the run, checkpoint and dataset version,
 * finds an embedding with the same lineage (and reuses it when its files are
 * intact), otherwise builds the tensor cache, runs the embedding job in a
 * child process and records the result in the catalog.
 */
import { mkdirSync } from 'node:fs';
import { relative } from 'node:path';

import { cancelled, expected, fromErrorData } from '../api/errors.ts';
import type { ApiEvent } from '../api/events.ts';
import type { RunConfig } from '../api/run-config.ts';
import {
  beginEmbedding,
  endEmbedding,
  findEmbedding,
  finishEmbedding,
  getEmbedding,
  lineageKey,
  type EmbeddingHead,
  type EmbeddingRow,
} from '../catalog/embeddings.ts';
import { getRun, type CheckpointRow } from '../catalog/runs.ts';
import { getVersion } from '../catalog/versions.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { buildTensorCache } from '../datasets/tensor-cache.ts';
import { checkpointsOnDisk } from './checkpoint-files.ts';
import type { EmbedJobInput, EmbedJobResult } from './embed-job.ts';
import { embeddingFiles, readEmbedding, type StoredEmbedding } from './embed-store.ts';
import { startJob } from './runner.ts';

export interface EmbedRequest {
  runId: number;
  /** Checkpoint step; default the newest checkpoint of the run. */
  step?: number;
  /** Dataset version; default the run's own. */
  versionId?: number;
  head?: EmbeddingHead;
  batch?: number;
  backend?: string;
}

/**
 * How long a cancelled job may take to stop by itself before its process is ended.
 * Jobs check for a cancel between batches or iterations, but a long synchronous
 * stretch (a kNN block, a neighbour graph) cannot read the request until it is over;
 * these jobs write their results only at the end, so ending them loses nothing.
 */
export const CANCEL_GRACE_MS = 3000;

/**
 * Runs a job module to completion, forwarding progress as `job.progress` events.
 * An abort asks the job to cancel and, after `CANCEL_GRACE_MS`, ends its process;
 * either way the caller gets a `cancelled` error.
 */
export async function awaitJob<T>(
  module: URL,
  input: unknown,
  kind: string,
  emit: (e: ApiEvent) => void,
  signal: AbortSignal | undefined,
  describe: string,
): Promise<T> {
  const jobId = `${kind}-${Date.now().toString(36)}`;
  const job = startJob(
    { module, input },
    {
      onProgress: (p) => {
        const { done, total, message } = p as { done: number; total: number; message?: string };
        emit({ type: 'job.progress', jobId, kind, done, total, ...(message ? { message } : {}) });
      },
    },
  );
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    job.control('cancel');
    killTimer = setTimeout(() => job.kill(), CANCEL_GRACE_MS);
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const out = await job.done;
    if (out.status === 'completed') return out.data as T;
    if (out.status === 'failed') throw fromErrorData(out.error);
    if (out.status === 'crashed' && !signal?.aborted) {
      throw expected(
        'job_crashed',
        `The ${describe} process stopped unexpectedly (${out.signal ?? `exit code ${out.exitCode}`}). The log has the details; try again with a smaller batch.`,
      );
    }
    throw cancelled(`The ${describe}`);
  } finally {
    clearTimeout(killTimer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The run's configuration and the checkpoint to use (the newest when no step is given). */
export function runCheckpoint(
  ws: Workspace,
  runId: number,
  step?: number,
): { config: RunConfig; checkpoint: CheckpointRow; versionId: number } {
  const run = getRun(ws.db, runId);
  if (run === undefined) {
    throw expected(
      'run_not_found',
      `There is no run ${runId}. List runs with \`lejepa-studio runs\`.`,
    );
  }
  // Found in the run's folder of this workspace when the workspace was moved since.
  const checkpoints: CheckpointRow[] = checkpointsOnDisk(ws, runId);
  const checkpoint =
    step === undefined
      ? checkpoints.reduce<CheckpointRow | undefined>(
          (a, c) => (a && a.step > c.step ? a : c),
          undefined,
        )
      : checkpoints.find((c) => c.step === step);
  if (checkpoint === undefined) {
    const have = checkpoints.map((c) => c.step).join(', ') || 'none';
    throw expected(
      'checkpoint_not_found',
      step === undefined
        ? `Run ${runId} has no checkpoint on disk yet. Train it first (or wait for its first checkpoint).`
        : `Run ${runId} has no checkpoint at step ${step} (on disk: ${have}). Pick one of those steps.`,
    );
  }
  return { config: run.config as RunConfig, checkpoint, versionId: run.datasetVersionId };
}

/** Embeds a dataset version with a run's checkpoint, or returns the stored embedding. */
export async function embedDataset(
  ws: Workspace,
  req: EmbedRequest,
  emit: (e: ApiEvent) => void,
  signal?: AbortSignal,
): Promise<EmbeddingRow & { reused: boolean }> {
  const { config, checkpoint, versionId: runVersion } = runCheckpoint(ws, req.runId, req.step);
  const versionId = req.versionId ?? runVersion;
  const version = getVersion(ws.db, versionId);
  if (version === undefined) {
    throw expected('version_not_found', `There is no dataset version ${versionId}.`);
  }
  const lineage = {
    versionId,
    runId: req.runId,
    checkpointStep: checkpoint.step,
    head: req.head ?? ('backbone' as const),
    imageSize: config.imageSize,
    channels: config.channels,
  };
  const key = lineageKey(lineage, version.contentHash);
  const dir = ws.path('embeddings');
  const old = findEmbedding(ws.db, key);
  if (old !== undefined && old.status === 'ready') {
    try {
      readEmbeddingHeader(ws, old);
      return { ...old, reused: true };
    } catch {
      // The files are gone or damaged: compute again under the same row.
    }
  }
  if (old !== undefined && old.status === 'running') {
    throw expected(
      'embedding_running',
      `Embedding ${old.id} of this checkpoint and version is being computed. Wait for it to finish.`,
    );
  }
  const cache = await buildTensorCache(
    ws,
    versionId,
    { size: config.imageSize, channels: config.channels },
    undefined,
    signal,
  );
  const row = beginEmbedding(ws.db, lineage, key);
  mkdirSync(dir, { recursive: true });
  const files = embeddingFiles(dir, row.id);
  const input: EmbedJobInput = {
    cachePath: cache.path,
    checkpoint: checkpoint.path,
    config,
    head: lineage.head,
    files,
    lineage: { runId: req.runId, checkpointStep: checkpoint.step, head: lineage.head },
    batch: req.batch ?? 256,
    ...(req.backend ? { backend: req.backend } : {}),
  };
  try {
    const r = await awaitJob<EmbedJobResult>(
      new URL('./embed-job.ts', import.meta.url),
      input,
      'embed',
      emit,
      signal,
      'embedding',
    );
    finishEmbedding(ws.db, row.id, {
      path: relative(ws.root, files.matrix),
      count: r.count,
      dim: r.dim,
      backend: r.backend,
      seconds: r.seconds,
    });
  } catch (err) {
    const isCancel = (err as { kind?: string }).kind === 'cancelled';
    endEmbedding(ws.db, row.id, isCancel ? 'cancelled' : 'failed', (err as Error).message);
    throw err;
  }
  return { ...getEmbedding(ws.db, row.id)!, reused: false };
}

/** Loads a ready embedding's matrix and index. */
export function loadEmbedding(ws: Workspace, id: number): { row: EmbeddingRow } & StoredEmbedding {
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
      `Embedding ${id} is ${row.status}${row.message ? ` (${row.message})` : ''}. Compute it again with \`lejepa-studio embed\`.`,
    );
  }
  return { row, ...readEmbedding(embeddingFiles(ws.path('embeddings'), id)) };
}

function readEmbeddingHeader(ws: Workspace, row: EmbeddingRow): void {
  readEmbedding(embeddingFiles(ws.path('embeddings'), row.id));
}
