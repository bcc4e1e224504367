/**
 * Datasets: the folders a lab imports, the images found in them and what the
 * user decided about each one, and the frozen versions that runs refer to.
 *
 * - `items` are keyed by content hash inside a dataset: two files with the same
 *   bytes are one item with two rows in `item_files` (its aliases).
 * - `file_issues` keeps one row per file that could not be used (`skipped`) or
 *   was used with a remark (`warning`), with a stable code.
 * - `dataset_versions` + `version_items` are written once, in one transaction,
 *   and never updated: a version keeps the hash and path of every item so that
 *   it can be rebuilt later and a file changed on disk is caught at use.
 */
import type { Migration } from './index.ts';

export const migration001: Migration = {
  version: 1,
  name: 'datasets',
  up(db) {
    db.exec(`
      CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        labels TEXT NOT NULL CHECK (labels IN ('imagefolder', 'csv', 'none')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE dataset_roots (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        csv_path TEXT,
        split_layout INTEGER NOT NULL DEFAULT 0,
        added_at TEXT NOT NULL,
        UNIQUE (dataset_id, path)
      );

      CREATE TABLE dataset_imports (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'cancelled', 'failed')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        summary TEXT
      );

      CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        hash TEXT NOT NULL,
        format TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        dhash TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        thumb TEXT NOT NULL,
        label TEXT,
        label_source TEXT NOT NULL DEFAULT 'import' CHECK (label_source IN ('import', 'manual')),
        split TEXT CHECK (split IN ('train', 'val', 'test')),
        split_source TEXT NOT NULL DEFAULT 'import' CHECK (split_source IN ('import', 'manual')),
        excluded INTEGER NOT NULL DEFAULT 0,
        exclude_reason TEXT,
        label_conflict INTEGER NOT NULL DEFAULT 0,
        split_conflict INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        UNIQUE (dataset_id, hash)
      );
      CREATE INDEX items_label ON items (dataset_id, label);

      CREATE TABLE item_files (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        root_id INTEGER NOT NULL REFERENCES dataset_roots(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        rel_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ms REAL NOT NULL,
        label TEXT,
        split TEXT CHECK (split IN ('train', 'val', 'test')),
        present INTEGER NOT NULL DEFAULT 1,
        UNIQUE (dataset_id, path)
      );
      CREATE INDEX item_files_item ON item_files (item_id);

      CREATE TABLE file_issues (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        root_id INTEGER NOT NULL REFERENCES dataset_roots(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('skipped', 'warning')),
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        size INTEGER,
        mtime_ms REAL,
        UNIQUE (dataset_id, path, code)
      );
      CREATE INDEX file_issues_path ON file_issues (dataset_id, path);

      CREATE TABLE tags (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        UNIQUE (dataset_id, name)
      );

      CREATE TABLE item_tags (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
        PRIMARY KEY (item_id, tag_id)
      ) WITHOUT ROWID;
      CREATE INDEX item_tags_tag ON item_tags (tag_id);

      CREATE TABLE near_duplicates (
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        item_a INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        item_b INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        distance INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'kept', 'dismissed')),
        PRIMARY KEY (item_a, item_b),
        CHECK (item_a < item_b)
      ) WITHOUT ROWID;
      CREATE INDEX near_duplicates_dataset ON near_duplicates (dataset_id);

      CREATE TABLE dataset_versions (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE RESTRICT,
        number INTEGER NOT NULL,
        name TEXT,
        note TEXT,
        content_hash TEXT NOT NULL,
        item_count INTEGER NOT NULL,
        classes TEXT NOT NULL,
        split_counts TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (dataset_id, number)
      );

      CREATE TABLE version_items (
        version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE RESTRICT,
        position INTEGER NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE RESTRICT,
        hash TEXT NOT NULL,
        path TEXT NOT NULL,
        label TEXT,
        split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
        PRIMARY KEY (version_id, position)
      ) WITHOUT ROWID;

      -- A frozen version never changes: refuse updates and deletes of its rows.
      CREATE TRIGGER version_items_immutable_update BEFORE UPDATE ON version_items
      BEGIN SELECT RAISE(ABORT, 'dataset versions are immutable'); END;
      CREATE TRIGGER version_items_immutable_delete BEFORE DELETE ON version_items
      BEGIN SELECT RAISE(ABORT, 'dataset versions are immutable'); END;
      CREATE TRIGGER dataset_versions_immutable BEFORE UPDATE OF
        dataset_id, number, content_hash, item_count, classes, split_counts ON dataset_versions
      BEGIN SELECT RAISE(ABORT, 'dataset versions are immutable'); END;
    `);
  },
};
