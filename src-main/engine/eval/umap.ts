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
  // Symmetrise: each undirected pair once, with a + b − a·b, where b is the weight of
  // the reverse edge (found in the other point's row of k) or 0. A pair is emitted from
  // its smaller end, or from the larger when the smaller does not list it.
  const findIn = (row: number, target: number): number => {
    for (let j = 0; j < k; j++) if (indices[row * k + j] === target) return j;
    return -1;
  };
  const headList: number[] = [];
  const tailList: number[] = [];
  const weightList: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const t = indices[i * k + j]!;
      if (t === i || findIn(i, t) !== j) continue; // self, or a repeat within the row
      const back = findIn(t, i);
      if (t < i && back >= 0) continue; // emitted from t's row
      const u = w[i * k + j]!;
      const v = back >= 0 ? w[t * k + back]! : 0;
      headList.push(Math.min(i, t));
      tailList.push(Math.max(i, t));
      weightList.push(u + v - u * v);
    }
  }
  const head = Int32Array.from(headList);
  const tail = Int32Array.from(tailList);
  const weight = Float32Array.from(weightList);
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

/**
 * SGD on the layout; every edge is sampled in proportion to its weight. The hot loop
 * is written for 2 or 3 components with scalars (no per-sample arrays), and its
 * negative samples come from an xorshift128 stream seeded by `rng`, inlined: the same
 * seed gives the same layout.
 */
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
  if (dims !== 2 && dims !== 3) throw new Error(`UMAP lays out 2 or 3 components, got ${dims}.`);
  const three = dims === 3;
  const { a, b, epochs, negativeRate } = p;
  const { head, tail } = edges;
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
  const state = new Int32Array(4);
  for (let i = 0; i < 4; i++) state[i] = rng.nextUint32();
  state[0] = state[0]! | 1; // never the all-zero state
  const pass: LayoutPass = { y, n, three, a, b, negativeRate, head, tail, every, next, state };
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (epoch % 10 === 0) {
      yield;
      if (shouldStop?.()) return false;
      progress('layout', epoch, epochs);
    }
    layoutEpoch(pass, epoch, 1 - epoch / epochs);
  }
  progress('layout', epochs, epochs);
  return true;
}

interface LayoutPass {
  y: Float32Array;
  n: number;
  three: boolean;
  a: number;
  b: number;
  negativeRate: number;
  head: Int32Array;
  tail: Int32Array;
  every: Float32Array;
  next: Float32Array;
  /** xorshift128 state of the negative samples. */
  state: Int32Array;
}

/** One epoch of the layout at learning rate `alpha` (a plain function: the hot loop). */
function layoutEpoch(p: LayoutPass, epoch: number, alpha: number): void {
  const { y, three, a, b, negativeRate, head, tail, every, next, state } = p;
  const dims = three ? 3 : 2;
  const m = head.length;
  const toIndex = p.n / 4294967296;
  const twoAB = 2 * a * b;
  const twoB = 2 * b;
  const limit = 4 * alpha;
  let s0 = state[0]!;
  let s1 = state[1]!;
  let s2 = state[2]!;
  let s3 = state[3]!;
  for (let e = 0; e < m; e++) {
    if (next[e]! > epoch + 1) continue;
    next[e] = next[e]! + every[e]!;
    // Each undirected edge pulls both ways: alternate which end moves first.
    for (let dir = 0; dir < 2; dir++) {
      const yi = (dir === 0 ? head[e]! : tail[e]!) * dims;
      const yj = (dir === 0 ? tail[e]! : head[e]!) * dims;
      let xi = y[yi]!;
      let vi = y[yi + 1]!;
      let wi = three ? y[yi + 2]! : 0;
      const dx = xi - y[yj]!;
      const dy = vi - y[yj + 1]!;
      const dz = three ? wi - y[yj + 2]! : 0;
      const d2 = dx * dx + dy * dy + dz * dz;
      if (d2 > 0) {
        // −2ab·d^(2(b−1)) / (1 + a·d^(2b)) with one power; clip(coeff·δ)·α.
        const pb = powPositive(d2, b);
        const coeff = ((-twoAB * pb) / (d2 * (1 + a * pb))) * alpha;
        const gx = clipTo(coeff * dx, limit);
        const gy = clipTo(coeff * dy, limit);
        xi += gx;
        vi += gy;
        y[yj] = y[yj]! - gx;
        y[yj + 1] = y[yj + 1]! - gy;
        if (three) {
          const gz = clipTo(coeff * dz, limit);
          wi += gz;
          y[yj + 2] = y[yj + 2]! - gz;
        }
      }
      for (let s = 0; s < negativeRate; s++) {
        const t = s0 ^ (s0 << 11);
        s0 = s1;
        s1 = s2;
        s2 = s3;
        s3 = s3 ^ (s3 >>> 19) ^ (t ^ (t >>> 8));
        const yt = Math.floor((s3 >>> 0) * toIndex) * dims;
        if (yt === yi) continue;
        const nx = xi - y[yt]!;
        const ny = vi - y[yt + 1]!;
        const nz = three ? wi - y[yt + 2]! : 0;
        const dn = nx * nx + ny * ny + nz * nz;
        if (dn <= 0) continue;
        const coeff = (twoB / ((0.001 + dn) * (1 + a * powPositive(dn, b)))) * alpha;
        xi += clipTo(coeff * nx, limit);
        vi += clipTo(coeff * ny, limit);
        if (three) wi += clipTo(coeff * nz, limit);
      }
      y[yi] = xi;
      y[yi + 1] = vi;
      if (three) y[yi + 2] = wi;
    }
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

const bitsF32 = new Float32Array(1);
const bitsI32 = new Int32Array(bitsF32.buffer);
const POW2 = Float64Array.from({ length: 2046 }, (_, i) => Math.pow(2, i - 1022));

/**
 * x^b for x > 0, to about 2e-7 relative (x is rounded to float32 first): log2 from
 * the float's exponent and a series in its mantissa, then 2^y from a table and a
 * polynomial. About 3× faster than `Math.pow` in V8, and the layout calls it
 * hundreds of millions of times.
 */
function powPositive(x: number, b: number): number {
  if (!(x > 1e-30 && x < 1e30)) return Math.pow(x, b);
  bitsF32[0] = x;
  const bits = bitsI32[0]!;
  let e = (bits >>> 23) - 127;
  bitsI32[0] = (bits & 0x007fffff) | 0x3f800000;
  let m = bitsF32[0]!;
  if (m > Math.SQRT2) {
    m *= 0.5;
    e += 1;
  }
  // ln m = 2 atanh(t), t = (m − 1)/(m + 1), |t| ≤ 0.172.
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  const lnm = 2 * t * (1 + t2 * (1 / 3 + t2 * (1 / 5 + t2 * (1 / 7 + t2 / 9))));
  const y = b * (e + lnm / Math.LN2);
  const k = Math.floor(y);
  // 2^(y − k) = √2 · e^g with |g| ≤ ln2 / 2.
  const g = (y - k - 0.5) * Math.LN2;
  const eg = 1 + g * (1 + g * (1 / 2 + g * (1 / 6 + g * (1 / 24 + g * (1 / 120 + g / 720)))));
  return eg * Math.SQRT2 * POW2[k + 1022]!;
}

/** v clipped to [−limit, limit]: the gradient clip of 4, scaled by the learning rate. */
function clipTo(v: number, limit: number): number {
  return v > limit ? limit : v < -limit ? -limit : v;
}
