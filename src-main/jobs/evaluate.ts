/** Runs the frozen-feature evaluation job and returns its table rows. */
import { cancelled, expected, fromErrorData } from '../api/errors.ts';
import type { EvaluateJobInput, EvaluationRow } from './evaluate-job.ts';
import { startJob } from './runner.ts';

export async function evaluateEncoders(
  input: EvaluateJobInput,
  onRow?: (row: EvaluationRow) => void,
  signal?: AbortSignal,
): Promise<EvaluationRow[]> {
  const job = startJob(
    { module: new URL('./evaluate-job.ts', import.meta.url), input },
    { onProgress: (row) => onRow?.(row as EvaluationRow) },
  );
  const onAbort = () => job.control('cancel');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const out = await job.done;
    if (out.status === 'completed') return out.data as EvaluationRow[];
    if (out.status === 'failed') throw fromErrorData(out.error);
    if (out.status === 'crashed') {
      throw expected(
        'job_crashed',
        `The evaluation process stopped unexpectedly (${out.signal ?? `exit code ${out.exitCode}`}).`,
      );
    }
    throw cancelled('The evaluation');
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
