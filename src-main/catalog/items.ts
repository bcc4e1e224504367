/**
 * Typed queries for items, their files (aliases), per-file issues and the
 * bookkeeping an import needs. Every multi-row write is one transaction.
 */
import type { Db } from './db.ts';
import type { Split } from './datasets.ts';

export interface FileRecord {
  rootId: number;
  path: string;
  rel: string;
  size: number;
  mtimeMs: number;
  label: string | null;
  split: Split | null;
}

export interface ItemFacts {
  hash: string;
  format: string;
  width: number;
  height: number;
  channels: number;
  bytes: number;
  dhash: string;
  /** 16×16 grey thumbnail, 256 bytes, for confirming near duplicates. */
  fingerprint: Uint8Array;
  thumb: string;
}

export interface IssueFacts {
  kind: 'skipped' | 'warning';
  code: string;
  message: string;
}

/** One file's outcome as the importer hands it to the catalog. */
export interface FileOutcomeRecord {
  file: FileRecord;
  item?: ItemFacts;
  issues: IssueFacts[];
}

export interface ItemRow {
  id: number;
  dataset_id: number;
  hash: string;
  format: string;
  width: number;
  height: number;
  channels: number;
  bytes: number;
  dhash: string;
  thumb: string;
  label: string | null;
  label_source: 'import' | 'manual';
  split: Split | null;
  split_source: 'import' | 'manual';
  excluded: number;
  exclude_reason: string | null;
  label_conflict: number;
  split_conflict: number;
  created_at: string;
}

export interface KnownFile {
  size: number;
  mtimeMs: number;
  /** Undefined for a file that was skipped. */
  label?: string | null;
  split?: Split | null;
  /** The file's catalog row, when it was imported as an item. */
  row?: { id: number; rootId: number; present: boolean };
}

/**
 * What the catalog already knows about the files of some roots, by path: the
 * stat (size + mtime) of each file imported or skipped before. A file whose
 * stat is unchanged is not read again.
 */
export function knownFiles(db: Db, datasetId: number): Map<string, KnownFile> {
  const known = new Map<string, KnownFile>();
  const files = db
    .prepare(
      `SELECT path, size, mtime_ms, label, split, id, root_id, present FROM item_files
       WHERE dataset_id = ?`,
    )
    .raw()
    .all(datasetId) as Array<
    [string, number, number, string | null, Split | null, number, number, number]
  >;
  for (const [path, size, mtimeMs, label, split, id, rootId, present] of files) {
    known.set(path, { size, mtimeMs, label, split, row: { id, rootId, present: present === 1 } });
  }
  const issues = db
    .prepare(
      `SELECT path, size, mtime_ms FROM file_issues
       WHERE dataset_id = ? AND kind = 'skipped' AND size IS NOT NULL`,
    )
    .raw()
    .all(datasetId) as Array<[string, number, number]>;
  for (const [path, size, mtimeMs] of issues) {
    known.set(path, { size, mtimeMs, row: known.get(path)?.row });
  }
  return known;
}

