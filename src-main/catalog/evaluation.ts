/**
 * Typed queries for evaluations of embeddings (kNN, linear probe, isotropy)
 * and for projections (PCA, UMAP, k-means), both from migration 003.
 */
import type { Db } from './db.ts';

export type EvaluationKind = 'knn' | 'linear_probe' | 'isotropy';

export interface EvaluationRow {
  id: number;
  embeddingId: number;
  kind: EvaluationKind;
  paramsKey: string;
  params: unknown;
  /** The headline number: accuracy for kNN and probe, effective rank for isotropy. */
  score: number | null;
  result: unknown;
  seconds: number;
  createdAt: string;
}

interface RawEvaluation extends Omit<EvaluationRow, 'params' | 'result'> {
  paramsJson: string;
  resultJson: string;
}

const now = () => new Date().toISOString();
const SELECT_EVAL = `SELECT id, embedding_id AS embeddingId, kind, params_key AS paramsKey,
  params_json AS paramsJson, score, result_json AS resultJson, seconds, created_at AS createdAt
  FROM evaluations`;

function fromRaw(r: RawEvaluation): EvaluationRow {
  const { paramsJson, resultJson, ...rest } = r;
  return { ...rest, params: JSON.parse(paramsJson), result: JSON.parse(resultJson) };
}

/** Key of a parameter object with sorted keys, so {k, metric} and {metric, k} match. */
export function paramsKey(params: Record<string, unknown>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : 1))),
  );
}

export function findEvaluation(
  db: Db,
  embeddingId: number,
  kind: EvaluationKind,
  key: string,
): EvaluationRow | undefined {
  const r = db
    .prepare(`${SELECT_EVAL} WHERE embedding_id = ? AND kind = ? AND params_key = ?`)
    .get(embeddingId, kind, key) as RawEvaluation | undefined;
  return r === undefined ? undefined : fromRaw(r);
}

/** Records (or replaces) the result of one evaluation. */
export function saveEvaluation(db: Db, e: Omit<EvaluationRow, 'id' | 'createdAt'>): EvaluationRow {
  db.prepare(
    `INSERT INTO evaluations (embedding_id, kind, params_key, params_json, score, result_json, seconds, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (embedding_id, kind, params_key) DO UPDATE SET params_json = excluded.params_json,
        score = excluded.score, result_json = excluded.result_json, seconds = excluded.seconds,
        created_at = excluded.created_at`,
  ).run(
    e.embeddingId,
    e.kind,
    e.paramsKey,
    JSON.stringify(e.params),
    e.score,
    JSON.stringify(e.result),
    e.seconds,
    now(),
  );
  return findEvaluation(db, e.embeddingId, e.kind, e.paramsKey)!;
}

export function listEvaluations(db: Db, embeddingId?: number): EvaluationRow[] {
  const rows = (
    embeddingId === undefined
      ? db.prepare(`${SELECT_EVAL} ORDER BY id`).all()
      : db.prepare(`${SELECT_EVAL} WHERE embedding_id = ? ORDER BY id`).all(embeddingId)
  ) as RawEvaluation[];
  return rows.map(fromRaw);
}

/** Best probe and kNN accuracy per run (over its embeddings), for ranking runs. */
export function bestAccuracyByRun(
  db: Db,
  kind: 'knn' | 'linear_probe',
): { runId: number; score: number }[] {
  return db
    .prepare(
      `SELECT e.run_id AS runId, MAX(v.score) AS score FROM evaluations v
        JOIN embeddings e ON e.id = v.embedding_id
        WHERE v.kind = ? AND e.run_id IS NOT NULL AND v.score IS NOT NULL GROUP BY e.run_id`,
    )
    .all(kind) as { runId: number; score: number }[];
}

export type ProjectionMethod = 'pca' | 'umap' | 'kmeans';

export interface ProjectionRow {
  id: number;
  embeddingId: number;
  method: ProjectionMethod;
  paramsKey: string;
  status: 'running' | 'ready' | 'failed' | 'cancelled';
  path: string | null;
  message: string | null;
  seconds: number | null;
  createdAt: string;
  finishedAt: string | null;
}

const SELECT_PROJ = `SELECT id, embedding_id AS embeddingId, method, params_key AS paramsKey, status,
  path, message, seconds, created_at AS createdAt, finished_at AS finishedAt FROM projections`;

export function findProjection(
  db: Db,
  embeddingId: number,
  method: ProjectionMethod,
  key: string,
): ProjectionRow | undefined {
  return db
    .prepare(`${SELECT_PROJ} WHERE embedding_id = ? AND method = ? AND params_key = ?`)
    .get(embeddingId, method, key) as ProjectionRow | undefined;
}

export function getProjection(db: Db, id: number): ProjectionRow | undefined {
  return db.prepare(`${SELECT_PROJ} WHERE id = ?`).get(id) as ProjectionRow | undefined;
}

export function listProjections(db: Db, embeddingId: number): ProjectionRow[] {
  return db
    .prepare(`${SELECT_PROJ} WHERE embedding_id = ? ORDER BY id`)
    .all(embeddingId) as ProjectionRow[];
}

/** Inserts a running projection, or restarts a failed/cancelled one with the same parameters. */
export function beginProjection(
  db: Db,
  embeddingId: number,
  method: ProjectionMethod,
  params: Record<string, unknown>,
): ProjectionRow {
  const key = paramsKey(params);
  return db.transaction(() => {
    const old = findProjection(db, embeddingId, method, key);
    if (old !== undefined) {
      db.prepare(
        `UPDATE projections SET status = 'running', message = NULL, path = NULL, finished_at = NULL WHERE id = ?`,
      ).run(old.id);
      return getProjection(db, old.id)!;
    }
    const info = db
      .prepare(
        `INSERT INTO projections (embedding_id, method, params_key, params_json, status, created_at)
          VALUES (?, ?, ?, ?, 'running', ?)`,
      )
      .run(embeddingId, method, key, JSON.stringify(params), now());
    return getProjection(db, Number(info.lastInsertRowid))!;
  })();
}

export function endProjection(
  db: Db,
  id: number,
  end:
    | { status: 'ready'; path: string; seconds: number }
    | { status: 'failed' | 'cancelled'; message: string | null },
): void {
  if (end.status === 'ready') {
    db.prepare(
      `UPDATE projections SET status = 'ready', path = ?, seconds = ?, finished_at = ? WHERE id = ?`,
    ).run(end.path, end.seconds, now(), id);
  } else {
    db.prepare('UPDATE projections SET status = ?, message = ?, finished_at = ? WHERE id = ?').run(
      end.status,
      end.message,
      now(),
      id,
    );
  }
}
