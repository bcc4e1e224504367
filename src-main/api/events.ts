/** Events the api publishes while work runs. Validated like requests when they cross a transport. */
import { z } from 'zod';

export const JobProgressEvent = z.object({
  type: z.literal('job.progress'),
  jobId: z.string(),
  kind: z.string(),
  done: z.number(),
  total: z.number().nullable(),
  message: z.string().optional(),
});

export const ImportProgressEvent = z.object({
  type: z.literal('import.progress'),
  datasetId: z.number().int(),
  phase: z.enum(['scan', 'decode', 'duplicates', 'done']),
  done: z.number().int(),
  total: z.number().int().nullable(),
  imported: z.number().int(),
  skipped: z.number().int(),
});

export const RunMetricsEvent = z.object({
  type: z.literal('run.metrics'),
  runId: z.number().int(),
  record: z.record(z.string(), z.number().nullable()),
});

export const RunStatusEvent = z.object({
  type: z.literal('run.status'),
  runId: z.number().int(),
  status: z.string(),
  message: z.string().optional(),
});

export const ApiEvent = z.discriminatedUnion('type', [
  JobProgressEvent,
  ImportProgressEvent,
  RunMetricsEvent,
  RunStatusEvent,
]);
export type ApiEvent = z.infer<typeof ApiEvent>;
