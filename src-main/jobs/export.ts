/**
 * Host side of export: records the export, builds the tensor cache for the
 * parity images, gathers the facts of the model card from the catalog, runs
 * the export job and records its outcome (passed, or failed with the parity
 * numbers).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

import type { ApiEvent } from '../api/events.ts';
import { getEmbedding } from '../catalog/embeddings.ts';
import { listEvaluations } from '../catalog/evaluation.ts';
import { beginExport, endExport, getExport, type ExportRow } from '../catalog/exports.ts';
import { getRun, listMetrics } from '../catalog/runs.ts';
import { getVersion } from '../catalog/versions.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { buildTensorCache } from '../datasets/tensor-cache.ts';
import { awaitJob, runCheckpoint } from './embed.ts';
import type { ExportJobInput, ExportJobResult } from './export-job.ts';

export interface ExportRequest {
  runId: number;
  step?: number;
  format: 'tfjs' | 'onnx' | 'all';
  withProjector: boolean;
  parityImages?: number;
}

export function studioVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Best kNN and probe accuracy recorded for the run at this checkpoint (null when none). */
function accuracies(ws: Workspace, runId: number, step: number) {
  let knn: number | null = null;
  let probe: number | null = null;
  for (const e of listEvaluations(ws.db)) {
    const emb = getEmbedding(ws.db, e.embeddingId);
    if (emb?.runId !== runId || emb.checkpointStep !== step || e.score === null) continue;
    if (e.kind === 'knn') knn = Math.max(knn ?? 0, e.score);
    if (e.kind === 'linear_probe') probe = Math.max(probe ?? 0, e.score);
  }
  return { knn, probe };
}

export async function exportRun(
  ws: Workspace,
  req: ExportRequest,
  emit: (e: ApiEvent) => void,
  signal?: AbortSignal,
): Promise<ExportRow> {
  const { config, checkpoint, versionId } = runCheckpoint(ws, req.runId, req.step);
  const run = getRun(ws.db, req.runId)!;
  const version = getVersion(ws.db, versionId)!;
  const formats: ('onnx' | 'tfjs')[] = req.format === 'all' ? ['onnx', 'tfjs'] : [req.format];
  const cache = await buildTensorCache(
    ws,
    versionId,
    { size: config.imageSize, channels: config.channels },
    undefined,
    signal,
  );
  const row = beginExport(
    ws.db,
    {
      runId: req.runId,
      checkpointStep: checkpoint.step,
      formats,
      withProjector: req.withProjector,
    },
    (id) => relative(ws.root, ws.path('exports', `run${req.runId}-step${checkpoint.step}-${id}`)),
  );
  const metric = listMetrics(ws.db, req.runId).find((m) => m.step === checkpoint.step);
  const acc = accuracies(ws, req.runId, checkpoint.step);
  const input: ExportJobInput = {
    dir: ws.path(row.dir),
    checkpoint: checkpoint.path,
    config,
    formats,
    withProjector: req.withProjector,
    cachePath: cache.path,
    parityImages: req.parityImages ?? 64,
    facts: {
      studioVersion: studioVersion(),
      runId: req.runId,
      runName: run.name,
      checkpointStep: checkpoint.step,
      exportedAt: new Date().toISOString(),
      datasetVersionId: versionId,
      datasetVersionHash: version.contentHash,
      trainingConfig: config,
      metrics: {
        finalLoss: metric?.total ?? null,
        finalPred: metric?.pred ?? null,
        finalSigreg: metric?.sigreg ?? null,
        knnAccuracy: acc.knn,
        probeAccuracy: acc.probe,
      },
    },
  };
  try {
    const r = await awaitJob<ExportJobResult>(
      new URL('./export-job.ts', import.meta.url),
      input,
      'export',
      emit,
      signal,
      'export',
    );
    const failed = r.parity.filter((p) => !p.passed);
    endExport(ws.db, row.id, {
      status: failed.length === 0 ? 'passed' : 'failed',
      parity: r.parity,
      card: r.card,
      message:
        failed.length === 0
          ? null
          : failed
              .map((p) =>
                p.error
                  ? `${p.format}: ${p.error}`
                  : `${p.format}: max abs diff ${p.maxAbsDiff.toExponential(2)} is ${p.relative.toExponential(2)} of the scale ${p.scale.toPrecision(3)} (allowed ${p.tolerance})`,
              )
              .join('; '),
    });
  } catch (err) {
    const kind = (err as { kind?: string }).kind;
    endExport(ws.db, row.id, {
      status: kind === 'cancelled' ? 'cancelled' : 'error',
      message: (err as Error).message,
    });
    throw err;
  }
  return getExport(ws.db, row.id)!;
}
