/**
 * The job host: the one place in the api process that starts, controls and
 * records training runs. It owns the catalog writes of runs (metrics,
 * checkpoints, status, logs) from the messages of the train job, marks runs
 * whose process died as `interrupted` (also at the next open of the workspace)
 * and resumes them from their newest checkpoint. A run stopped by its machine
 * (a full disk, memory exhausted) is `interrupted` too: its newest checkpoint is
 * whole, so it resumes once the cause is gone. Temporary files of checkpoint
 * writes whose process died are removed when the host starts and on resume.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';

import { expected, toErrorData } from '../api/errors.ts';
import type { ApiEvent } from '../api/events.ts';
import type { RunConfig } from '../api/run-config.ts';
import {
  activeRuns,
  getRun,
  insertCheckpoint,
  insertMetric,
  insertRun,
  insertRunLog,
  markStarted,
  RESUMABLE,
  rewindRun,
  setRunPlan,
  setRunStatus,
  type RunRow,
} from '../catalog/runs.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { buildTensorCache, tensorCachePath } from '../datasets/tensor-cache.ts';
import { hashJson } from '../engine/train/checkpoint.ts';
import type { ProgressRecord } from '../engine/train/progress.ts';
import { logger, writeRecord } from '../log.ts';
import { removeStaleTemporaries } from './atomic-file.ts';
import { checkpointsOnDisk, locateCheckpoints, runFolder } from './checkpoint-files.ts';
import { clearControlRequest, CONTROL_POLL_MS, takeControlRequest } from './control-request.ts';
import { startJob, type JobHandle, type JobOutcome } from './runner.ts';
import type { CheckpointEvent, PlanEvent, TrainJobInput } from './train-job.ts';

const log = logger('jobs');
const TRAIN_JOB = new URL('./train-job.ts', import.meta.url);

interface ActiveRun {
  handle: JobHandle | null;
  finished: Promise<RunRow>;
  /** Set when a stop was asked before the child existed (cache still building). */
  pending: 'cancel' | 'pause' | null;
}

/**
 * Failure codes of a stop caused by the machine, not by the run: the newest
 * checkpoint is whole and the same configuration can continue once the cause
 * is gone, so the run is left `interrupted` (resumable), not `failed`.
 */
const ENVIRONMENTAL_STOPS = new Set(['disk_full', 'out_of_memory']);

