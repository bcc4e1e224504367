/**
 * Curation writes: tags, exclusions, labels and splits set by hand. Each call
 * is one transaction. Values set here win over what a later re-import finds
 * (`label_source` / `split_source` = 'manual').
 */
import type { Db } from './db.ts';
import type { Split } from './datasets.ts';

/** The ids among `ids` that belong to the dataset (others are ignored by the caller's check). */
export function itemsOfDataset(db: Db, datasetId: number, ids: readonly number[]): number[] {
  const check = db.prepare('SELECT 1 FROM items WHERE id = ? AND dataset_id = ?').pluck();
  return ids.filter((id) => check.get(id, datasetId) !== undefined);
}

/** Item ids for file paths (any alias) in a dataset; unknown paths are returned apart. */
export function itemsForPaths(
  db: Db,
  datasetId: number,
  paths: readonly string[],
): { ids: number[]; unknown: string[] } {
  const find = db
    .prepare('SELECT item_id FROM item_files WHERE dataset_id = ? AND (path = ? OR rel_path = ?)')
    .pluck();
  const ids: number[] = [];
  const unknown: string[] = [];
  for (const p of paths) {
    const id = find.get(datasetId, p, p) as number | undefined;
    if (id === undefined) unknown.push(p);
    else ids.push(id);
  }
  return { ids, unknown };
}

export function tagItems(
  db: Db,
  datasetId: number,
  ids: readonly number[],
  tag: string,
  remove = false,
): number {
  let changed = 0;
  db.transaction(() => {
    db.prepare('INSERT OR IGNORE INTO tags (dataset_id, name) VALUES (?, ?)').run(datasetId, tag);
    const tagId = db
      .prepare('SELECT id FROM tags WHERE dataset_id = ? AND name = ?')
      .pluck()
      .get(datasetId, tag) as number;
    const stmt = remove
      ? db.prepare('DELETE FROM item_tags WHERE item_id = ? AND tag_id = ?')
      : db.prepare('INSERT OR IGNORE INTO item_tags (item_id, tag_id) VALUES (?, ?)');
    for (const id of ids) changed += stmt.run(id, tagId).changes;
  })();
  return changed;
}

export function excludeItems(
  db: Db,
  ids: readonly number[],
  exclude: boolean,
  reason: string | null,
): number {
  const stmt = db.prepare('UPDATE items SET excluded = ?, exclude_reason = ? WHERE id = ?');
  let changed = 0;
  db.transaction(() => {
    for (const id of ids) changed += stmt.run(exclude ? 1 : 0, exclude ? reason : null, id).changes;
  })();
  return changed;
}

export function setSplits(
  db: Db,
  rows: ReadonlyArray<{ id: number; split: Split | null }>,
): number {
  const stmt = db.prepare(
    `UPDATE items SET split = ?, split_source = CASE WHEN ? IS NULL THEN 'import' ELSE 'manual' END
     WHERE id = ?`,
  );
  let changed = 0;
  db.transaction(() => {
    for (const r of rows) changed += stmt.run(r.split, r.split, r.id).changes;
  })();
  return changed;
}

export function setLabels(db: Db, ids: readonly number[], label: string | null): number {
  const stmt = db.prepare(`UPDATE items SET label = ?, label_source = 'manual' WHERE id = ?`);
  let changed = 0;
  db.transaction(() => {
    for (const id of ids) changed += stmt.run(label, id).changes;
  })();
  return changed;
}

/** Present, non-excluded items with their label, for splitting. */
export function splittableItems(
  db: Db,
  datasetId: number,
  onlyUnassigned: boolean,
): Array<{ id: number; label: string | null }> {
  return db
    .prepare(
      `SELECT id, label FROM items i WHERE dataset_id = ? AND excluded = 0
         ${onlyUnassigned ? 'AND split IS NULL' : ''}
         AND EXISTS (SELECT 1 FROM item_files f WHERE f.item_id = i.id AND f.present = 1)
       ORDER BY id`,
    )
    .all(datasetId) as Array<{ id: number; label: string | null }>;
}
