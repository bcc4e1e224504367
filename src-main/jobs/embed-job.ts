/**
 * The embedding job, run in its own process: loads the run's encoder from a
 * checkpoint, embeds every image of the dataset version's tensor cache in
 * evaluation mode (batched, with progress; a cancel stops between batches) and
 * writes the matrix and its item index atomically. The host records it.
 */
import { readFileSync } from 'node:fs';

import type { RunConfig } from '../api/run-config.ts';
import { loadTensorCache } from '../datasets/tensor-cache.ts';
import { embeddingForward, type CompiledEncoder } from '../compute/ort-encoder.ts';
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { embed } from '../engine/eval/embed.ts';
import { createProjector } from '../engine/models/index.ts';
import { decodeCheckpoint, restoreVariables } from '../engine/train/checkpoint.ts';
import { initialEncoder, loadEncoderWeights } from '../engine/train/encoder-weights.ts';
import { Rng } from '../engine/rng.ts';
import { logger } from '../log.ts';
import { unusableCheckpoint } from './checkpoint-files.ts';
import { writeEmbedding, type EmbeddingIndex } from './embed-store.ts';
import type { JobContext, JobEnd } from './protocol.ts';
import { resolveEncoder } from './run-setup.ts';

const log = logger('embed');

export interface EmbedJobInput {
  cachePath: string;
  /** Checkpoint file; null embeds with the run's untrained encoder. */
  checkpoint: string | null;
  config: RunConfig;
  head: 'backbone' | 'projector';
  files: { matrix: string; index: string };
  lineage: Pick<EmbeddingIndex, 'runId' | 'checkpointStep' | 'head'>;
  batch: number;
  /** Backend to use; 'auto' (or absent) picks the fastest that loads. */
  backend?: string;
}

export interface EmbedJobResult {
  count: number;
  dim: number;
  backend: string;
  seconds: number;
  imagesPerSec: number;
}

export interface EmbedProgress {
  done: number;
  total: number;
}

export async function run(ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as EmbedJobInput;
  const cfg = input.config;
  const choice = input.backend ?? cfg.backend;
  const info = await startBackend(
    choice === 'auto' || choice === undefined ? {} : { prefer: choice as BackendName },
  );
  log.info(info.line);
  const { meta, pixels } = loadTensorCache(input.cachePath);
  const spec = resolveEncoder(cfg);
  const encoder = initialEncoder({ ...cfg, encoder: spec });
  const projector =
    input.head === 'projector'
      ? createProjector(
          { inDim: encoder.featureDim, hidden: cfg.projector.hidden, out: cfg.projector.out },
          new Rng(0),
        )
      : null;
  let compiled: CompiledEncoder | null = null;
  try {
    if (input.checkpoint !== null) {
      const path = input.checkpoint;
      try {
        const bytes = new Uint8Array(readFileSync(path));
        loadEncoderWeights(encoder, bytes);
        if (projector !== null) {
          const byName = new Map(decodeCheckpoint(bytes).tensors.map((t) => [t.name, t]));
          restoreVariables('projector/', projector.params.trainable, byName);
          restoreVariables('projector/state/', projector.params.state, byName);
        }
      } catch (err) {
        throw unusableCheckpoint(err, path, 'Embed with another checkpoint of the run.');
      }
    }
    const t0 = performance.now();
    compiled = await embeddingForward(
      info.name,
      encoder,
      spec,
      meta.size,
      projector,
      undefined,
      (line) => log.info(line),
    );
    const x = await embed(
      encoder,
      { pixels, count: meta.count, size: meta.size, channels: meta.channels },
      {
        batch: input.batch,
        mean: cfg.views.mean,
        std: cfg.views.std,
        ...(projector ? { head: (f) => projector.apply(f, { training: false }) } : {}),
        ...(compiled ? { forward: compiled.forward } : {}),
        onProgress: (done, total) => ctx.progress({ done, total } satisfies EmbedProgress),
        shouldStop: () => ctx.requested() !== null,
      },
    );
    if (x === null) return { end: 'cancelled', data: null };
    const seconds = (performance.now() - t0) / 1000;
    const dim = meta.count === 0 ? encoder.featureDim : x.length / meta.count;
    writeEmbedding(
      input.files,
      {
        format: 1,
        count: meta.count,
        dim,
        versionId: meta.versionId,
        versionHash: meta.versionHash,
        ...input.lineage,
        imageSize: meta.size,
        channels: meta.channels,
        classes: meta.classes,
        itemIds: meta.itemIds,
        labels: meta.labels,
        splits: meta.splits,
      },
      x,
    );
    const result: EmbedJobResult = {
      count: meta.count,
      dim,
      backend: info.name,
      seconds,
      imagesPerSec: meta.count / Math.max(seconds, 1e-9),
    };
    const how = compiled ? 'ONNX Runtime' : info.name;
    log.info(`embedded ${meta.count} images (${dim}-d) in ${seconds.toFixed(1)} s on ${how}`);
    return { end: 'completed', data: result };
  } finally {
    compiled?.dispose();
    encoder.dispose();
    projector?.dispose();
  }
}
