/**
 * Training from a terminal: `train` (waits, with a progress bar and ETA on
 * stderr; Ctrl-C cancels cleanly with a checkpoint), `runs`, `run show`,
 * `run resume`, `run cancel`, `run pause`, and `demo`. A run lives in the
 * process that started it, so `train` and `run resume` always wait: `serve` or
 * the desktop app keep a run going without a terminal. `run cancel` and `run pause`
 * also reach a run trained by another process (which holds the workspace) through a
 * request file in the run's folder (jobs/control-request.ts).
 */
import { PRESET_NAMES, type RunConfig } from '../api/run-config.ts';
import type { CheckpointRow, EpochSummary, MetricRow, RunRow } from '../catalog/runs.ts';
import type { EvaluationRow } from '../jobs/evaluate-job.ts';
import { expected, toErrorData } from '../api/errors.ts';
import { getRun } from '../catalog/runs.ts';
import { openWorkspace } from '../catalog/workspace.ts';
import { runFolder } from '../jobs/checkpoint-files.ts';
import { writeControlRequest } from '../jobs/control-request.ts';
import { numberOption, type ParsedArgs } from './args.ts';
import type { CliCommand, CliContext } from './command.ts';
import { DEMO_OVERRIDES, runDemo } from '../jobs/demo.ts';

/** CLI option → run configuration field, for the numeric overrides. */
const NUMERIC: Record<string, keyof RunConfig> = {
  epochs: 'epochs',
  batch: 'batch',
  lr: 'lr',
  seed: 'seed',
  threads: 'threads',
  slices: 'slices',
  lambda: 'lambda',
  'weight-decay': 'weightDecay',
  'warmup-epochs': 'warmupEpochs',
  'train-limit': 'trainLimit',
  'checkpoint-every': 'checkpointEvery',
  'image-size': 'imageSize',
};

function configOverrides(args: ParsedArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof args.options.config === 'string') {
    try {
      Object.assign(out, JSON.parse(args.options.config));
    } catch {
      throw expected(
        'invalid_option',
        '--config must be a JSON object of run configuration fields.',
      );
    }
  }
  for (const [option, field] of Object.entries(NUMERIC)) {
    const n = numberOption(args, option);
    if (n !== undefined) out[field] = n;
  }
  if (typeof args.options.backend === 'string') out.backend = args.options.backend;
  if (typeof args.options.encoder === 'string') out.encoder = args.options.encoder;
  if (args.options['no-probe'] === true) out.probe = false;
  return out;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Draws one progress line per step on a terminal, or a line every ~10 % otherwise. */
export function progressPrinter(ctx: CliContext, runId: number, epochs: number) {
  const tty = process.stderr.isTTY === true;
  const recent: number[] = [];
  let lastPrinted = -1;
  let startStep: number | null = null;
  return {
    onRecord(r: MetricRow | (Omit<MetricRow, 'time'> & { time?: string })): void {
      startStep ??= r.step - 1;
      recent.push(r.msPerStep);
      if (recent.length > 20) recent.shift();
      const total = Math.round((epochs * r.step) / r.epoch);
      const ms = recent.reduce((a, b) => a + b, 0) / recent.length;
      const eta = ((total - r.step) * ms) / 1000;
      const frac = total > 0 ? r.step / total : 0;
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      const probe = r.probeAcc === null ? '' : ` probe ${(r.probeAcc * 100).toFixed(0)}%`;
      const line =
        `run ${runId} ${bar} ${(frac * 100).toFixed(1)}% step ${r.step}/${total} ep ${r.epoch.toFixed(2)} ` +
        `loss ${r.total.toFixed(4)} (pred ${r.pred.toFixed(4)}, sigreg ${r.sigreg.toFixed(3)})${probe} ` +
        `${r.imagesPerSec.toFixed(0)} img/s ETA ${formatDuration(eta)}`;
      if (tty) {
        process.stderr.write(`\r\u001b[2K${line}`);
        if (r.step === total) process.stderr.write('\n');
      } else {
        const tenth = Math.floor(frac * 10);
        if (tenth !== lastPrinted || r.step === total || r.step === startStep + 1) {
          lastPrinted = tenth;
          ctx.say(line);
        }
      }
    },
    end(): void {
      if (tty) process.stderr.write('\n');
    },
  };
}

/** Waits for a run with a progress display; returns the finished run row. */
export async function followRun(ctx: CliContext, run: RunRow): Promise<RunRow> {
  const epochs = (run.config as RunConfig).epochs;
  const bar = progressPrinter(ctx, run.id, epochs);
  ctx.onEvent((event) => {
    if (event.type === 'run.metrics' && event.runId === run.id) {
      bar.onRecord(event.record as unknown as MetricRow);
    }
  });
  const done = await ctx.call<RunRow>('run.wait', { id: run.id });
  bar.end();
  return done;
}

