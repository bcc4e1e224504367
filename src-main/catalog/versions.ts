/**
 * Frozen dataset versions. Freezing copies, in one transaction, every present
 * and not excluded item with its label, split (none → train), content hash and
 * current path into `version_items`; triggers in migration 001 refuse any later
 * change. The version's content hash covers (item hash, label, split) sorted by
 * item hash, so it names the content, not the catalog's row ids.
 */
import { createHash } from 'node:crypto';

import type { Db } from './db.ts';
import type { Split } from './datasets.ts';

export interface VersionRow {
  id: number;
  dataset_id: number;
  number: number;
  name: string | null;
  note: string | null;
  content_hash: string;
  item_count: number;
  classes: string;
  split_counts: string;
  created_at: string;
}

export interface Version {
  id: number;
  datasetId: number;
  number: number;
  name: string | null;
  note: string | null;
  contentHash: string;
  itemCount: number;
  classes: string[];
  splitCounts: Record<Split, number>;
  createdAt: string;
}

export interface VersionItem {
  position: number;
  itemId: number;
  hash: string;
  path: string;
  label: string | null;
  split: Split;
}

export function toVersion(r: VersionRow): Version {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    number: r.number,
    name: r.name,
    note: r.note,
    contentHash: r.content_hash,
    itemCount: r.item_count,
    classes: JSON.parse(r.classes) as string[],
    splitCounts: JSON.parse(r.split_counts) as Record<Split, number>,
    createdAt: r.created_at,
  };
}

export function versionContentHash(
  rows: ReadonlyArray<{ hash: string; label: string | null; split: Split }>,
): string {
  const lines = rows
    .map((r) => `${r.hash}\t${r.label ?? ''}\t${r.split}\n`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const h = createHash('sha256');
  for (const line of lines) h.update(line);
  return h.digest('hex');
}

/**
 * Freezes the dataset's current state. When the newest version already has
 * exactly this content, no version is made and that one is returned.
 */
export function createVersion(
  db: Db,
  datasetId: number,
  meta: { name?: string; note?: string },
): { version: Version; created: boolean } {
  return db.transaction(() => {
    const rows = db
      .prepare(
        `SELECT i.id AS itemId, i.hash, i.label, COALESCE(i.split, 'train') AS split,
           (SELECT path FROM item_files f WHERE f.item_id = i.id AND f.present = 1
             ORDER BY f.id LIMIT 1) AS path
         FROM items i WHERE i.dataset_id = ? AND i.excluded = 0 AND EXISTS
           (SELECT 1 FROM item_files f WHERE f.item_id = i.id AND f.present = 1)
         ORDER BY i.id`,
      )
      .all(datasetId) as Array<Omit<VersionItem, 'position'>>;
    const contentHash = versionContentHash(rows);
    const latest = db
      .prepare('SELECT * FROM dataset_versions WHERE dataset_id = ? ORDER BY number DESC LIMIT 1')
      .get(datasetId) as VersionRow | undefined;
    if (latest !== undefined && latest.content_hash === contentHash) {
      return { version: toVersion(latest), created: false };
    }
    const classes = [...new Set(rows.map((r) => r.label).filter((l) => l !== null))].sort();
    const splitCounts: Record<Split, number> = { train: 0, val: 0, test: 0 };
    for (const r of rows) splitCounts[r.split]++;
    const info = db
      .prepare(
        `INSERT INTO dataset_versions (dataset_id, number, name, note, content_hash, item_count,
           classes, split_counts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        datasetId,
        (latest?.number ?? 0) + 1,
        meta.name ?? null,
        meta.note ?? null,
        contentHash,
        rows.length,
        JSON.stringify(classes),
        JSON.stringify(splitCounts),
        new Date().toISOString(),
      );
    const versionId = Number(info.lastInsertRowid);
    const insert = db.prepare(
      `INSERT INTO version_items (version_id, position, item_id, hash, path, label, split)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    rows.forEach((r, position) =>
      insert.run(versionId, position, r.itemId, r.hash, r.path, r.label, r.split),
    );
    return { version: getVersion(db, versionId)!, created: true };
  })();
}

export function getVersion(db: Db, versionId: number): Version | undefined {
  const row = db.prepare('SELECT * FROM dataset_versions WHERE id = ?').get(versionId) as
    VersionRow | undefined;
  return row === undefined ? undefined : toVersion(row);
}

export function findVersion(db: Db, datasetId: number, number: number): Version | undefined {
  const row = db
    .prepare('SELECT * FROM dataset_versions WHERE dataset_id = ? AND number = ?')
    .get(datasetId, number) as VersionRow | undefined;
  return row === undefined ? undefined : toVersion(row);
}

export function listVersions(db: Db, datasetId?: number): Version[] {
  const rows = (
    datasetId === undefined
      ? db.prepare('SELECT * FROM dataset_versions ORDER BY id').all()
      : db
          .prepare('SELECT * FROM dataset_versions WHERE dataset_id = ? ORDER BY number')
          .all(datasetId)
  ) as VersionRow[];
  return rows.map(toVersion);
}

export function versionItems(db: Db, versionId: number): VersionItem[] {
  return db
    .prepare(
      `SELECT position, item_id AS itemId, hash, path, label, split FROM version_items
       WHERE version_id = ? ORDER BY position`,
    )
    .all(versionId) as VersionItem[];
}
