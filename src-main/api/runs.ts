/**
 * `run.*`: start, watch, pause, cancel and resume training runs. The work runs
 * in a child process driven by the workspace's job host; these methods record
 * and report. Events: `run.metrics` (one per step) and `run.status`.
 */
import { z } from 'zod';

import {
  epochSummaries,
  getRun,
  listMetrics,
  listRunLogs,
  listRuns,
  type RunRow,
} from '../catalog/runs.ts';
import { locateCheckpoints, runFolder } from '../jobs/checkpoint-files.ts';
import { jobHost } from '../jobs/host.ts';
import { estimateRun } from '../jobs/estimate.ts';
import { evaluateEncoders } from '../jobs/evaluate.ts';
import { getVersion } from '../catalog/versions.ts';
import { tensorCachePath } from '../datasets/tensor-cache.ts';
import { expected } from './errors.ts';
import { defineMethod, type ApiContext, type MethodDef } from './method.ts';
import {
  describeConfigIssues,
  presetConfig,
  PRESET_NAMES,
  RunConfigSchema,
  type RunConfig,
} from './run-config.ts';

const RunId = z.object({ id: z.number().int().min(1) }).strict();

const ConfigRequest = z
  .object({
    datasetVersionId: z.number().int().min(1),
    /**
     * Starting point; `config` overrides its fields. Objects (views, projector,
     * views.jitter) merge field by field; any other value, arrays included, replaces.
     */
    preset: z.enum(PRESET_NAMES).default('small'),
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** A plain object (not null, not an array): the only kind of override merged field by field. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The preset with the overrides applied, validated; a bad field is named with its range. */
export function buildRunConfig(input: z.infer<typeof ConfigRequest>): RunConfig {
  const base = presetConfig(input.preset, input.datasetVersionId) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...base, ...input.config };
  for (const key of ['views', 'projector'] as const) {
    const over = input.config[key];
    if (isPlainObject(over)) {
      merged[key] = { ...(base[key] as object), ...over };
      // An array, null or scalar jitter replaces the preset's and is refused by the schema.
      if (key === 'views' && isPlainObject(over.jitter)) {
        (merged.views as Record<string, unknown>).jitter = {
          ...(base.views as { jitter: object }).jitter,
          ...over.jitter,
        };
      }
    }
  }
  merged.datasetVersionId = input.datasetVersionId;
  const parsed = RunConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw expected(
      'invalid_config',
      `Invalid run configuration: ${describeConfigIssues(parsed.error)}.`,
    );
  }
  return parsed.data;
}

/**
 * Refuses a run the train job would refuse at its first step, before any run is
 * recorded: a missing or empty version, or a batch larger than the training images
 * (the train split, or every item when nothing is in it, as the train job takes them).
 */
export function checkTrainable(ctx: ApiContext, config: RunConfig): void {
  const id = config.datasetVersionId;
  const version = getVersion(ctx.ws.db, id);
  if (version === undefined) {
    throw expected(
      'version_not_found',
      `There is no dataset version ${id}. Run \`lejepa-studio dataset version list\` to see them, or freeze one with \`dataset version create\`.`,
    );
  }
  const inSplit = version.splitCounts.train ?? 0;
  const images = Math.min(
    inSplit > 0 ? inSplit : version.itemCount,
    config.trainLimit ?? Number.POSITIVE_INFINITY,
  );
  if (images === 0) {
    throw expected(
      'version_empty',
      `Dataset version ${id} has no images to train on. Import images into its dataset and freeze a new version.`,
    );
  }
  if (images < config.batch) {
    throw expected(
      'batch_too_large',
      `The batch (${config.batch}) is larger than the ${images} training images of dataset version ${id}. Lower batch to ${images} or less, or use a bigger version.`,
    );
  }
}

function host(ctx: ApiContext) {
  const h = jobHost(ctx.ws);
  h.setEmitter(ctx.emit);
  return h;
}

function mustRun(ctx: ApiContext, id: number): RunRow {
  const run = getRun(ctx.ws.db, id);
  if (run === undefined) {
    throw expected(
      'run_not_found',
      `There is no run ${id}. List runs with \`lejepa-studio runs\`.`,
    );
  }
  return run;
}

