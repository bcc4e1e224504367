/** Typed queries for exact duplicates (items with several files) and near duplicates. */
import type { Db } from './db.ts';
import type { Split } from './datasets.ts';

export interface NearPairRow {
  a: number;
  b: number;
  distance: number;
}

/** Items with their dHash, for the near-duplicate search (present items only). */
export function itemHashes(
  db: Db,
  datasetId: number,
): Array<{ id: number; dhash: string; fingerprint: Uint8Array }> {
  return db
    .prepare(
      `SELECT id, dhash, fingerprint FROM items i WHERE dataset_id = ? AND EXISTS
         (SELECT 1 FROM item_files f WHERE f.item_id = i.id AND f.present = 1) ORDER BY id`,
    )
    .all(datasetId) as Array<{ id: number; dhash: string; fingerprint: Uint8Array }>;
}

/** Adds newly found near-duplicate pairs; pairs already reviewed keep their status. */
export function addNearDuplicates(db: Db, datasetId: number, pairs: NearPairRow[]): number {
  const insert = db.prepare(
    `INSERT OR IGNORE INTO near_duplicates (dataset_id, item_a, item_b, distance)
     VALUES (?, ?, ?, ?)`,
  );
  let added = 0;
  db.transaction(() => {
    for (const p of pairs) added += insert.run(datasetId, p.a, p.b, p.distance).changes;
  })();
  return added;
}

export interface ExactDuplicate {
  itemId: number;
  hash: string;
  label: string | null;
  labelConflict: boolean;
  splitConflict: boolean;
  files: Array<{ path: string; label: string | null; split: Split | null }>;
}

export function exactDuplicates(db: Db, datasetId: number, limit = 1000): ExactDuplicate[] {
  const items = db
    .prepare(
      `SELECT i.id, i.hash, i.label, i.label_conflict, i.split_conflict FROM items i
       WHERE i.dataset_id = ? AND
         (SELECT COUNT(*) FROM item_files f WHERE f.item_id = i.id AND f.present = 1) > 1
       ORDER BY (i.label_conflict + i.split_conflict) DESC, i.id LIMIT ?`,
    )
    .all(datasetId, limit) as Array<{
    id: number;
    hash: string;
    label: string | null;
    label_conflict: number;
    split_conflict: number;
  }>;
  const files = db.prepare(
    'SELECT path, label, split FROM item_files WHERE item_id = ? AND present = 1 ORDER BY id',
  );
  return items.map((i) => ({
    itemId: i.id,
    hash: i.hash,
    label: i.label,
    labelConflict: i.label_conflict === 1,
    splitConflict: i.split_conflict === 1,
    files: files.all(i.id) as ExactDuplicate['files'],
  }));
}

export interface NearDuplicate {
  a: { id: number; path: string; label: string | null };
  b: { id: number; path: string; label: string | null };
  distance: number;
  status: 'open' | 'kept' | 'dismissed';
}

export function nearDuplicates(db: Db, datasetId: number, limit = 1000): NearDuplicate[] {
  const firstPath = `(SELECT path FROM item_files f WHERE f.item_id = %s AND f.present = 1
     ORDER BY f.id LIMIT 1)`;
  const rows = db
    .prepare(
      `SELECT n.item_a, n.item_b, n.distance, n.status, ia.label AS la, ib.label AS lb,
         ${firstPath.replace('%s', 'n.item_a')} AS pa, ${firstPath.replace('%s', 'n.item_b')} AS pb
       FROM near_duplicates n JOIN items ia ON ia.id = n.item_a JOIN items ib ON ib.id = n.item_b
       WHERE n.dataset_id = ? AND pa IS NOT NULL AND pb IS NOT NULL
       ORDER BY n.distance, n.item_a, n.item_b LIMIT ?`,
    )
    .all(datasetId, limit) as Array<{
    item_a: number;
    item_b: number;
    distance: number;
    status: NearDuplicate['status'];
    la: string | null;
    lb: string | null;
    pa: string;
    pb: string;
  }>;
  return rows.map((r) => ({
    a: { id: r.item_a, path: r.pa, label: r.la },
    b: { id: r.item_b, path: r.pb, label: r.lb },
    distance: r.distance,
    status: r.status,
  }));
}

export function duplicateCounts(
  db: Db,
  datasetId: number,
): { exact: number; labelConflicts: number; splitConflicts: number; near: number } {
  return db
    .prepare(
      `SELECT
         (SELECT COUNT(*) FROM (SELECT 1 FROM item_files WHERE dataset_id = @d AND present = 1
           GROUP BY item_id HAVING COUNT(*) > 1)) AS exact,
         (SELECT COUNT(*) FROM items WHERE dataset_id = @d AND label_conflict = 1) AS labelConflicts,
         (SELECT COUNT(*) FROM items WHERE dataset_id = @d AND split_conflict = 1) AS splitConflicts,
         (SELECT COUNT(*) FROM near_duplicates WHERE dataset_id = @d) AS near`,
    )
    .get({ d: datasetId }) as {
    exact: number;
    labelConflicts: number;
    splitConflicts: number;
    near: number;
  };
}
