/**
 * Typed queries for embeddings (migration 003): one row per (dataset version,
 * run, checkpoint step, head, image size) with the path of its float32 matrix
 * under `embeddings/`, relative to the workspace.
 */
import type { Db } from './db.ts';

export type EmbeddingStatus = 'running' | 'ready' | 'failed' | 'cancelled';
export type EmbeddingHead = 'backbone' | 'projector';

export interface EmbeddingLineage {
  versionId: number;
  runId: number | null;
  checkpointStep: number;
  head: EmbeddingHead;
  imageSize: number;
  channels: number;
}

export interface EmbeddingRow extends EmbeddingLineage {
  id: number;
  lineageKey: string;
  status: EmbeddingStatus;
  path: string | null;
  count: number | null;
  dim: number | null;
  backend: string | null;
  seconds: number | null;
  message: string | null;
  createdAt: string;
  finishedAt: string | null;
}

const now = () => new Date().toISOString();

const SELECT = `SELECT id, version_id AS versionId, run_id AS runId, checkpoint_step AS checkpointStep,
  head, image_size AS imageSize, channels, lineage_key AS lineageKey, status, path, count, dim,
  backend, seconds, message, created_at AS createdAt, finished_at AS finishedAt FROM embeddings`;

/**
 * The key that makes the same request find the same stored matrix. The version's
 * content hash is part of it, so a version rebuilt with other items never matches.
 */
export function lineageKey(l: EmbeddingLineage, versionHash: string): string {
  return [
    `v${l.versionId}:${versionHash}`,
    `r${l.runId ?? 'none'}@${l.checkpointStep}`,
    l.head,
    `${l.imageSize}x${l.channels}`,
  ].join('|');
}

export function getEmbedding(db: Db, id: number): EmbeddingRow | undefined {
  return db.prepare(`${SELECT} WHERE id = ?`).get(id) as EmbeddingRow | undefined;
}

export function findEmbedding(db: Db, key: string): EmbeddingRow | undefined {
  return db.prepare(`${SELECT} WHERE lineage_key = ?`).get(key) as EmbeddingRow | undefined;
}

export function listEmbeddings(
  db: Db,
  filter: { runId?: number; versionId?: number } = {},
): EmbeddingRow[] {
  const where: string[] = [];
  const args: number[] = [];
  if (filter.runId !== undefined) {
    where.push('run_id = ?');
    args.push(filter.runId);
  }
  if (filter.versionId !== undefined) {
    where.push('version_id = ?');
    args.push(filter.versionId);
  }
  const sql = `${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC`;
  return db.prepare(sql).all(...args) as EmbeddingRow[];
}

/**
 * Claims the lineage key for a new computation: inserts a `running` row, or
 * turns a failed/cancelled row with the same key back to `running`.
 */
export function beginEmbedding(db: Db, l: EmbeddingLineage, key: string): EmbeddingRow {
  return db.transaction(() => {
    const old = findEmbedding(db, key);
    if (old !== undefined) {
      db.prepare(
        `UPDATE embeddings SET status = 'running', message = NULL, path = NULL, count = NULL,
          dim = NULL, finished_at = NULL, created_at = ? WHERE id = ?`,
      ).run(now(), old.id);
      return getEmbedding(db, old.id)!;
    }
    const info = db
      .prepare(
        `INSERT INTO embeddings (version_id, run_id, checkpoint_step, head, image_size, channels,
          lineage_key, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
      )
      .run(l.versionId, l.runId, l.checkpointStep, l.head, l.imageSize, l.channels, key, now());
    return getEmbedding(db, Number(info.lastInsertRowid))!;
  })();
}

export function finishEmbedding(
  db: Db,
  id: number,
  r: { path: string; count: number; dim: number; backend: string; seconds: number },
): void {
  db.prepare(
    `UPDATE embeddings SET status = 'ready', path = ?, count = ?, dim = ?, backend = ?,
      seconds = ?, finished_at = ? WHERE id = ?`,
  ).run(r.path, r.count, r.dim, r.backend, r.seconds, now(), id);
}

export function endEmbedding(
  db: Db,
  id: number,
  status: 'failed' | 'cancelled',
  message: string | null,
): void {
  db.prepare('UPDATE embeddings SET status = ?, message = ?, finished_at = ? WHERE id = ?').run(
    status,
    message,
    now(),
    id,
  );
}

/** Embeddings left `running` by a host that died are marked failed when a host opens the workspace. */
export function failStaleEmbeddings(db: Db): number {
  return db
    .prepare(
      `UPDATE embeddings SET status = 'failed', message = 'The studio stopped while this embedding was computed.', finished_at = ? WHERE status = 'running'`,
    )
    .run(now()).changes;
}
