/** Typed queries for the per-file import outcomes that are not plain successes. */
import type { Db } from './db.ts';

export interface IssueRow {
  path: string;
  kind: 'skipped' | 'warning';
  code: string;
  message: string;
}

export function listIssues(
  db: Db,
  datasetId: number,
  filter: { kind?: 'skipped' | 'warning'; code?: string; limit?: number; offset?: number } = {},
): { total: number; rows: IssueRow[] } {
  const where = ['dataset_id = @d'];
  if (filter.kind !== undefined) where.push('kind = @kind');
  if (filter.code !== undefined) where.push('code = @code');
  const params = { d: datasetId, kind: filter.kind, code: filter.code };
  const clause = where.join(' AND ');
  const total = db
    .prepare(`SELECT COUNT(*) FROM file_issues WHERE ${clause}`)
    .pluck()
    .get(params) as number;
  const rows = db
    .prepare(
      `SELECT path, kind, code, message FROM file_issues WHERE ${clause}
       ORDER BY kind, code, path LIMIT @limit OFFSET @offset`,
    )
    .all({ ...params, limit: filter.limit ?? 1000, offset: filter.offset ?? 0 }) as IssueRow[];
  return { total, rows };
}

/** Counts of skipped files by code and of files with warnings, for some roots of a dataset. */
export function issueCounts(
  db: Db,
  datasetId: number,
  rootIds: number[],
): { skipped: Record<string, number>; warned: number } {
  const inRoots = `root_id IN (${rootIds.map(() => '?').join(',') || 'NULL'})`;
  const skipped: Record<string, number> = {};
  const rows = db
    .prepare(
      `SELECT code, COUNT(*) AS n FROM file_issues
       WHERE dataset_id = ? AND kind = 'skipped' AND ${inRoots} GROUP BY code ORDER BY code`,
    )
    .all(datasetId, ...rootIds) as Array<{ code: string; n: number }>;
  for (const r of rows) skipped[r.code] = r.n;
  const warned = db
    .prepare(
      `SELECT COUNT(DISTINCT path) FROM file_issues
       WHERE dataset_id = ? AND kind = 'warning' AND ${inRoots}`,
    )
    .pluck()
    .get(datasetId, ...rootIds) as number;
  return { skipped, warned };
}

/** Items of the dataset with at least one present file. */
export function presentItemCount(db: Db, datasetId: number): number {
  return db
    .prepare(`SELECT COUNT(DISTINCT item_id) FROM item_files WHERE dataset_id = ? AND present = 1`)
    .pluck()
    .get(datasetId) as number;
}

export function presentFileCount(db: Db, datasetId: number, rootIds: number[]): number {
  return db
    .prepare(
      `SELECT COUNT(*) FROM item_files WHERE dataset_id = ? AND present = 1 AND root_id IN (${rootIds
        .map(() => '?')
        .join(',')})`,
    )
    .pluck()
    .get(datasetId, ...rootIds) as number;
}
