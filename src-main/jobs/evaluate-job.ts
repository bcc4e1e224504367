/**
 * Frozen-feature evaluation of a run, in a job process: for each requested
 * encoder (a checkpoint of the run, or the same encoder untrained) and for raw
 * pixels, features of the version's train and test images, then kNN (k 20,
 * cosine, votes weighted by exp(sim/0.07)) and a linear probe (logistic
 * regression on standardised features, L-BFGS), as the LeJEPA paper and the
 * reference run evaluate.
 */
import { readFileSync } from 'node:fs';

import { expected } from '../api/errors.ts';
import type { RunConfig } from '../api/run-config.ts';
import { loadTensorCache } from '../datasets/tensor-cache.ts';
import { embeddingForward, type CompiledEncoder } from '../compute/ort-encoder.ts';
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { embed } from '../engine/eval/embed.ts';
import type { LabelledFeatures } from '../engine/eval/features.ts';
import { knnAccuracy } from '../engine/eval/knn.ts';
import { linearProbe } from '../engine/eval/linear-probe.ts';
import { initialEncoder, loadEncoderWeights } from '../engine/train/encoder-weights.ts';
import { logger } from '../log.ts';
import { unusableCheckpoint } from './checkpoint-files.ts';
import type { JobContext, JobEnd } from './protocol.ts';
import { resolveEncoder } from './run-setup.ts';
import { seededSubset } from './subset.ts';

const log = logger('evaluate');

export interface EvaluateJobInput {
  cachePath: string;
  config: RunConfig;
  /** Encoders to evaluate: a checkpoint file, or null for the untrained encoder of the run's seed. */
  encoders: { label: string; checkpoint: string | null }[];
  /** Also evaluate raw pixels (scaled to [0, 1]) as features. */
  rawPixels: boolean;
  /** Use at most this many train / test images, a seeded random subset (null: all). */
  trainLimit: number | null;
  testLimit: number | null;
}

export interface EvaluationRow {
  label: string;
  dim: number;
  knn: number;
  linear: number;
  linearTrain: number;
  trainCount: number;
  testCount: number;
  seconds: number;
}

function splitRows(splits: string[], want: string[], limit: number | null): number[] {
  const rows: number[] = [];
  for (let i = 0; i < splits.length; i++) if (want.includes(splits[i]!)) rows.push(i);
  return seededSubset(rows, limit, 0);
}

export async function run(ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as EvaluateJobInput;
  const cfg = input.config;
  const backend = await startBackend({
    ...(cfg.backend === 'auto' ? {} : { prefer: cfg.backend as BackendName }),
    ...(cfg.threads === null ? {} : { threads: cfg.threads }),
  });
  const { meta, pixels } = loadTensorCache(input.cachePath);
  const trainRows = splitRows(meta.splits, ['train'], input.trainLimit);
  let testRows = splitRows(meta.splits, ['test'], input.testLimit);
  if (testRows.length === 0) testRows = splitRows(meta.splits, ['val'], input.testLimit);
  if (trainRows.length === 0 || testRows.length === 0) {
    throw expected(
      'split_missing',
      `Evaluation needs images in the train split and in the test (or val) split; dataset version ${cfg.datasetVersionId} has ${trainRows.length} train and ${testRows.length} test/val images. Assign splits (for example \`lejepa-studio dataset split DATASET --random 0.8,0.1,0.1\`), freeze a new version, and train on it.`,
    );
  }
  const labelsOf = (rows: number[]) => Int32Array.from(rows, (r) => meta.labels[r] ?? -1);
  const block = { pixels, count: meta.count, size: meta.size, channels: meta.channels };
  const per = meta.size * meta.size * meta.channels;
  const results: EvaluationRow[] = [];

  const score = (label: string, train: LabelledFeatures, test: LabelledFeatures, t0: number) => {
    const knn = knnAccuracy(train, test, { k: 20, metric: 'cosine', temperature: 0.07 });
    const lin = linearProbe(train, test, { l2: 1e-4, maxIter: 500 });
    const row: EvaluationRow = {
      label,
      dim: train.d,
      knn: knn.accuracy,
      linear: lin.testAccuracy ?? Number.NaN,
      linearTrain: lin.trainAccuracy,
      trainCount: train.n,
      testCount: test.n,
      seconds: (performance.now() - t0) / 1000,
    };
    log.info(
      `${label}: kNN ${(row.knn * 100).toFixed(2)} %, linear ${(row.linear * 100).toFixed(2)} % (${row.seconds.toFixed(1)} s)`,
    );
    results.push(row);
    ctx.progress(row);
  };

  for (const e of input.encoders) {
    if (ctx.requested() !== null) return { end: 'cancelled', data: results };
    const t0 = performance.now();
    const spec = resolveEncoder(cfg);
    const encoder = initialEncoder({ ...cfg, encoder: spec });
    let compiled: CompiledEncoder | null = null;
    try {
      if (e.checkpoint !== null) {
        const path = e.checkpoint;
        try {
          loadEncoderWeights(encoder, new Uint8Array(readFileSync(path)));
        } catch (err) {
          throw unusableCheckpoint(
            err,
            path,
            'Evaluate another checkpoint of the run (final, or the epoch ones).',
          );
        }
      }
      compiled = await embeddingForward(
        backend.name,
        encoder,
        spec,
        meta.size,
        null,
        cfg.threads ?? undefined,
        (line) => log.info(line),
      );
      const opts = {
        mean: cfg.views.mean,
        std: cfg.views.std,
        batch: 500,
        ...(compiled ? { forward: compiled.forward } : {}),
      };
      const ftr = await embed(encoder, block, { ...opts, rows: trainRows });
      const fte = await embed(encoder, block, { ...opts, rows: testRows });
      const d = encoder.featureDim;
      score(
        e.label,
        { x: ftr!, n: trainRows.length, d, labels: labelsOf(trainRows) },
        { x: fte!, n: testRows.length, d, labels: labelsOf(testRows) },
        t0,
      );
    } finally {
      compiled?.dispose();
      encoder.dispose();
    }
  }
  if (input.rawPixels) {
    const t0 = performance.now();
    const flat = (rows: number[]) => {
      const x = new Float32Array(rows.length * per);
      rows.forEach((r, i) => {
        for (let j = 0; j < per; j++) x[i * per + j] = pixels[r * per + j]! / 255;
      });
      return x;
    };
    score(
      `raw pixels (${per}-d)`,
      { x: flat(trainRows), n: trainRows.length, d: per, labels: labelsOf(trainRows) },
      { x: flat(testRows), n: testRows.length, d: per, labels: labelsOf(testRows) },
      t0,
    );
  }
  return { end: 'completed', data: results };
}
