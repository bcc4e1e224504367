/**
 * Projections of a stored embedding, in a job process: exact PCA (2-D/3-D),
 * seeded UMAP with progress and cancel, and k-means clusters for colouring.
 * Coordinates are written as raw float32 [n, components] (`.f32`), clusters
 * as int32 [n] (`.i32`), atomically; the host records them.
 *
 * UMAP gives the event loop a turn between its steps, so a cancel request is read
 * within a block of the neighbour graph or ten layout epochs. PCA and k-means are
 * short and synchronous: a cancel there ends the process after the host's grace
 * period, which loses nothing since results are written only at the end.
 */
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { kmeans } from '../engine/eval/kmeans.ts';
import { pca } from '../engine/eval/pca.ts';
import { umapAsync } from '../engine/eval/umap.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { readEmbedding } from './embed-store.ts';
import type { JobContext, JobEnd } from './protocol.ts';

export type ProjectJobInput = {
  files: { matrix: string; index: string };
  /** Output file without extension; the job adds `.f32` or `.i32`. */
  out: string;
  backend?: string;
} & (
  | { method: 'pca'; params: { components: number } }
  | {
      method: 'umap';
      params: { components: number; neighbours: number; minDist: number; seed: number };
    }
  | { method: 'kmeans'; params: { k: number; seed: number } }
);

export interface ProjectJobResult {
  path: string;
  seconds: number;
  /** PCA: explained variance per axis; k-means: inertia; UMAP: whether the graph was exact. */
  info: Record<string, unknown>;
}

const bytesOf = (a: Float32Array | Int32Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export async function run(ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as ProjectJobInput;
  await startBackend(
    input.backend && input.backend !== 'auto' ? { prefer: input.backend as BackendName } : {},
  );
  const { x, index } = readEmbedding(input.files);
  const f = { x, n: index.count, d: index.dim };
  const t0 = performance.now();
  let path: string;
  let info: Record<string, unknown>;
  if (input.method === 'pca') {
    const r = pca(f, input.params.components);
    path = `${input.out}.f32`;
    writeFileAtomic(path, bytesOf(r.coords));
    info = { explained: r.explained, variances: r.variances };
  } else if (input.method === 'kmeans') {
    const r = kmeans(f, input.params.k, { seed: input.params.seed });
    path = `${input.out}.i32`;
    writeFileAtomic(path, bytesOf(r.assignments));
    info = { inertia: r.inertia, iterations: r.iterations };
  } else {
    const phases = ['pca', 'graph', 'layout'];
    const r = await umapAsync(f, {
      ...input.params,
      onProgress: (phase, done, total) =>
        ctx.progress({
          // One bar over the three phases: PCA is quick, graph and layout share the rest.
          done: phases.indexOf(phase) * 1000 + Math.round((1000 * done) / Math.max(1, total)),
          total: 3000,
          message: phase,
        }),
      shouldStop: () => ctx.requested() !== null,
    });
    if (r === null) return { end: 'cancelled', data: null };
    path = `${input.out}.f32`;
    writeFileAtomic(path, bytesOf(r.coords));
    info = { exactGraph: r.exactGraph, epochs: r.epochs };
  }
  const result: ProjectJobResult = { path, seconds: (performance.now() - t0) / 1000, info };
  return { end: 'completed', data: result };
}
