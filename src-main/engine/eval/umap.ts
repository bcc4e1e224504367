/**
 * UMAP (McInnes, Healy & Melville 2018) for the 2-D/3-D view of an embedding,
 * seeded: PCA to at most 50 dimensions, a k-nearest-neighbour graph (exact up
 * to 20k points, inverted-file above), the fuzzy simplicial set (per-point
 * ρ and σ by bisection, symmetrised with the probabilistic t-conorm), a PCA
 * initial layout, then stochastic gradient descent with negative sampling.
 * Single-threaded; a job process runs `umapAsync`, which reports progress and
 * reads cancel requests between steps.
 */
import type { Features } from './features.ts';
import { knnGraphSteps } from './knn-graph.ts';
import { pca } from './pca.ts';
import { Rng } from '../rng.ts';

export interface UmapOptions {
  components?: number;
  neighbours?: number;
  /** Default 0.1; together with spread 1 it gives the curve a = 1.577, b = 0.895. */
  minDist?: number;
  epochs?: number;
  negativeRate?: number;
  seed?: number;
  /** Phases: 'pca', 'graph', 'layout'; done/total within the phase. */
  onProgress?: (phase: string, done: number, total: number) => void;
  shouldStop?: () => boolean;
}

export interface UmapResult {
  /** [n, components] row-major. */
  coords: Float32Array;
  components: number;
  exactGraph: boolean;
  epochs: number;
}

/** Projects the rows of f.x [n, d]; null when `shouldStop` asked to stop. */
export function umap(f: Features, options: UmapOptions = {}): UmapResult | null {
  const steps = umapSteps(f, options);
  let r = steps.next();
  while (r.done !== true) r = steps.next();
  return r.value;
}

/**
 * `umap` for a job process: between blocks of the neighbour graph and every ten
 * layout epochs it gives the event loop a turn, so that a cancel request is read
 * and `shouldStop` can see it. The same seed gives the same layout as `umap`.
 */
export async function umapAsync(
  f: Features,
  options: UmapOptions = {},
): Promise<UmapResult | null> {
  const steps = umapSteps(f, options);
  let r = steps.next();
  while (r.done !== true) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    r = steps.next();
  }
  return r.value;
}

/** The UMAP computation, pausing (a `yield`) wherever `shouldStop` is polled. */
function* umapSteps(f: Features, options: UmapOptions): Generator<void, UmapResult | null> {
  const dims = options.components ?? 2;
  const k = options.neighbours ?? 15;
  const rng = new Rng(options.seed ?? 0);
  const { n } = f;
  const progress = options.onProgress ?? (() => {});
  if (n < 3) throw new Error(`UMAP needs at least 3 points, got ${n}.`);

  // PCA first: fewer dimensions make the neighbour search cheaper and lose little.
  progress('pca', 0, 1);
  const reduced = f.d > 50 ? { x: pca(f, 50).coords, n, d: 50 } : f;
  const init = pca(reduced, Math.min(dims, reduced.d));
  progress('pca', 1, 1);

  const graph = yield* knnGraphSteps(reduced, k, {
    seed: options.seed ?? 0,
    onProgress: (done, total) => progress('graph', done, total),
    ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}),
  });
  if (graph === null) return null;
  const edges = fuzzySet(graph.indices, graph.distances, n, graph.k);

  const { a, b } = curve(options.minDist ?? 0.1);
  const epochs = options.epochs ?? (n <= 5_000 ? 500 : 200);
  const y = initialLayout(init.coords, init.components, n, dims, rng);
  const ok = yield* optimise(
    y,
    n,
    dims,
    edges,
    { a, b, epochs, negativeRate: options.negativeRate ?? 5 },
    rng,
    progress,
    options.shouldStop,
  );
  if (!ok) return null;
  return { coords: y, components: dims, exactGraph: graph.exact, epochs };
}

interface Edges {
  head: Int32Array;
  tail: Int32Array;
  weight: Float32Array;
}

/** Membership strengths exp(−(d − ρ_i)/σ_i), with Σ_j = log2(k) per point, then a + b − ab. */
function fuzzySet(indices: Int32Array, distances: Float32Array, n: number, k: number): Edges {
  const target = Math.log2(k);
  const w = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let rho = Infinity;
    for (let j = 0; j < k; j++) {
      const dd = distances[i * k + j]!;
      if (dd > 0 && dd < rho) rho = dd;
    }
    if (!Number.isFinite(rho)) rho = 0;
    let lo = 0;
    let hi = Infinity;
    let sigma = 1;
    for (let it = 0; it < 64; it++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += Math.exp(-Math.max(0, distances[i * k + j]! - rho) / sigma);
      if (Math.abs(s - target) < 1e-5) break;
      if (s > target) {
        hi = sigma;
        sigma = (lo + hi) / 2;
      } else {
        lo = sigma;
        sigma = hi === Infinity ? sigma * 2 : (lo + hi) / 2;
      }
    }
    for (let j = 0; j < k; j++) {
      w[i * k + j] = Math.exp(-Math.max(0, distances[i * k + j]! - rho) / Math.max(sigma, 1e-12));
    }
  }
  // Symmetrise: each undirected pair once, with a + b − a·b.
  const pair = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const t = indices[i * k + j]!;
      if (t === i) continue;
      const key = i < t ? i * n + t : t * n + i;
      const old = pair.get(key);
      const v = w[i * k + j]!;
      pair.set(key, old === undefined ? v : old + v - old * v);
    }
  }
  const m = pair.size;
  const head = new Int32Array(m);
  const tail = new Int32Array(m);
  const weight = new Float32Array(m);
  let e = 0;
  for (const [key, v] of pair) {
    head[e] = Math.floor(key / n);
    tail[e] = key % n;
    weight[e++] = v;
  }
  return { head, tail, weight };
}

