/**
 * Embedding files under `<workspace>/embeddings/`: `e<id>.f32` holds the raw
 * little-endian float32 matrix [count, dim] row-major, `e<id>.json` the item
 * index (item ids, labels, splits, classes) and the lineage. Both are written
 * atomically; the matrix first, so an index never points at a missing matrix.
 */
import { existsSync, readFileSync } from 'node:fs';

import { expected } from '../api/errors.ts';
import type { Split } from '../catalog/datasets.ts';
import type { LabelledFeatures } from '../engine/eval/features.ts';
import { writeFileAtomic } from './atomic-file.ts';

export interface EmbeddingIndex {
  format: 1;
  count: number;
  dim: number;
  versionId: number;
  versionHash: string;
  runId: number | null;
  checkpointStep: number;
  head: 'backbone' | 'projector';
  imageSize: number;
  channels: number;
  classes: string[];
  itemIds: number[];
  /** Index into classes, -1 = no label. */
  labels: number[];
  splits: Split[];
}

export interface StoredEmbedding {
  index: EmbeddingIndex;
  /** Row-major [count, dim]. */
  x: Float32Array;
}

export function embeddingFiles(dir: string, id: number): { matrix: string; index: string } {
  return { matrix: `${dir}/e${id}.f32`, index: `${dir}/e${id}.json` };
}

export function writeEmbedding(
  files: { matrix: string; index: string },
  index: EmbeddingIndex,
  x: Float32Array,
): void {
  if (x.length !== index.count * index.dim) {
    throw new Error(`embedding: ${x.length} values for ${index.count}×${index.dim}`);
  }
  writeFileAtomic(files.matrix, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  writeFileAtomic(files.index, new TextEncoder().encode(JSON.stringify(index)));
}

/** Reads a stored embedding; a missing or truncated file is an expected error naming it. */
export function readEmbedding(files: { matrix: string; index: string }): StoredEmbedding {
  for (const p of [files.matrix, files.index]) {
    if (!existsSync(p)) {
      throw expected(
        'embedding_missing',
        `The embedding file ${p} is missing. Compute the embedding again with \`lejepa-studio embed\`.`,
      );
    }
  }
  const index = JSON.parse(readFileSync(files.index, 'utf8')) as EmbeddingIndex;
  const bytes = readFileSync(files.matrix);
  if (bytes.length !== index.count * index.dim * 4) {
    throw expected(
      'embedding_truncated',
      `The embedding file ${files.matrix} has ${bytes.length} bytes, expected ${index.count * index.dim * 4}. Compute the embedding again.`,
    );
  }
  const x = new Float32Array(index.count * index.dim);
  new Uint8Array(x.buffer).set(bytes);
  return { index, x };
}

/** The labelled rows of the given splits as a feature set (rows keep their order). */
export function splitFeatures(
  e: StoredEmbedding,
  splits: Split[],
): LabelledFeatures & { rows: number[] } {
  const { index, x } = e;
  const rows: number[] = [];
  for (let i = 0; i < index.count; i++) if (splits.includes(index.splits[i]!)) rows.push(i);
  const out = new Float32Array(rows.length * index.dim);
  rows.forEach((r, k) => out.set(x.subarray(r * index.dim, (r + 1) * index.dim), k * index.dim));
  return {
    x: out,
    n: rows.length,
    d: index.dim,
    labels: Int32Array.from(rows, (r) => index.labels[r] ?? -1),
    rows,
  };
}
