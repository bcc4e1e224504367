/**
 * Evaluation: embeddings of a dataset version made with a run's checkpoint
 * (the float32 matrix lives in `embeddings/`, the row here keeps its lineage),
 * the evaluations computed on them (kNN, linear probe, isotropy), their
 * projections (PCA, UMAP, k-means) and the encoders exported from runs with
 * the outcome of their parity check.
 *
 * `lineage_key` / `params_key` make a repeated request find the stored result
 * instead of computing it again.
 */
import type { Migration } from './index.ts';

export const migration003: Migration = {
  version: 3,
  name: 'evaluation',
  up(db) {
    db.exec(`
      DROP TABLE IF EXISTS placeholder_evaluation;

      CREATE TABLE embeddings (
        id INTEGER PRIMARY KEY,
        version_id INTEGER NOT NULL REFERENCES dataset_versions (id) ON DELETE RESTRICT,
        run_id INTEGER REFERENCES runs (id) ON DELETE CASCADE,
        checkpoint_step INTEGER NOT NULL,
        head TEXT NOT NULL CHECK (head IN ('backbone', 'projector')),
        image_size INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        lineage_key TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('running', 'ready', 'failed', 'cancelled')),
        path TEXT,
        count INTEGER,
        dim INTEGER,
        backend TEXT,
        seconds REAL,
        message TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX embeddings_by_run ON embeddings (run_id, checkpoint_step);

      CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY,
        embedding_id INTEGER NOT NULL REFERENCES embeddings (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('knn', 'linear_probe', 'isotropy')),
        params_key TEXT NOT NULL,
        params_json TEXT NOT NULL,
        score REAL,
        result_json TEXT NOT NULL,
        seconds REAL NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (embedding_id, kind, params_key)
      );

      CREATE TABLE projections (
        id INTEGER PRIMARY KEY,
        embedding_id INTEGER NOT NULL REFERENCES embeddings (id) ON DELETE CASCADE,
        method TEXT NOT NULL CHECK (method IN ('pca', 'umap', 'kmeans')),
        params_key TEXT NOT NULL,
        params_json TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'ready', 'failed', 'cancelled')),
        path TEXT,
        message TEXT,
        seconds REAL,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        UNIQUE (embedding_id, method, params_key)
      );

      CREATE TABLE exports (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        checkpoint_step INTEGER NOT NULL,
        formats TEXT NOT NULL,
        with_projector INTEGER NOT NULL DEFAULT 0,
        dir TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed', 'error', 'cancelled')),
        parity_json TEXT,
        card_json TEXT,
        message TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX exports_by_run ON exports (run_id);
    `);
  },
};