/** The a, b of 1/(1 + a·d^(2b)) fitted to the min-dist curve (spread 1), by least squares on a grid. */
function curve(minDist: number): { a: number; b: number } {
  if (Math.abs(minDist - 0.1) < 1e-9) return { a: 1.577, b: 0.8951 };
  const xs = Array.from({ length: 300 }, (_, i) => (i + 1) / 100);
  const target = xs.map((x) => (x < minDist ? 1 : Math.exp(-(x - minDist))));
  let best = { a: 1, b: 1, err: Infinity };
  for (let a = 0.1; a <= 5; a += 0.02) {
    for (let b = 0.3; b <= 2; b += 0.01) {
      let err = 0;
      xs.forEach((x, i) => (err += (1 / (1 + a * Math.pow(x, 2 * b)) - target[i]!) ** 2));
      if (err < best.err) best = { a, b, err };
    }
  }
  return { a: best.a, b: best.b };
}

/** PCA coordinates scaled to a box of side 20, plus a little seeded jitter. */
function initialLayout(
  coords: Float32Array,
  have: number,
  n: number,
  dims: number,
  rng: Rng,
): Float32Array {
  const y = new Float32Array(n * dims);
  for (let c = 0; c < dims; c++) {
    let max = 0;
    for (let i = 0; i < n; i++) max = Math.max(max, c < have ? Math.abs(coords[i * have + c]!) : 0);
    const scale = max > 0 ? 10 / max : 0;
    for (let i = 0; i < n; i++) {
      const base = c < have ? coords[i * have + c]! * scale : 0;
      y[i * dims + c] = base + 1e-4 * rng.normal();
    }
  }
  return y;
}

/** SGD on the layout; every edge is sampled in proportion to its weight. */
function* optimise(
  y: Float32Array,
  n: number,
  dims: number,
  edges: Edges,
  p: { a: number; b: number; epochs: number; negativeRate: number },
  rng: Rng,
  progress: (phase: string, done: number, total: number) => void,
  shouldStop?: () => boolean,
): Generator<void, boolean> {
  const { a, b, epochs, negativeRate } = p;
  const m = edges.weight.length;
  let maxW = 0;
  for (const w of edges.weight) maxW = Math.max(maxW, w);
  // An edge of weight w is used every maxW/w epochs; weak edges (< maxW/epochs) never.
  const every = new Float32Array(m);
  const next = new Float32Array(m);
  for (let e = 0; e < m; e++) {
    every[e] = edges.weight[e]! > 0 ? maxW / edges.weight[e]! : Infinity;
    next[e] = every[e]!;
  }
  const delta = new Float64Array(dims);
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (epoch % 10 === 0) {
      yield;
      if (shouldStop?.()) return false;
      progress('layout', epoch, epochs);
    }
    const alpha = 1 - epoch / epochs;
    for (let e = 0; e < m; e++) {
      if (next[e]! > epoch + 1) continue;
      next[e] = next[e]! + every[e]!;
      // Each undirected edge pulls both ways: alternate which end moves first.
      for (let dir = 0; dir < 2; dir++) {
        const i = dir === 0 ? edges.head[e]! : edges.tail[e]!;
        const j = dir === 0 ? edges.tail[e]! : edges.head[e]!;
        const yi = i * dims;
        const yj = j * dims;
        let d2 = 0;
        for (let c = 0; c < dims; c++) {
          const v = y[yi + c]! - y[yj + c]!;
          delta[c] = v;
          d2 += v * v;
        }
        if (d2 > 0) {
          // −2ab·d^(2(b−1)) / (1 + a·d^(2b)) with one power.
          const pb = Math.pow(d2, b);
          const coeff = (-2 * a * b * pb) / (d2 * (1 + a * pb));
          for (let c = 0; c < dims; c++) {
            const g = clip(coeff * delta[c]!) * alpha;
            y[yi + c] = y[yi + c]! + g;
            y[yj + c] = y[yj + c]! - g;
          }
        }
        for (let s = 0; s < negativeRate; s++) {
          const t = rng.int(n);
          if (t === i) continue;
          const yt = t * dims;
          let dn = 0;
          for (let c = 0; c < dims; c++) {
            const v = y[yi + c]! - y[yt + c]!;
            delta[c] = v;
            dn += v * v;
          }
          if (dn <= 0) continue;
          const coeff = (2 * b) / ((0.001 + dn) * (1 + a * Math.pow(dn, b)));
          for (let c = 0; c < dims; c++) y[yi + c] = y[yi + c]! + clip(coeff * delta[c]!) * alpha;
        }
      }
    }
  }
  progress('layout', epochs, epochs);
  return true;
}

function clip(v: number): number {
  return v > 4 ? 4 : v < -4 ? -4 : v;
}
