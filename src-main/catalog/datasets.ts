/** Typed queries for datasets, their root folders and their import records (migration 001). */
import type { Db } from './db.ts';

export type LabelMode = 'imagefolder' | 'csv' | 'none';
export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export interface DatasetRow {
  id: number;
  name: string;
  labels: LabelMode;
  created_at: string;
  updated_at: string;
}

export interface RootRow {
  id: number;
  dataset_id: number;
  path: string;
  csv_path: string | null;
  split_layout: number;
  added_at: string;
}

export interface ImportRow {
  id: number;
  dataset_id: number;
  status: 'running' | 'done' | 'cancelled' | 'failed';
  started_at: string;
  finished_at: string | null;
  summary: string | null;
}

export interface DatasetStats {
  items: number;
  files: number;
  excluded: number;
  missing: number;
  skipped: number;
  warnings: number;
  classes: number;
  versions: number;
}

const now = () => new Date().toISOString();

export function findDatasetByName(db: Db, name: string): DatasetRow | undefined {
  return db.prepare('SELECT * FROM datasets WHERE name = ?').get(name) as DatasetRow | undefined;
}

export function getDataset(db: Db, id: number): DatasetRow | undefined {
  return db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow | undefined;
}

export function listDatasets(db: Db): DatasetRow[] {
  return db.prepare('SELECT * FROM datasets ORDER BY id').all() as DatasetRow[];
}

export function insertDataset(db: Db, name: string, labels: LabelMode): DatasetRow {
  const at = now();
  const info = db
    .prepare('INSERT INTO datasets (name, labels, created_at, updated_at) VALUES (?, ?, ?, ?)')
    .run(name, labels, at, at);
  return getDataset(db, Number(info.lastInsertRowid))!;
}

export function touchDataset(db: Db, id: number, labels?: LabelMode): void {
  if (labels === undefined) {
    db.prepare('UPDATE datasets SET updated_at = ? WHERE id = ?').run(now(), id);
  } else {
    db.prepare('UPDATE datasets SET updated_at = ?, labels = ? WHERE id = ?').run(
      now(),
      labels,
      id,
    );
  }
}

export function listRoots(db: Db, datasetId: number): RootRow[] {
  return db
    .prepare('SELECT * FROM dataset_roots WHERE dataset_id = ? ORDER BY id')
    .all(datasetId) as RootRow[];
}

/** Adds a root folder to a dataset, or updates the one already there. */
export function upsertRoot(
  db: Db,
  datasetId: number,
  path: string,
  csvPath: string | null,
  splitLayout: boolean,
): RootRow {
  db.prepare(
    `INSERT INTO dataset_roots (dataset_id, path, csv_path, split_layout, added_at)
     VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (dataset_id, path) DO UPDATE SET csv_path = excluded.csv_path,
       split_layout = excluded.split_layout`,
  ).run(datasetId, path, csvPath, splitLayout ? 1 : 0, now());
  return db
    .prepare('SELECT * FROM dataset_roots WHERE dataset_id = ? AND path = ?')
    .get(datasetId, path) as RootRow;
}

export function startImport(db: Db, datasetId: number): number {
  // An import that was killed stays 'running' in the catalog; the next one closes it.
  db.prepare(
    `UPDATE dataset_imports SET status = 'failed', finished_at = ?
     WHERE dataset_id = ? AND status = 'running'`,
  ).run(now(), datasetId);
  const info = db
    .prepare(
      `INSERT INTO dataset_imports (dataset_id, status, started_at) VALUES (?, 'running', ?)`,
    )
    .run(datasetId, now());
  return Number(info.lastInsertRowid);
}

export function finishImport(
  db: Db,
  importId: number,
  status: ImportRow['status'],
  summary: unknown,
): void {
  db.prepare(
    'UPDATE dataset_imports SET status = ?, finished_at = ?, summary = ? WHERE id = ?',
  ).run(status, now(), JSON.stringify(summary), importId);
}

export function lastImport(db: Db, datasetId: number): ImportRow | undefined {
  return db
    .prepare('SELECT * FROM dataset_imports WHERE dataset_id = ? ORDER BY id DESC LIMIT 1')
    .get(datasetId) as ImportRow | undefined;
}

export function datasetStats(db: Db, datasetId: number): DatasetStats {
  const present = `EXISTS (SELECT 1 FROM item_files f WHERE f.item_id = i.id AND f.present = 1)`;
  return db
    .prepare(
      `SELECT
        (SELECT COUNT(*) FROM items i WHERE i.dataset_id = @d AND ${present}) AS items,
        (SELECT COUNT(*) FROM item_files WHERE dataset_id = @d AND present = 1) AS files,
        (SELECT COUNT(*) FROM items i WHERE i.dataset_id = @d AND excluded = 1 AND ${present})
          AS excluded,
        (SELECT COUNT(*) FROM items i WHERE i.dataset_id = @d AND NOT ${present}) AS missing,
        (SELECT COUNT(*) FROM file_issues WHERE dataset_id = @d AND kind = 'skipped') AS skipped,
        (SELECT COUNT(DISTINCT path) FROM file_issues WHERE dataset_id = @d AND kind = 'warning')
          AS warnings,
        (SELECT COUNT(DISTINCT label) FROM items i
          WHERE i.dataset_id = @d AND label IS NOT NULL AND ${present}) AS classes,
        (SELECT COUNT(*) FROM dataset_versions WHERE dataset_id = @d) AS versions`,
    )
    .get({ d: datasetId }) as DatasetStats;
}
