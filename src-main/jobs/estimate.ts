/** `run.estimate`: builds the tensor cache if needed and times a few steps in a job process. */
import { cancelled, fromErrorData, expected } from '../api/errors.ts';
import type { RunConfig } from '../api/run-config.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { buildTensorCache, tensorCachePath } from '../datasets/tensor-cache.ts';
import type { Estimate, EstimateJobInput } from './estimate-job.ts';
import { startJob } from './runner.ts';

export async function estimateRun(
  ws: Workspace,
  config: RunConfig,
  steps: number,
  signal: AbortSignal,
): Promise<Estimate> {
  const { imageSize: size, channels } = config;
  await buildTensorCache(ws, config.datasetVersionId, { size, channels }, undefined, signal);
  const input: EstimateJobInput = {
    cachePath: tensorCachePath(ws, config.datasetVersionId, size, channels),
    config,
    steps,
  };
  const job = startJob({ module: new URL('./estimate-job.ts', import.meta.url), input });
  const onAbort = () => job.control('cancel');
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const out = await job.done;
    if (out.status === 'completed') return out.data as Estimate;
    if (out.status === 'failed') throw fromErrorData(out.error);
    if (out.status === 'crashed') {
      throw expected(
        'job_crashed',
        `The estimate process stopped unexpectedly (${out.signal ?? `exit code ${out.exitCode}`}). Try a smaller batch or another backend.`,
      );
    }
    throw cancelled('The estimate');
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
