/**
 * Nearest neighbours of an item or of a new embedding (an uploaded image).
 * Up to `exactLimit` items (a few hundred thousand) every query is exact: one
 * pass over the matrix, four items per loop turn, with a running top-k. Above
 * that an inverted-file index (k-means lists, the nearest `nprobe` lists
 * scanned) answers approximately; its recall is reported by the benchmark.
 */
import type { Features } from './features.ts';
import { kmeans } from './kmeans.ts';

export type NeighbourMetric = 'cosine' | 'euclidean';

export interface NeighbourHits {
  /** Row indices, nearest first. */
  indices: Int32Array;
  /** Cosine similarity (cosine) or Euclidean distance (euclidean), nearest first. */
  scores: Float32Array;
}

export interface NeighbourIndex {
  kind: 'exact' | 'ivf';
  n: number;
  d: number;
  metric: NeighbourMetric;
  /** The k nearest rows to q [d]; `exclude` leaves one row out (the query item itself). */
  query(q: Float32Array, k: number, exclude?: number): NeighbourHits;
}

export interface NeighbourIndexOptions {
  metric?: NeighbourMetric;
  /** Largest item count answered exactly (default 300,000). */
  exactLimit?: number;
  /** Lists of the approximate index (default √n). */
  lists?: number;
  /** Lists scanned per query (default 8). */
  probes?: number;
  seed?: number;
}

/** Builds an index over the rows of f.x [n, d]. The matrix is copied (normalised for cosine). */
export function buildNeighbourIndex(
  f: Features,
  options: NeighbourIndexOptions = {},
): NeighbourIndex {
  const metric = options.metric ?? 'cosine';
  const { n, d } = f;
  const x = Float32Array.from(f.x);
  const sq = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! ** 2;
    if (metric === 'cosine') {
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let j = 0; j < d; j++) x[i * d + j] = x[i * d + j]! * inv;
      sq[i] = s > 0 ? 1 : 0;
    } else sq[i] = s;
  }
  const prepare = (q: Float32Array) => {
    if (q.length !== d)
      throw new Error(`Neighbours: the query has ${q.length} values, expected ${d}.`);
    if (metric !== 'cosine') return q;
    const norm = Math.hypot(...q);
    return norm > 0 ? q.map((v) => v / norm) : q;
  };
  // Larger = nearer: cosine a·b, Euclidean 2a·b − ‖b‖² (the query's own norm does not rank).
  const finish = (top: TopK, q: Float32Array): NeighbourHits => {
    const indices = Int32Array.from(top.index.subarray(0, top.size));
    const scores = new Float32Array(top.size);
    let qq = 0;
    for (const v of q) qq += v * v;
    for (let r = 0; r < top.size; r++) {
      const s = top.score[r]!;
      scores[r] = metric === 'cosine' ? s : Math.sqrt(Math.max(0, qq - s));
    }
    return { indices, scores };
  };
  const scan = (q: Float32Array, rows: Int32Array | null, top: TopK, exclude: number) => {
    const count = rows === null ? n : rows.length;
    for (let t = 0; t < count; t++) {
      const i = rows === null ? t : rows[t]!;
      if (i === exclude) continue;
      const base = i * d;
      let a = 0;
      let b = 0;
      let c = 0;
      let e = 0;
      let j = 0;
      for (; j + 4 <= d; j += 4) {
        a += q[j]! * x[base + j]!;
        b += q[j + 1]! * x[base + j + 1]!;
        c += q[j + 2]! * x[base + j + 2]!;
        e += q[j + 3]! * x[base + j + 3]!;
      }
      for (; j < d; j++) a += q[j]! * x[base + j]!;
      const dot = a + b + c + e;
      top.push(metric === 'cosine' ? dot : 2 * dot - sq[i]!, i);
    }
  };

  if (n <= (options.exactLimit ?? 300_000)) {
    return {
      kind: 'exact',
      n,
      d,
      metric,
      query(q0, k, exclude = -1) {
        const q = prepare(q0);
        const top = new TopK(Math.min(k, n));
        scan(q, null, top, exclude);
        return finish(top, q);
      },
    };
  }

  const lists = options.lists ?? Math.round(Math.sqrt(n));
  const probes = Math.min(lists, options.probes ?? 8);
  const coarse = kmeans({ x, n, d }, lists, {
    seed: options.seed ?? 0,
    maxIter: 20,
    sampleRows: Math.min(n, 50 * lists),
  });
  const members: number[][] = Array.from({ length: lists }, () => []);
  coarse.assignments.forEach((c, i) => members[c]!.push(i));
  const inverted = members.map((m) => Int32Array.from(m));
  const centroidIndex = buildNeighbourIndex(
    { x: coarse.centroids, n: lists, d },
    { metric: 'euclidean' },
  );
  return {
    kind: 'ivf',
    n,
    d,
    metric,
    query(q0, k, exclude = -1) {
      const q = prepare(q0);
      const near = centroidIndex.query(q, probes);
      const top = new TopK(Math.min(k, n));
      for (const c of near.indices) scan(q, inverted[c]!, top, exclude);
      return finish(top, q);
    },
  };
}

/** The k largest scores seen so far, kept sorted (k is small: insertion is cheapest). */
class TopK {
  readonly score: Float32Array;
  readonly index: Int32Array;
  size = 0;
  constructor(readonly k: number) {
    this.score = new Float32Array(k);
    this.index = new Int32Array(k);
  }
  push(s: number, i: number): void {
    const { k, score, index } = this;
    if (this.size === k && s <= score[k - 1]!) return;
    let p = this.size < k ? this.size++ : k - 1;
    while (p > 0 && score[p - 1]! < s) {
      score[p] = score[p - 1]!;
      index[p] = index[p - 1]!;
      p--;
    }
    score[p] = s;
    index[p] = i;
  }
}
