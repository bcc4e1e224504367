/**
 * The train job, run in its own process: initialises the compute backend,
 * reads the dataset version's tensor cache, builds the trainer (or restores it
 * from a checkpoint), streams one progress record per step, and writes
 * checkpoints atomically under `<workspace>/runs/<id>/`. It never touches the
 * catalog: the host records what it reports.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expected } from '../api/errors.ts';
import type { RunConfig } from '../api/run-config.ts';
import { loadTensorCache } from '../datasets/tensor-cache.ts';
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { NonFiniteLossError, Trainer, type TrainData } from '../engine/train/trainer.ts';
import { logger } from '../log.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { isUnusableCheckpoint } from './checkpoint-files.ts';
import type { JobContext, JobEnd } from './protocol.ts';
import { resolveEncoder } from './run-setup.ts';
import { seededSubset } from './subset.ts';
import { errorText } from '../engine/error-text.ts';

const log = logger('train');

export interface TrainJobInput {
  runId: number;
  runDir: string;
  cachePath: string;
  config: RunConfig;
  configHash: string;
  /** Checkpoint file to continue from (null: a fresh start). */
  resumeFrom: string | null;
  /**
   * Fault injection for tests: a step whose inputs are made NaN, a step that throws
   * an out-of-memory error, and a pause (ms) halfway through each checkpoint write.
   */
  faults?: { nonFiniteAtStep?: number; outOfMemoryAtStep?: number; checkpointPauseMs?: number };
}

/** Checkpoint events sent to the host. */
export interface CheckpointEvent {
  step: number;
  epoch: number;
  reason: 'interval' | 'epoch' | 'final' | 'cancel' | 'pause';
  path: string;
  bytes: number;
}

export interface PlanEvent {
  backend: string;
  backendLine: string;
  totalSteps: number;
  stepsPerEpoch: number;
  startStep: number;
}

/**
 * The training rows of a cache (split `train`, or every row when no row has a split of
 * train); with a limit, a random subset of that many chosen by the run's seed.
 */
export function trainingData(
  meta: {
    count: number;
    size: number;
    channels: number;
    classes: string[];
    labels: number[];
    splits: string[];
  },
  pixels: Uint8Array,
  limit: number | null,
  seed = 0,
): TrainData {
  let rows: number[] = [];
  for (let i = 0; i < meta.count; i++) if (meta.splits[i] === 'train') rows.push(i);
  if (rows.length === 0) rows = Array.from({ length: meta.count }, (_, i) => i);
  rows = seededSubset(rows, limit, seed);
  const labels = Int32Array.from(rows, (r) => meta.labels[r] ?? -1);
  const labelled = labels.some((l) => l >= 0);
  return {
    pixels,
    size: meta.size,
    channels: meta.channels,
    rows: Int32Array.from(rows),
    labels: labelled ? labels : null,
    classes: meta.classes.length,
  };
}

/**
 * Errors that mean an allocation failed (V8's typed arrays, the native and WebGPU
 * backends, and the WASM backend, whose failed allocation aborts with `Aborted()`).
 */
function isOutOfMemory(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return /allocation failed|out of memory|\bOOM\b|Invalid typed array length|^Aborted\(/i.test(
    err.message,
  );
}

export async function run(ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as TrainJobInput;
  const cfg = input.config;
  let backend;
  try {
    backend = await startBackend({
      ...(cfg.backend === 'auto' ? {} : { prefer: cfg.backend as BackendName }),
      ...(cfg.threads === null ? {} : { threads: cfg.threads }),
    });
  } catch (err) {
    throw expected(
      'backend_unavailable',
      `The compute backend ${cfg.backend} could not be started (${errorText(err)}). Choose another backend (\`lejepa-studio backends\` lists them) or auto, then start the run again.`,
    );
  }
  log.info(backend.line);

  const { meta, pixels } = loadTensorCache(input.cachePath);
  const data = trainingData(meta, pixels, cfg.trainLimit, cfg.seed);
  if (data.rows.length < cfg.batch) {
    throw expected(
      'batch_too_large',
      `The batch (${cfg.batch}) is larger than the ${data.rows.length} training images of dataset version ${cfg.datasetVersionId}. Lower batch or use a bigger version.`,
    );
  }
  const trainer = new Trainer(
    {
      ...cfg,
      encoder: resolveEncoder(cfg),
      ...(input.faults === undefined ? {} : { faults: input.faults }),
    },
    data,
    input.configHash,
  );
  /** Step of the newest checkpoint known whole on disk (null: none yet). */
  let kept: number | null = null;
  const keptText = () =>
    kept === null ? 'No checkpoint was written yet' : `The checkpoint of step ${kept} is kept`;
  const resumeHint = `\`lejepa-studio run resume ${input.runId}\``;
  try {
    if (input.resumeFrom !== null) {
      try {
        trainer.restore(new Uint8Array(readFileSync(input.resumeFrom)));
      } catch (err) {
        if (isUnusableCheckpoint(err)) {
          throw expected(
            'checkpoint_unusable',
            `The checkpoint ${input.resumeFrom} cannot be used: ${errorText(err)}. Resume from another checkpoint or start a new run.`,
          );
        }
        throw err;
      }
      log.info(`resuming run ${input.runId} at step ${trainer.step}`);
      kept = trainer.step;
    }
    const plan: PlanEvent = {
      backend: backend.name,
      backendLine: backend.line,
      totalSteps: trainer.totalSteps,
      stepsPerEpoch: trainer.stepsPerEpoch,
      startStep: trainer.step,
    };
    ctx.event('plan', plan);

    const end = await trainer.run({
      onProgress: (record) => ctx.progress(record),
      onCheckpoint: (bytes, info) => {
        const path = join(input.runDir, `step-${String(info.step).padStart(7, '0')}.ljck`);
        const pauseMs = input.faults?.checkpointPauseMs;
        try {
          writeFileAtomic(path, bytes, pauseMs === undefined ? {} : { pauseMidwayMs: pauseMs });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
          throw expected(
            'disk_full',
            `The disk is full: the checkpoint of step ${info.step} could not be written in ${input.runDir}. ${keptText()}; free space, then resume the run with ${resumeHint}.`,
            (err as Error).message,
          );
        }
        kept = info.step;
        const event: CheckpointEvent = { ...info, path, bytes: bytes.length };
        ctx.event('checkpoint', event);
      },
      control: () => ctx.requested(),
    });
    return { end, data: { step: trainer.step, totalSteps: trainer.totalSteps } };
  } catch (err) {
    if (err instanceof NonFiniteLossError) {
      throw expected(
        'non_finite_loss',
        `Training stopped because ${err.message}. The last good checkpoint is kept; lower the learning rate (lr) or check the data, then start a new run.`,
      );
    }
    if (isOutOfMemory(err)) {
      throw expected(
        'out_of_memory',
        `Training ran out of memory at step ${trainer.step + 1} (${(err as Error).message}). ${keptText()}; free memory (close other programs), then resume the run with ${resumeHint}, or lower batch, imageSize or the number of views in a new run.`,
      );
    }
    throw err;
  } finally {
    trainer.dispose();
  }
}