export const runMethods: MethodDef[] = [
  defineMethod({
    name: 'run.start',
    summary: 'Starts a training run on a dataset version (preset plus overrides).',
    input: ConfigRequest.extend({ name: z.string().min(1).max(200).optional() }).strict(),
    writes: true,
    run: (ctx, input) => {
      const config = buildRunConfig(input);
      checkTrainable(ctx, config);
      return host(ctx).start(config, input.name);
    },
  }),
  defineMethod({
    name: 'run.config',
    summary: 'The full configuration a preset plus overrides gives, validated, without starting.',
    input: ConfigRequest,
    writes: false,
    run: (_ctx, input) => buildRunConfig(input),
  }),
  defineMethod({
    name: 'run.estimate',
    summary: 'Measures a few training steps and estimates the time per epoch.',
    input: ConfigRequest.extend({ steps: z.number().int().min(1).max(20).default(3) }).strict(),
    writes: true,
    run: (ctx, input) => estimateRun(ctx.ws, buildRunConfig(input), input.steps, ctx.signal),
  }),
  defineMethod({
    name: 'run.list',
    summary: 'Every run, newest first.',
    input: z.object({ limit: z.number().int().min(1).max(10_000).default(200) }).strict(),
    writes: false,
    run: (ctx, input) => {
      if (!ctx.ws.readonly) host(ctx).recoverInterrupted();
      return listRuns(ctx.ws.db, input.limit);
    },
  }),
  defineMethod({
    name: 'run.show',
    summary: 'One run: configuration, status, last metrics, checkpoints and recent log lines.',
    input: RunId,
    writes: false,
    run: (ctx, { id }) => {
      if (!ctx.ws.readonly) host(ctx).recoverInterrupted();
      const run = mustRun(ctx, id);
      const metrics = listMetrics(ctx.ws.db, id, Math.max(0, run.step - 1), 1);
      return {
        run,
        last: metrics[0] ?? null,
        checkpoints: locateCheckpoints(ctx.ws, id),
        logs: listRunLogs(ctx.ws.db, id, 50),
      };
    },
  }),
  defineMethod({
    name: 'run.metrics',
    summary: 'Per-step metrics of a run after a given step (for charts; paged).',
    input: RunId.extend({
      afterStep: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(100_000).default(10_000),
    }).strict(),
    writes: false,
    run: (ctx, input) => {
      mustRun(ctx, input.id);
      return listMetrics(ctx.ws.db, input.id, input.afterStep, input.limit);
    },
  }),
  defineMethod({
    name: 'run.cancel',
    summary: 'Stops a run after its current step, keeping a checkpoint.',
    input: RunId,
    writes: true,
    run: (ctx, { id }) => host(ctx).cancel(id),
  }),
  defineMethod({
    name: 'run.pause',
    summary: 'Pauses a run after its current step, keeping a checkpoint to resume from.',
    input: RunId,
    writes: true,
    run: (ctx, { id }) => host(ctx).pause(id),
  }),
  defineMethod({
    name: 'run.resume',
    summary: 'Continues a paused, cancelled or interrupted run from its newest checkpoint.',
    input: RunId,
    writes: true,
    run: (ctx, { id }) => host(ctx).resume(id),
  }),
  defineMethod({
    name: 'run.evaluate',
    summary:
      "Frozen-feature kNN and linear-probe accuracy of a run's epoch checkpoints, with baselines.",
    input: RunId.extend({
      /** Also evaluate raw pixels and the same encoder untrained. */
      baselines: z.boolean().default(true),
      /** `epochs`: every epoch-end checkpoint; `final`: the newest one; `none`: baselines only. */
      checkpoints: z.enum(['epochs', 'final', 'none']).default('epochs'),
      trainLimit: z.number().int().min(1).nullable().default(null),
      testLimit: z.number().int().min(1).nullable().default(null),
    }).strict(),
    writes: false,
    run: async (ctx, input) => {
      const run = mustRun(ctx, input.id);
      const cfg = run.config as RunConfig;
      // Located like resume does: in the run's folder of this workspace when it was moved.
      const all = locateCheckpoints(ctx.ws, run.id);
      const chosen =
        input.checkpoints === 'none'
          ? []
          : input.checkpoints === 'final'
            ? all.slice(-1)
            : all.filter((c) => c.reason === 'epoch' || c.reason === 'final');
      const lost = chosen.find((c) => !c.onDisk);
      if (lost !== undefined) {
        throw expected(
          'checkpoint_not_found',
          `The checkpoint of step ${lost.step} of run ${run.id} is neither at ${lost.recordedPath} nor in ${runFolder(ctx.ws, run.id)}. Put the file back, or evaluate with checkpoints "final" or "none".`,
        );
      }
      const perEpoch = run.stepsPerEpoch ?? 1;
      const encoders: { label: string; checkpoint: string | null }[] = chosen.map((c) => ({
        label: `epoch ${(c.step / perEpoch).toFixed(2).replace(/\.00$/, '')} (step ${c.step})`,
        checkpoint: c.path,
      }));
      if (input.baselines) encoders.push({ label: 'same encoder, untrained', checkpoint: null });
      const rows = await evaluateEncoders(
        {
          cachePath: tensorCachePath(ctx.ws, cfg.datasetVersionId, cfg.imageSize, cfg.channels),
          config: cfg,
          encoders,
          rawPixels: input.baselines,
          trainLimit: input.trainLimit,
          testLimit: input.testLimit,
        },
        (row) =>
          ctx.emit({
            type: 'job.progress',
            jobId: `evaluate-run-${run.id}`,
            kind: 'evaluate',
            done: 0,
            total: null,
            message: `${row.label}: kNN ${(row.knn * 100).toFixed(2)} %, linear ${(row.linear * 100).toFixed(2)} %`,
          }),
        ctx.signal,
      );
      return { run, rows, epochs: epochSummaries(ctx.ws.db, run.id, perEpoch) };
    },
  }),
  defineMethod({
    name: 'run.wait',
    summary:
      'Waits until a run started by this process stops; cancelling the request cancels the run.',
    input: RunId,
    writes: true,
    run: async (ctx, { id }) => {
      const h = host(ctx);
      const onAbort = () => {
        if (h.isActive(id)) h.cancel(id);
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await h.wait(id);
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  }),
];
