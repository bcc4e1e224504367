/**
 * Typed queries on the runs tables (migration 002). Every write is one
 * synchronous transaction; only the host process calls the writers.
 */
import type { ProgressRecord } from '../engine/train/progress.ts';
import type { Db } from './db.ts';

export type RunStatus =
  'queued' | 'running' | 'paused' | 'completed' | 'cancelled' | 'failed' | 'interrupted';

/** Statuses from which `run.resume` continues a run. */
export const RESUMABLE: readonly RunStatus[] = ['paused', 'interrupted', 'cancelled'];

export interface RunRow {
  id: number;
  name: string;
  datasetVersionId: number;
  config: unknown;
  configHash: string;
  status: RunStatus;
  message: string | null;
  pid: number | null;
  hostPid: number | null;
  backend: string | null;
  step: number;
  totalSteps: number | null;
  stepsPerEpoch: number | null;
  createdAt: string;
  startedAt: string | null;
  updatedAt: string;
  finishedAt: string | null;
}

export interface CheckpointRow {
  id: number;
  runId: number;
  step: number;
  epoch: number;
  path: string;
  bytes: number;
  reason: 'interval' | 'epoch' | 'final' | 'cancel' | 'pause';
  createdAt: string;
}

const now = () => new Date().toISOString();

interface RawRun {
  id: number;
  name: string;
  dataset_version_id: number;
  config_json: string;
  config_hash: string;
  status: RunStatus;
  message: string | null;
  pid: number | null;
  host_pid: number | null;
  backend: string | null;
  step: number;
  total_steps: number | null;
  steps_per_epoch: number | null;
  created_at: string;
  started_at: string | null;
  updated_at: string;
  finished_at: string | null;
}