/** How long `run cancel`/`run pause` wait for a run in another process to stop. */
const REMOTE_STOP_WAIT_MS = 180_000;

/**
 * Cancels or pauses a run: through the api when this process can open the workspace,
 * otherwise (another process trains the run and holds the workspace) by leaving a
 * request for that process and waiting, read-only, until the run has stopped.
 */
async function controlRun(
  ctx: CliContext,
  id: number,
  action: 'cancel' | 'pause',
): Promise<{ run: RunRow; text: string }> {
  try {
    const run = await ctx.call<RunRow>(`run.${action}`, { id });
    return { run, text: `run ${id}: ${action} requested` };
  } catch (err) {
    if (toErrorData(err).code !== 'workspace_locked') throw err;
  }
  const ws = openWorkspace(ctx.workspaceDir, { readonly: true });
  try {
    const run = getRun(ws.db, id);
    if (run === undefined) {
      throw expected(
        'run_not_found',
        `There is no run ${id}. List runs with \`lejepa-studio runs\`.`,
      );
    }
    if (run.status !== 'queued' && run.status !== 'running') {
      throw expected(
        'run_not_active',
        `Run ${id} is not running (it is ${run.status}), and another studio process holds the workspace, so nothing can be changed now. Try again once that process has finished.`,
      );
    }
    writeControlRequest(runFolder(ws, id), action);
    ctx.say(
      `run ${id}: ${action} requested from the process that trains it; waiting for it to stop after its current step…`,
    );
    const deadline = Date.now() + REMOTE_STOP_WAIT_MS;
    while (Date.now() < deadline && !ctx.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = getRun(ws.db, id)!;
      if (now.status !== 'queued' && now.status !== 'running') {
        return { run: now, text: `run ${id} ${now.status} at step ${now.step}` };
      }
    }
    return {
      run: getRun(ws.db, id)!,
      text: `run ${id}: ${action} requested; it has not stopped yet (it stops after its current step, with a checkpoint). Check with \`lejepa-studio run show ${id}\`.`,
    };
  } finally {
    ws.close();
  }
}

function outcome(run: RunRow): { text: string; exitCode: number } {
  const msg = run.message === null ? '' : `\n${run.message}`;
  const head = `run ${run.id} ${run.status} at step ${run.step}${run.totalSteps === null ? '' : `/${run.totalSteps}`}`;
  const exitCode =
    run.status === 'completed'
      ? 0
      : run.status === 'cancelled' || run.status === 'paused'
        ? 130
        : 1;
  return { text: head + msg, exitCode };
}

const commonTrainOptions = {
  epochs: { type: 'string', help: 'passes over the training images' },
  batch: { type: 'string', help: 'images per step' },
  lr: { type: 'string', help: 'peak learning rate' },
  seed: { type: 'string', help: 'seed of every random draw' },
  backend: { type: 'string', help: 'auto, tensorflow-gpu, tensorflow, webgpu, wasm or cpu' },
  threads: { type: 'string', help: 'threads of the native backends' },
  slices: { type: 'string', help: 'SIGReg directions per step' },
  lambda: { type: 'string', help: 'weight of SIGReg (0–1)' },
  'weight-decay': { type: 'string', help: 'AdamW weight decay' },
  'warmup-epochs': { type: 'string', help: 'epochs of linear warm-up' },
  'train-limit': { type: 'string', help: 'use only the first N training images' },
  'checkpoint-every': { type: 'string', help: 'steps between checkpoints' },
  'image-size': { type: 'string', help: 'side of the cached images in pixels' },
  encoder: { type: 'string', help: 'encoder preset: resnet-small or vit-tiny' },
  'no-probe': { type: 'boolean', help: 'no online linear probe' },
  config: { type: 'string', help: 'JSON object of further run configuration fields' },
} as const;

/** A markdown table: one row per evaluated checkpoint (with its epoch's training figures), then the baselines. */
export function evaluationTable(rows: EvaluationRow[], epochs: EpochSummary[]): string {
  const pct = (x: number) => (x * 100).toFixed(2);
  const lines = [
    '| features | epoch time | images/s | pred | SIGReg | total | kNN % | linear % |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const m = /^epoch (\d+)(?: |$)/.exec(r.label);
    const e = m === null ? undefined : epochs.find((x) => x.epoch === Number(m[1]));
    const train =
      e === undefined
        ? '| | | | | '
        : `| ${formatDuration(e.trainSeconds)} | ${e.imagesPerSec.toFixed(1)} | ${e.pred.toFixed(4)} | ${e.sigreg.toFixed(3)} | ${e.total.toFixed(4)} `;
    lines.push(`| ${r.label} ${train}| ${pct(r.knn)} | ${pct(r.linear)} |`);
  }
  return lines.join('\n');
}

