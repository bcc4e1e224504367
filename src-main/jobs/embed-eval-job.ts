/**
 * Evaluations of a stored embedding, in a job process (a kNN over 60k × 10k
 * rows takes tens of seconds): kNN accuracy and the linear probe, fitted on
 * the train split and reported on val or test, and the isotropy diagnostics.
 */
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { isotropy } from '../engine/eval/isotropy.ts';
import { knnAccuracy, type KnnMetric } from '../engine/eval/knn.ts';
import { linearProbe } from '../engine/eval/linear-probe.ts';
import type { Split } from '../catalog/datasets.ts';
import { expected } from '../api/errors.ts';
import { readEmbedding, splitFeatures } from './embed-store.ts';
import type { JobContext, JobEnd } from './protocol.ts';

export type EvalJobInput = {
  files: { matrix: string; index: string };
  backend?: string;
} & (
  | { kind: 'knn'; params: { k: number; metric: KnnMetric; temperature: number; split: Split } }
  | { kind: 'linear_probe'; params: { l2: number; maxIter: number; split: Split } }
  | { kind: 'isotropy'; params: { slices: number; sampleRows: number; seed: number } }
);

export interface EvalJobResult {
  score: number | null;
  result: unknown;
  seconds: number;
}

export async function run(ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as EvalJobInput;
  await startBackend(
    input.backend && input.backend !== 'auto' ? { prefer: input.backend as BackendName } : {},
  );
  const stored = readEmbedding(input.files);
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;

  if (input.kind === 'isotropy') {
    const { x, index } = stored;
    const report = isotropy({ x, n: index.count, d: index.dim }, input.params);
    const out: EvalJobResult = { score: report.effectiveRank, result: report, seconds: seconds() };
    return { end: 'completed', data: out };
  }

  const train = splitFeatures(stored, ['train']);
  const test = splitFeatures(stored, [input.params.split]);
  const labelled = (f: { labels: Int32Array }) => f.labels.some((l) => l >= 0);
  if (!labelled(train) || !labelled(test)) {
    throw expected(
      'no_labels',
      `This evaluation needs labelled images in the train split and in the ${input.params.split} split; this embedding has ${train.n} train and ${test.n} ${input.params.split} rows. Use a dataset version with labels and both splits.`,
    );
  }
  if (input.kind === 'knn') {
    const r = knnAccuracy(train, test, {
      ...input.params,
      onProgress: (done, total) => ctx.progress({ done, total }),
    });
    const { predictions: _p, ...summary } = r;
    const out: EvalJobResult = { score: r.accuracy, result: summary, seconds: seconds() };
    return { end: 'completed', data: out };
  }
  const r = linearProbe(train, test, {
    l2: input.params.l2,
    maxIter: input.params.maxIter,
    onIteration: (i) => ctx.progress({ done: i, total: input.params.maxIter }),
    shouldStop: () => ctx.requested() !== null,
  });
  if (r.reason === 'stopped') return { end: 'cancelled', data: null };
  const { weights: _w, bias: _b, mean: _m, std: _s, ...summary } = r;
  const out: EvalJobResult = { score: r.testAccuracy, result: summary, seconds: seconds() };
  return { end: 'completed', data: out };
}