function pidAlive(pid: number | null): boolean {
  if (pid === null || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class JobHost {
  private readonly active = new Map<number, ActiveRun>();
  private emitter: (event: ApiEvent) => void = () => {};

  constructor(readonly ws: Workspace) {
    this.recoverInterrupted();
    if (!ws.readonly) this.removeStaleTemporaries();
  }

  /**
   * Removes checkpoint temporaries left by killed writes in every run folder (or one);
   * a write still going on (its process alive) is left alone.
   */
  removeStaleTemporaries(id?: number): string[] {
    let ids: string[];
    if (id !== undefined) ids = [String(id)];
    else {
      try {
        ids = readdirSync(this.ws.path('runs')).filter((n) => /^\d+$/.test(n));
      } catch {
        return [];
      }
    }
    const removed: string[] = [];
    for (const name of ids) {
      for (const file of removeStaleTemporaries(this.ws.path('runs', name))) {
        removed.push(`${name}/${file}`);
      }
    }
    if (removed.length > 0) {
      log.info(`removed ${removed.length} temporary file(s) of interrupted checkpoint writes`);
    }
    return removed;
  }

  /** Where events go (the api context of the latest call). */
  setEmitter(emit: (event: ApiEvent) => void): void {
    this.emitter = emit;
  }

  private emit(event: ApiEvent): void {
    try {
      this.emitter(event);
    } catch (err) {
      log.warn(`an event listener failed: ${String(err)}`);
    }
  }

  /**
   * True once the workspace's catalog is closed. A job can still send messages then (a
   * process that closes its workspace while a run trains); they are dropped, since the
   * next open marks the run interrupted and finds its checkpoints on disk.
   */
  private get closed(): boolean {
    return !this.ws.db.open;
  }

  private status(id: number, status: RunRow['status'], message: string | null = null): void {
    if (this.closed) {
      log.warn(`run ${id} ended ${status} after its workspace was closed; not recorded`);
      return;
    }
    setRunStatus(this.ws.db, id, status, message);
    this.emit({
      type: 'run.status',
      runId: id,
      status,
      ...(message === null ? {} : { message }),
    });
  }

  /** Marks runs that say they are running but whose process is gone as interrupted. */
  recoverInterrupted(): number[] {
    const marked: number[] = [];
    for (const run of activeRuns(this.ws.db)) {
      if (this.active.has(run.id)) continue;
      const hostAlive =
        run.hostPid !== null && run.hostPid !== process.pid && pidAlive(run.hostPid);
      if (hostAlive) continue;
      this.status(
        run.id,
        'interrupted',
        `The training process stopped before the run finished. Resume it with \`lejepa-studio run resume ${run.id}\`.`,
      );
      marked.push(run.id);
    }
    return marked;
  }

  runDir(id: number): string {
    return runFolder(this.ws, id);
  }

  /** Records a new run and starts it (the tensor cache is built first when missing). */
  start(config: RunConfig, name?: string): RunRow {
    const configHash = hashJson(config);
    const id = insertRun(this.ws.db, {
      name: name ?? `run ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`,
      datasetVersionId: config.datasetVersionId,
      config,
      configHash,
    });
    mkdirSync(this.runDir(id), { recursive: true });
    writeFileSync(this.ws.path('runs', String(id), 'config.json'), JSON.stringify(config, null, 2));
    this.launch(id, config, configHash, null);
    return getRun(this.ws.db, id)!;
  }

  /**
   * Continues a paused, cancelled or interrupted run from its newest checkpoint (found in
   * the run's folder of this workspace when the workspace was moved since).
   */
  resume(id: number): RunRow {
    this.recoverInterrupted();
    const run = this.mustGet(id);
    if (this.active.has(id)) {
      throw expected('run_active', `Run ${id} is already running.`);
    }
    if (!RESUMABLE.includes(run.status)) {
      throw expected(
        'run_not_resumable',
        `Run ${id} is ${run.status}; only paused, cancelled or interrupted runs can be resumed.`,
      );
    }
    this.removeStaleTemporaries(id);
    const checkpoint = checkpointsOnDisk(this.ws, id).at(-1);
    rewindRun(this.ws.db, id, checkpoint?.step ?? 0);
    this.launch(id, run.config as RunConfig, run.configHash, checkpoint?.path ?? null);
    return getRun(this.ws.db, id)!;
  }

  cancel(id: number): RunRow {
    return this.control(id, 'cancel');
  }

  pause(id: number): RunRow {
    return this.control(id, 'pause');
  }

  private control(id: number, action: 'cancel' | 'pause'): RunRow {
    const run = this.mustGet(id);
    const active = this.active.get(id);
    if (active === undefined) {
      if (action === 'cancel' && (run.status === 'paused' || run.status === 'interrupted')) {
        this.status(id, 'cancelled');
        return getRun(this.ws.db, id)!;
      }
      throw expected('run_not_active', `Run ${id} is not running (it is ${run.status}).`);
    }
    if (active.handle === null) active.pending = action;
    else active.handle.control(action);
    return run;
  }

  /** Resolves with the run once its process has ended (at once when it is not running). */
  async wait(id: number): Promise<RunRow> {
    const active = this.active.get(id);
    if (active !== undefined) return active.finished;
    return this.mustGet(id);
  }

  isActive(id: number): boolean {
    return this.active.has(id);
  }

  /** Ends every job at once (SIGKILL), for a host that is closing. */
  killAll(): void {
    for (const a of this.active.values()) a.handle?.kill();
  }

  private mustGet(id: number): RunRow {
    const run = getRun(this.ws.db, id);
    if (run === undefined)
      throw expected(
        'run_not_found',
        `There is no run ${id}. List runs with \`lejepa-studio runs\`.`,
      );
    return run;
  }

  private launch(
    id: number,
    config: RunConfig,
    configHash: string,
    resumeFrom: string | null,
  ): void {
    const entry: ActiveRun = {
      handle: null,
      finished: Promise.resolve(null as never),
      pending: null,
    };
    this.active.set(id, entry);
    // Requests from other processes (`run cancel ID` typed in another terminal): one
    // left from before this start is stale.
    const dir = this.runDir(id);
    clearControlRequest(dir);
    const poll = setInterval(() => {
      const asked = takeControlRequest(dir);
      if (asked === 'invalid') log.warn(`run ${id}: ignored an unreadable control request`);
      else if (asked !== null && this.active.get(id) === entry) {
        log.info(`run ${id}: ${asked} requested by another process`);
        if (entry.handle === null) entry.pending = asked;
        else entry.handle.control(asked);
      }
    }, CONTROL_POLL_MS);
    poll.unref();
    entry.finished = this.drive(id, entry, config, configHash, resumeFrom).finally(() => {
      clearInterval(poll);
      clearControlRequest(dir);
      this.active.delete(id);
    });
  }

  private async drive(
    id: number,
    entry: ActiveRun,
    config: RunConfig,
    configHash: string,
    resumeFrom: string | null,
  ): Promise<RunRow> {
    const db = this.ws.db;
    const queued = getRun(db, id)!;
    // After the catalog closed, the run as it was asked for stands in for it.
    const current = (): RunRow => (this.closed ? queued : getRun(db, id)!);
    try {
      const size = config.imageSize;
      const channels = config.channels;
      await buildTensorCache(this.ws, config.datasetVersionId, { size, channels });
      if (entry.pending !== null) {
        this.status(id, entry.pending === 'cancel' ? 'cancelled' : 'paused');
        return current();
      }
      if (this.closed) return current();
      const input: TrainJobInput = {
        runId: id,
        runDir: this.runDir(id),
        cachePath: tensorCachePath(this.ws, config.datasetVersionId, size, channels),
        config,
        configHash,
        resumeFrom,
        ...(process.env.LEJEPA_TEST_FAULTS
          ? { faults: JSON.parse(process.env.LEJEPA_TEST_FAULTS) as TrainJobInput['faults'] }
          : {}),
      };
      const handle = startJob(
        { module: TRAIN_JOB, input },
        {
          onProgress: (data) => {
            if (this.closed) return;
            const record = data as ProgressRecord;
            insertMetric(db, id, record);
            this.emit({ type: 'run.metrics', runId: id, record: { ...record } });
          },
          onEvent: (name, data) => this.onJobEvent(id, name, data),
          onLog: (record) => {
            writeRecord(record);
            if (!this.closed) insertRunLog(db, id, record);
          },
        },
      );
      entry.handle = handle;
      markStarted(db, id, { pid: handle.pid, hostPid: process.pid });
      this.emit({ type: 'run.status', runId: id, status: 'running' });
      this.finish(id, await handle.done);
    } catch (err) {
      const e = err as { message?: string; kind?: string };
      if (toErrorData(err).code === 'disk_full') {
        // The tensor cache could not be written: nothing of the run is lost.
        this.status(
          id,
          'interrupted',
          `The disk is full: the training images of dataset version ${config.datasetVersionId} could not be cached in ${this.ws.path('cache')}. Free space, then resume the run with \`lejepa-studio run resume ${id}\`.`,
        );
      } else this.status(id, 'failed', e.message ?? String(err));
    }
    return current();
  }

  private onJobEvent(id: number, name: string, data: unknown): void {
    if (this.closed) return;
    if (name === 'plan') {
      const plan = data as PlanEvent;
      setRunPlan(this.ws.db, id, plan);
    } else if (name === 'checkpoint') {
      const c = data as CheckpointEvent;
      insertCheckpoint(this.ws.db, { runId: id, ...c });
      this.pruneCheckpoints(id);
    }
  }

  /** Keeps every epoch/final/pause/cancel checkpoint and only the newest interval one. */
  private pruneCheckpoints(id: number): void {
    const all = locateCheckpoints(this.ws, id);
    const newest = all[all.length - 1];
    for (const c of all) {
      if (c.reason !== 'interval' || c === newest) continue;
      this.ws.db.prepare('DELETE FROM run_checkpoints WHERE id = ?').run(c.id);
      rmSync(c.path, { force: true });
    }
  }

  private finish(id: number, out: JobOutcome): void {
    switch (out.status) {
      case 'completed':
      case 'cancelled':
      case 'paused':
        this.status(id, out.status);
        break;
      case 'failed':
        // The train job's sentence for these says to free space or memory, then resume;
        // one raised elsewhere (a generic full disk) gets the command added.
        if (ENVIRONMENTAL_STOPS.has(out.error.code)) {
          const message = out.error.message.includes('run resume')
            ? out.error.message
            : `${out.error.message} The run can continue from its newest checkpoint: resume it with \`lejepa-studio run resume ${id}\`.`;
          this.status(id, 'interrupted', message);
          break;
        }
        this.status(id, 'failed', out.error.message);
        if (out.error.kind === 'bug') log.error(`run ${id} failed: ${out.error.detail ?? ''}`);
        break;
      case 'crashed':
        this.status(
          id,
          'interrupted',
          `The training process stopped unexpectedly (${out.signal ?? `exit code ${out.exitCode}`}). Resume it with \`lejepa-studio run resume ${id}\`.`,
        );
        break;
    }
  }
}

const hosts = new WeakMap<Workspace, JobHost>();

/** The job host of an open workspace (one per workspace and process). */
export function jobHost(ws: Workspace): JobHost {
  let host = hosts.get(ws);
  if (host === undefined) {
    host = new JobHost(ws);
    hosts.set(ws, host);
  }
  return host;
}