function runIdArg(args: ParsedArgs, usage: string): number {
  const id = Number(args.positionals[0]);
  if (!Number.isInteger(id) || id < 1) throw expected('invalid_option', `Give a run id: ${usage}`);
  return id;
}

export const trainCommands: CliCommand[] = [
  {
    name: 'train',
    usage:
      'train --dataset VERSION [--preset quick|small|full] [--epochs N] [--backend NAME] [...]',
    summary: 'Train an encoder with LeJEPA on a dataset version and wait for it.',
    options: {
      dataset: {
        type: 'string',
        help: 'version to train on: v<id>, DATASET@<number>, DATASET (its newest) or a version id',
      },
      preset: { type: 'string', help: 'quick, small (the reference recipe, default) or full' },
      name: { type: 'string', help: 'a name for the run' },
      ...commonTrainOptions,
    },
    async run(ctx, args) {
      const ref = args.options.dataset;
      if (typeof ref !== 'string' || ref.trim() === '') {
        throw expected(
          'invalid_option',
          'Give the dataset version to train on: --dataset VERSION (see `dataset version list`).',
        );
      }
      const preset = typeof args.options.preset === 'string' ? args.options.preset : 'small';
      if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
        throw expected(
          'invalid_option',
          `--preset must be ${PRESET_NAMES.slice(0, -1).join(', ')} or ${PRESET_NAMES.at(-1)}, got ${JSON.stringify(preset)}.`,
        );
      }
      // A plain number is the version id (run.start checks it after the configuration);
      // the other forms of `dataset version show` go through its resolver.
      const versionId = /^\d+$/.test(ref.trim())
        ? Number(ref)
        : (await ctx.call<{ id: number }>('dataset.version.show', { version: ref })).id;
      const started = await ctx.call<RunRow>('run.start', {
        datasetVersionId: versionId,
        preset,
        config: configOverrides(args),
        ...(typeof args.options.name === 'string' ? { name: args.options.name } : {}),
      });
      ctx.say(`run ${started.id} started (workspace ${ctx.workspaceDir})`);
      const done = await followRun(ctx, started);
      const { text, exitCode } = outcome(done);
      return { result: done, text, exitCode };
    },
  },
  {
    name: 'runs',
    usage: 'runs [--limit N]',
    summary: 'List training runs, newest first.',
    options: { limit: { type: 'string', help: 'how many (default 50)' } },
    async run(ctx, args) {
      const runs = await ctx.call<RunRow[]>('run.list', {
        limit: numberOption(args, 'limit') ?? 50,
      });
      const lines = runs.map((r) => {
        const c = r.config as RunConfig;
        const enc = typeof c.encoder === 'string' ? c.encoder : `${c.encoder.kind}`;
        const steps = `${r.step}/${r.totalSteps ?? '?'}`;
        return `${String(r.id).padStart(4)}  ${r.status.padEnd(11)} ${steps.padStart(11)}  v${r.datasetVersionId}  ${enc}  ${c.epochs} ep  ${r.name}`;
      });
      return { result: runs, text: runs.length === 0 ? 'no runs yet' : lines.join('\n') };
    },
  },
  {
    name: 'run show',
    usage: 'run show ID',
    summary: 'Show a run: configuration, status, last metrics, checkpoints, log.',
    async run(ctx, args) {
      const id = runIdArg(args, 'run show ID');
      const shown = await ctx.call<{
        run: RunRow;
        last: MetricRow | null;
        checkpoints: CheckpointRow[];
        logs: { time: string; level: string; message: string }[];
      }>('run.show', { id });
      const { run, last, checkpoints, logs } = shown;
      const lines = [
        `run ${run.id}: ${run.name}`,
        `status: ${run.status}${run.message === null ? '' : ` (${run.message})`}`,
        `step: ${run.step}/${run.totalSteps ?? '?'}  backend: ${run.backend ?? '?'}`,
        last === null
          ? 'no metrics yet'
          : `last: loss ${last.total.toFixed(4)} pred ${last.pred.toFixed(4)} sigreg ${last.sigreg.toFixed(3)} lr ${last.lr.toExponential(2)} ${last.imagesPerSec.toFixed(0)} img/s`,
        `checkpoints: ${checkpoints.map((c) => `${c.step} (${c.reason})`).join(', ') || 'none'}`,
        `config: ${JSON.stringify(run.config)}`,
        logs.length === 0 ? 'log: empty' : `log (last ${Math.min(logs.length, 10)} lines):`,
        ...logs.slice(-10).map((l) => `  ${l.time} ${l.level.padEnd(5)} ${l.message}`),
      ];
      return { result: shown, text: lines.join('\n') };
    },
  },
  {
    name: 'run resume',
    usage: 'run resume ID',
    summary: 'Continue a paused, cancelled or interrupted run from its newest checkpoint.',
    async run(ctx, args) {
      const id = runIdArg(args, 'run resume ID');
      const run = await ctx.call<RunRow>('run.resume', { id });
      ctx.say(`run ${id} resumed from step ${run.step}`);
      const done = await followRun(ctx, run);
      const { text, exitCode } = outcome(done);
      return { result: done, text, exitCode };
    },
  },
  {
    name: 'run cancel',
    usage: 'run cancel ID',
    summary: 'Cancel a run (a running one stops after its step, with a checkpoint).',
    async run(ctx, args) {
      const id = runIdArg(args, 'run cancel ID');
      const { run, text } = await controlRun(ctx, id, 'cancel');
      return { result: run, text };
    },
  },
  {
    name: 'run pause',
    usage: 'run pause ID',
    summary: 'Pause a running run after its step, with a checkpoint to resume from.',
    async run(ctx, args) {
      const id = runIdArg(args, 'run pause ID');
      const { run, text } = await controlRun(ctx, id, 'pause');
      return { result: run, text };
    },
  },
  {
    name: 'run evaluate',
    usage:
      'run evaluate ID [--no-baselines | --baselines-only] [--final] [--train-limit N] [--test-limit N]',
    summary:
      "kNN and linear-probe accuracy of a run's epoch checkpoints on frozen features, with baselines.",
    options: {
      'no-baselines': { type: 'boolean', help: 'skip raw pixels and the untrained encoder' },
      final: { type: 'boolean', help: 'only the newest checkpoint, not every epoch' },
      'baselines-only': { type: 'boolean', help: 'only raw pixels and the untrained encoder' },
      'train-limit': { type: 'string', help: 'first N train-split images for the probes' },
      'test-limit': { type: 'string', help: 'first N test-split images' },
    },
    async run(ctx, args) {
      const id = runIdArg(args, 'run evaluate ID');
      ctx.onEvent((e) => {
        if (e.type === 'job.progress' && e.kind === 'evaluate' && e.message) ctx.say(e.message);
      });
      const out = await ctx.call<{ run: RunRow; rows: EvaluationRow[]; epochs: EpochSummary[] }>(
        'run.evaluate',
        {
          id,
          baselines: args.options['no-baselines'] !== true,
          checkpoints:
            args.options['baselines-only'] === true
              ? 'none'
              : args.options.final === true
                ? 'final'
                : 'epochs',
          trainLimit: numberOption(args, 'train-limit') ?? null,
          testLimit: numberOption(args, 'test-limit') ?? null,
        },
      );
      return { result: out, text: evaluationTable(out.rows, out.epochs) };
    },
  },
  {
    name: 'demo',
    usage: 'demo [--workspace DIR] [--backend NAME]',
    summary:
      'Import the bundled Fashion-MNIST sample, train a short run, compare with two baselines.',
    options: {
      workspace: {
        type: 'string',
        help: 'workspace folder (default: a new temporary folder; $LEJEPA_WORKSPACE is not used)',
      },
      backend: { type: 'string', help: 'compute backend (default: auto)' },
    },
    async run(ctx, args) {
      const t0 = performance.now();
      const given = typeof args.options.workspace === 'string' ? args.options.workspace : undefined;
      let bar: ReturnType<typeof progressPrinter> | null = null;
      const result = await runDemo({
        ...(given === undefined ? {} : { workspace: given }),
        ...(typeof args.options.backend === 'string' ? { backend: args.options.backend } : {}),
        say: (text) => ctx.say(text),
        signal: ctx.signal,
        onEvent: (event) => {
          if (event.type !== 'run.metrics') return;
          bar ??= progressPrinter(ctx, event.runId, demoEpochs());
          bar.onRecord(event.record as unknown as MetricRow);
        },
      });
      const minutes = (performance.now() - t0) / 60_000;
      const verdict = result.beatsBaselinesOnLinear
        ? 'The trained encoder beats both baselines on the linear probe.'
        : 'The trained encoder does NOT beat both baselines on the linear probe in this run.';
      const text = [
        '',
        `Fashion-MNIST sample (train split → test split), workspace ${result.workspace}`,
        '',
        result.table,
        '',
        verdict,
        `Training ${result.trainSeconds.toFixed(0)} s; whole demo ${minutes.toFixed(1)} min.`,
      ].join('\n');
      return { result, text, exitCode: result.beatsBaselinesOnLinear ? 0 : 1 };
    },
  },
];

function demoEpochs(): number {
  return DEMO_OVERRIDES.epochs ?? 1;
}
