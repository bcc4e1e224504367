/**
 * Typed queries for exported encoders (migration 003): one row per export of
 * a run's checkpoint, with its folder under `exports/` (relative to the
 * workspace), its formats, the outcome of the parity check and the model card.
 */
import type { Db } from './db.ts';

export type ExportStatus = 'running' | 'passed' | 'failed' | 'error' | 'cancelled';

export interface ExportRow {
  id: number;
  runId: number;
  checkpointStep: number;
  formats: string[];
  withProjector: boolean;
  dir: string;
  status: ExportStatus;
  parity: unknown;
  card: unknown;
  message: string | null;
  createdAt: string;
  finishedAt: string | null;
}

interface Raw {
  id: number;
  run_id: number;
  checkpoint_step: number;
  formats: string;
  with_projector: number;
  dir: string;
  status: ExportStatus;
  parity_json: string | null;
  card_json: string | null;
  message: string | null;
  created_at: string;
  finished_at: string | null;
}

const now = () => new Date().toISOString();

function fromRaw(r: Raw): ExportRow {
  return {
    id: r.id,
    runId: r.run_id,
    checkpointStep: r.checkpoint_step,
    formats: r.formats.split(','),
    withProjector: r.with_projector === 1,
    dir: r.dir,
    status: r.status,
    parity: r.parity_json === null ? null : JSON.parse(r.parity_json),
    card: r.card_json === null ? null : JSON.parse(r.card_json),
    message: r.message,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}

export function getExport(db: Db, id: number): ExportRow | undefined {
  const r = db.prepare('SELECT * FROM exports WHERE id = ?').get(id) as Raw | undefined;
  return r === undefined ? undefined : fromRaw(r);
}

export function listExports(db: Db, runId?: number): ExportRow[] {
  const rows = (
    runId === undefined
      ? db.prepare('SELECT * FROM exports ORDER BY id DESC').all()
      : db.prepare('SELECT * FROM exports WHERE run_id = ? ORDER BY id DESC').all(runId)
  ) as Raw[];
  return rows.map(fromRaw);
}

/** Records a new export as running; `dir` is filled from the new id by `dirFor`. */
export function beginExport(
  db: Db,
  e: { runId: number; checkpointStep: number; formats: string[]; withProjector: boolean },
  dirFor: (id: number) => string,
): ExportRow {
  return db.transaction(() => {
    const info = db
      .prepare(
        `INSERT INTO exports (run_id, checkpoint_step, formats, with_projector, dir, status, created_at)
          VALUES (?, ?, ?, ?, '', 'running', ?)`,
      )
      .run(e.runId, e.checkpointStep, e.formats.join(','), e.withProjector ? 1 : 0, now());
    const id = Number(info.lastInsertRowid);
    db.prepare('UPDATE exports SET dir = ? WHERE id = ?').run(dirFor(id), id);
    return getExport(db, id)!;
  })();
}

export function endExport(
  db: Db,
  id: number,
  end: {
    status: Exclude<ExportStatus, 'running'>;
    parity?: unknown;
    card?: unknown;
    message?: string | null;
  },
): void {
  db.prepare(
    `UPDATE exports SET status = ?, parity_json = ?, card_json = ?, message = ?, finished_at = ? WHERE id = ?`,
  ).run(
    end.status,
    end.parity === undefined ? null : JSON.stringify(end.parity),
    end.card === undefined ? null : JSON.stringify(end.card),
    end.message ?? null,
    now(),
    id,
  );
}