/** Writes one batch of import outcomes in a single transaction. */
export function writeOutcomes(db: Db, datasetId: number, outcomes: FileOutcomeRecord[]): void {
  const at = new Date().toISOString();
  const findItem = db.prepare('SELECT id FROM items WHERE dataset_id = ? AND hash = ?').pluck();
  const insertItem = db.prepare(
    `INSERT INTO items (dataset_id, hash, format, width, height, channels, bytes, dhash,
       fingerprint, thumb, label, split, created_at)
     VALUES (@datasetId, @hash, @format, @width, @height, @channels, @bytes, @dhash,
       @fingerprint, @thumb, @label, @split, @at)`,
  );
  const upsertFile = db.prepare(
    `INSERT INTO item_files (dataset_id, item_id, root_id, path, rel_path, size, mtime_ms,
       label, split, present)
     VALUES (@datasetId, @itemId, @rootId, @path, @rel, @size, @mtimeMs, @label, @split, 1)
     ON CONFLICT (dataset_id, path) DO UPDATE SET item_id = excluded.item_id,
       root_id = excluded.root_id, rel_path = excluded.rel_path, size = excluded.size,
       mtime_ms = excluded.mtime_ms, label = excluded.label, split = excluded.split, present = 1`,
  );
  const dropFile = db.prepare('DELETE FROM item_files WHERE dataset_id = ? AND path = ?');
  const dropIssues = db.prepare('DELETE FROM file_issues WHERE dataset_id = ? AND path = ?');
  const insertIssue = db.prepare(
    `INSERT OR REPLACE INTO file_issues (dataset_id, root_id, path, kind, code, message, size,
       mtime_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (const { file, item, issues } of outcomes) {
      dropIssues.run(datasetId, file.path);
      if (item === undefined) {
        // The file was an item before and is not usable now: it stops being an alias.
        dropFile.run(datasetId, file.path);
      } else {
        let itemId = findItem.get(datasetId, item.hash) as number | undefined;
        if (itemId === undefined) {
          const info = insertItem.run({
            ...item,
            fingerprint: Buffer.from(item.fingerprint),
            datasetId,
            label: file.label,
            split: file.split,
            at,
          });
          itemId = Number(info.lastInsertRowid);
        }
        upsertFile.run({ ...file, datasetId, itemId });
      }
      for (const issue of issues) {
        insertIssue.run(
          datasetId,
          file.rootId,
          file.path,
          issue.kind,
          issue.code,
          issue.message,
          // Scan-time problems (unreadable names, folders) have no stat to compare later.
          issue.kind === 'skipped' && file.size >= 0 ? file.size : null,
          file.mtimeMs,
        );
      }
    }
  })();
}

/** Updates the label and split of files whose content did not change (a new CSV, a moved root). */
export function relabelFiles(
  db: Db,
  datasetId: number,
  rows: Array<{ path: string; label: string | null; split: Split | null }>,
): void {
  const update = db.prepare(
    'UPDATE item_files SET label = ?, split = ? WHERE dataset_id = ? AND path = ?',
  );
  db.transaction(() => {
    for (const r of rows) update.run(r.label, r.split, datasetId, r.path);
  })();
}

/**
 * Marks as missing the files of `rootIds` that the last scan did not see, and
 * as present the ones it saw unchanged. `known` is what `knownFiles` read before
 * the import: rows written since belong to files the scan saw, and are present.
 */
export function markPresence(
  db: Db,
  datasetId: number,
  rootIds: number[],
  seen: ReadonlySet<string>,
  known: ReadonlyMap<string, KnownFile>,
): { missing: number; changed: number } {
  const roots = new Set(rootIds);
  const set = db.prepare('UPDATE item_files SET present = ? WHERE id = ?');
  const dropIssues = db.prepare('DELETE FROM file_issues WHERE dataset_id = ? AND path = ?');
  const issuePaths = db
    .prepare(
      `SELECT DISTINCT path FROM file_issues WHERE dataset_id = ? AND root_id IN (${rootIds
        .map(() => '?')
        .join(',')})`,
    )
    .pluck()
    .all(datasetId, ...rootIds) as string[];
  let missing = 0;
  let changed = 0;
  db.transaction(() => {
    for (const [path, { row }] of known) {
      if (row === undefined || !roots.has(row.rootId)) continue;
      const present = seen.has(path);
      if (!present) missing++;
      if (present !== row.present) {
        set.run(present ? 1 : 0, row.id);
        changed++;
      }
    }
    // Problems of files that are gone are no longer problems.
    for (const path of issuePaths) if (!seen.has(path)) dropIssues.run(datasetId, path);
  })();
  return { missing, changed };
}

/**
 * Recomputes what depends on all of an item's files: its label and split (from
 * its first present file, unless set by hand) and the conflict flags raised when
 * its exact duplicates disagree on the label or sit in train and in val/test.
 */
export function refreshItemDerived(db: Db, datasetId: number): void {
  db.transaction(() => {
    db.prepare(
      `UPDATE items SET
         label = CASE WHEN label_source = 'manual' THEN label ELSE
           (SELECT f.label FROM item_files f WHERE f.item_id = items.id AND f.present = 1
            ORDER BY f.id LIMIT 1) END,
         split = CASE WHEN split_source = 'manual' THEN split ELSE
           (SELECT f.split FROM item_files f WHERE f.item_id = items.id AND f.present = 1
            ORDER BY f.id LIMIT 1) END,
         label_conflict = (SELECT COUNT(DISTINCT COALESCE(f.label, '')) > 1 FROM item_files f
           WHERE f.item_id = items.id AND f.present = 1),
         split_conflict = (SELECT COALESCE(SUM(f.split = 'train') > 0
             AND SUM(f.split IN ('val', 'test')) > 0, 0)
           FROM item_files f WHERE f.item_id = items.id AND f.present = 1)
       WHERE dataset_id = ? AND EXISTS
         (SELECT 1 FROM item_files f WHERE f.item_id = items.id AND f.present = 1)`,
    ).run(datasetId);
  })();
}

export function getItem(db: Db, id: number): ItemRow | undefined {
  return db.prepare('SELECT * FROM items WHERE id = ?').get(id) as ItemRow | undefined;
}

export function itemFiles(
  db: Db,
  itemId: number,
): Array<{ path: string; label: string | null; split: Split | null; present: number }> {
  return db
    .prepare('SELECT path, label, split, present FROM item_files WHERE item_id = ? ORDER BY id')
    .all(itemId) as Array<{
    path: string;
    label: string | null;
    split: Split | null;
    present: number;
  }>;
}
