/**
 * Runs: one row per training run (its configuration as JSON, status, the
 * process that runs it), one row per step of metrics, one per checkpoint
 * written, and the run's log lines. The host process writes all of them; jobs
 * only send messages.
 */
import type { Migration } from './index.ts';

export const migration002: Migration = {
  version: 2,
  name: 'runs',
  up(db) {
    db.exec(`
      DROP TABLE IF EXISTS placeholder_runs;

      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        dataset_version_id INTEGER NOT NULL,
        config_json TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
          ('queued', 'running', 'paused', 'completed', 'cancelled', 'failed', 'interrupted')),
        message TEXT,
        pid INTEGER,
        host_pid INTEGER,
        backend TEXT,
        step INTEGER NOT NULL DEFAULT 0,
        total_steps INTEGER,
        steps_per_epoch INTEGER,
        created_at TEXT NOT NULL,
        started_at TEXT,
        updated_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX runs_by_status ON runs (status);

      CREATE TABLE run_metrics (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        epoch REAL NOT NULL,
        lr REAL NOT NULL,
        pred REAL NOT NULL,
        sigreg REAL NOT NULL,
        total REAL NOT NULL,
        probe_acc REAL,
        images_per_sec REAL NOT NULL,
        ms_per_step REAL NOT NULL,
        live_tensors INTEGER NOT NULL,
        memory_mb REAL NOT NULL,
        grad_norm REAL NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (run_id, step)
      ) WITHOUT ROWID;

      CREATE TABLE run_checkpoints (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        epoch REAL NOT NULL,
        path TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        reason TEXT NOT NULL CHECK (reason IN ('interval', 'epoch', 'final', 'cancel', 'pause')),
        created_at TEXT NOT NULL,
        UNIQUE (run_id, step)
      );

      CREATE TABLE run_logs (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        time TEXT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX run_logs_by_run ON run_logs (run_id, id);
    `);
  },
};