function toRun(r: RawRun): RunRow {
  return {
    id: r.id,
    name: r.name,
    datasetVersionId: r.dataset_version_id,
    config: JSON.parse(r.config_json),
    configHash: r.config_hash,
    status: r.status,
    message: r.message,
    pid: r.pid,
    hostPid: r.host_pid,
    backend: r.backend,
    step: r.step,
    totalSteps: r.total_steps,
    stepsPerEpoch: r.steps_per_epoch,
    createdAt: r.created_at,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

export function insertRun(
  db: Db,
  run: { name: string; datasetVersionId: number; config: unknown; configHash: string },
): number {
  const t = now();
  const info = db
    .prepare(
      `INSERT INTO runs (name, dataset_version_id, config_json, config_hash, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'queued', ?, ?)`,
    )
    .run(run.name, run.datasetVersionId, JSON.stringify(run.config), run.configHash, t, t);
  return Number(info.lastInsertRowid);
}

export function getRun(db: Db, id: number): RunRow | undefined {
  const r = db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RawRun | undefined;
  return r === undefined ? undefined : toRun(r);
}

export function listRuns(db: Db, limit = 200): RunRow[] {
  return (db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?').all(limit) as RawRun[]).map(
    toRun,
  );
}

export function markStarted(db: Db, id: number, fields: { pid: number; hostPid: number }): void {
  const t = now();
  db.prepare(
    `UPDATE runs SET status = 'running', message = NULL, pid = ?, host_pid = ?,
       started_at = COALESCE(started_at, ?), updated_at = ?, finished_at = NULL
     WHERE id = ?`,
  ).run(fields.pid, fields.hostPid, t, t, id);
}

export function setRunPlan(
  db: Db,
  id: number,
  plan: { backend: string; totalSteps: number; stepsPerEpoch: number },
): void {
  db.prepare(
    'UPDATE runs SET backend = ?, total_steps = ?, steps_per_epoch = ?, updated_at = ? WHERE id = ?',
  ).run(plan.backend, plan.totalSteps, plan.stepsPerEpoch, now(), id);
}

/** Sets a final or resting status; clears the process ids. */
export function setRunStatus(
  db: Db,
  id: number,
  status: RunStatus,
  message: string | null = null,
): void {
  const t = now();
  const finished = status === 'completed' || status === 'failed' ? t : null;
  db.prepare(
    `UPDATE runs SET status = ?, message = ?, pid = NULL, host_pid = NULL, updated_at = ?,
       finished_at = COALESCE(?, finished_at) WHERE id = ?`,
  ).run(status, message, t, finished, id);
}

const metricColumns =
  'run_id, step, epoch, lr, pred, sigreg, total, probe_acc, images_per_sec, ms_per_step, live_tensors, memory_mb, grad_norm, time';

/** Stores one step's record and advances the run's step counter, in one transaction. */
export function insertMetric(db: Db, runId: number, r: ProgressRecord): void {
  db.transaction(() => {
    db.prepare(
      `INSERT OR REPLACE INTO run_metrics (${metricColumns}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    ).run(
      runId,
      r.step,
      r.epoch,
      r.lr,
      r.pred,
      r.sigreg,
      r.total,
      r.probeAcc,
      r.imagesPerSec,
      r.msPerStep,
      r.liveTensors,
      r.memoryMB,
      r.gradNorm,
      now(),
    );
    db.prepare('UPDATE runs SET step = ?, updated_at = ? WHERE id = ?').run(r.step, now(), runId);
  })();
}

export interface MetricRow extends ProgressRecord {
  time: string;
}

export function listMetrics(db: Db, runId: number, afterStep = 0, limit = 100_000): MetricRow[] {
  const rows = db
    .prepare(`SELECT * FROM run_metrics WHERE run_id = ? AND step > ? ORDER BY step LIMIT ?`)
    .all(runId, afterStep, limit) as Record<string, number | string | null>[];
  return rows.map((r) => ({
    step: r.step as number,
    epoch: r.epoch as number,
    lr: r.lr as number,
    pred: r.pred as number,
    sigreg: r.sigreg as number,
    total: r.total as number,
    probeAcc: r.probe_acc as number | null,
    imagesPerSec: r.images_per_sec as number,
    msPerStep: r.ms_per_step as number,
    liveTensors: r.live_tensors as number,
    memoryMB: r.memory_mb as number,
    gradNorm: r.grad_norm as number,
    time: r.time as string,
  }));
}

/**
 * Before a resume from `step`: forgets metrics of steps after it (they were lost
 * with the process and will be trained again) and rewinds the step counter.
 */
export function rewindRun(db: Db, runId: number, step: number): void {
  db.transaction(() => {
    db.prepare('DELETE FROM run_metrics WHERE run_id = ? AND step > ?').run(runId, step);
    db.prepare('DELETE FROM run_checkpoints WHERE run_id = ? AND step > ?').run(runId, step);
    db.prepare('UPDATE runs SET step = ?, updated_at = ? WHERE id = ?').run(step, now(), runId);
  })();
}

export function insertCheckpoint(db: Db, c: Omit<CheckpointRow, 'id' | 'createdAt'>): void {
  db.prepare(
    `INSERT OR REPLACE INTO run_checkpoints (run_id, step, epoch, path, bytes, reason, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(c.runId, c.step, c.epoch, c.path, c.bytes, c.reason, now());
}

export function listCheckpoints(db: Db, runId: number): CheckpointRow[] {
  return (
    db.prepare('SELECT * FROM run_checkpoints WHERE run_id = ? ORDER BY step').all(runId) as Record<
      string,
      unknown
    >[]
  ).map((r) => ({
    id: r.id as number,
    runId: r.run_id as number,
    step: r.step as number,
    epoch: r.epoch as number,
    path: r.path as string,
    bytes: r.bytes as number,
    reason: r.reason as CheckpointRow['reason'],
    createdAt: r.created_at as string,
  }));
}

export function insertRunLog(
  db: Db,
  runId: number,
  record: { time: string; level: string; message: string },
): void {
  db.prepare('INSERT INTO run_logs (run_id, time, level, message) VALUES (?, ?, ?, ?)').run(
    runId,
    record.time,
    record.level,
    record.message,
  );
}

export function listRunLogs(
  db: Db,
  runId: number,
  limit = 1000,
): { time: string; level: string; message: string }[] {
  return db
    .prepare(
      'SELECT time, level, message FROM (SELECT * FROM run_logs WHERE run_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id',
    )
    .all(runId, limit) as { time: string; level: string; message: string }[];
}

/** Runs whose status says a process is working on them. */
export function activeRuns(db: Db): RunRow[] {
  return (
    db.prepare("SELECT * FROM runs WHERE status IN ('queued', 'running')").all() as RawRun[]
  ).map(toRun);
}

export interface EpochSummary {
  /** 1-based epoch. */
  epoch: number;
  steps: number;
  pred: number;
  sigreg: number;
  total: number;
  probeAcc: number | null;
  /** Sum of the steps' durations (training only, no checkpoint or evaluation time). */
  trainSeconds: number;
  imagesPerSec: number;
}

/** Mean loss terms, time and throughput of each (possibly partial) epoch of a run. */
export function epochSummaries(db: Db, runId: number, stepsPerEpoch: number): EpochSummary[] {
  const rows = db
    .prepare(
      `SELECT (step - 1) / CAST(? AS INTEGER) + 1 AS epoch, COUNT(*) AS steps, AVG(pred) AS pred,
         AVG(sigreg) AS sigreg, AVG(total) AS total, AVG(probe_acc) AS probe_acc,
         SUM(ms_per_step) / 1000.0 AS seconds, SUM(images_per_sec * ms_per_step) AS images_ms
       FROM run_metrics WHERE run_id = ? GROUP BY (step - 1) / CAST(? AS INTEGER) ORDER BY epoch`,
    )
    .all(stepsPerEpoch, runId, stepsPerEpoch) as Record<string, number | null>[];
  return rows.map((r) => ({
    epoch: r.epoch!,
    steps: r.steps!,
    pred: r.pred!,
    sigreg: r.sigreg!,
    total: r.total!,
    probeAcc: r.probe_acc ?? null,
    trainSeconds: r.seconds!,
    imagesPerSec: r.images_ms! / 1000 / r.seconds!,
  }));
}
