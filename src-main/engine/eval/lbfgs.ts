/**
 * Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright,
 * Numerical Optimization, algorithms 7.4, 3.5 and 3.6), in float64 over a flat
 * parameter vector. Used by the linear probe, whose objective is smooth and
 * strongly convex, so the method converges in tens to a few hundred steps.
 */

/** Value and gradient of the objective at x. */
export type Objective = (x: Float64Array) => { f: number; g: Float64Array };

export interface LbfgsOptions {
  maxIter?: number;
  /** Pairs (s, y) kept for the inverse-Hessian estimate (default 10). */
  memory?: number;
  /** Stop when max |g| falls below this (default 1e-5). */
  gradTol?: number;
  /** Stop when the objective changes by less than this, relatively (default 1e-10). */
  fTol?: number;
  /** Polled between iterations; returning true stops the optimisation early. */
  shouldStop?: () => boolean;
  /** Called after each iteration with its number and the objective value. */
  onIteration?: (iteration: number, f: number) => void;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  g: Float64Array;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: 'gradient' | 'objective' | 'line-search' | 'max-iterations' | 'stopped';
}

const C1 = 1e-4;
const C2 = 0.9;
const MAX_LINE_SEARCH = 25;

/** Minimises `fun` from `x0` (which is not modified). */
export function lbfgs(fun: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const maxIter = options.maxIter ?? 500;
  const memory = options.memory ?? 10;
  const gradTol = options.gradTol ?? 1e-5;
  const fTol = options.fTol ?? 1e-10;
  const n = x0.length;
  let x: Float64Array = Float64Array.from(x0);
  let { f, g }: { f: number; g: Float64Array } = fun(x);
  let evaluations = 1;
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const rhoList: number[] = [];
  let iterations = 0;
  let reason: LbfgsResult['reason'] = 'max-iterations';

  while (iterations < maxIter) {
    if (maxAbs(g) <= gradTol) {
      reason = 'gradient';
      break;
    }
    if (options.shouldStop?.()) {
      reason = 'stopped';
      break;
    }
    const p = direction(g, sList, yList, rhoList);
    let dphi0 = dot(g, p);
    if (!(dphi0 < 0)) {
      // The curvature pairs lost positive definiteness: restart from steepest descent.
      sList.length = yList.length = rhoList.length = 0;
      for (let i = 0; i < n; i++) p[i] = -g[i]!;
      dphi0 = dot(g, p);
    }
    const step0 = iterations === 0 ? Math.min(1, 1 / sumAbs(g)) : 1;
    const ls = lineSearch(fun, x, f, dphi0, p, step0);
    evaluations += ls.evaluations;
    iterations++;
    if (ls.step === 0) {
      reason = 'line-search';
      break;
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = ls.x[i]! - x[i]!;
      y[i] = ls.g[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (sList.length === memory) {
        sList.shift();
        yList.shift();
        rhoList.shift();
      }
      sList.push(s);
      yList.push(y);
      rhoList.push(1 / sy);
    }
    const fPrev = f;
    x = ls.x;
    f = ls.f;
    g = ls.g;
    options.onIteration?.(iterations, f);
    if (Math.abs(fPrev - f) <= fTol * Math.max(1, Math.abs(f))) {
      reason = 'objective';
      break;
    }
  }
  if (iterations >= maxIter && maxAbs(g) <= gradTol) reason = 'gradient';
  const converged = reason === 'gradient' || reason === 'objective';
  return { x, f, g, iterations, evaluations, converged, reason };
}

/** Two-loop recursion: −H·g with H the L-BFGS inverse-Hessian estimate. */
function direction(
  g: Float64Array,
  sList: Float64Array[],
  yList: Float64Array[],
  rhoList: number[],
): Float64Array {
  const q = Float64Array.from(g);
  const m = sList.length;
  const alpha = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    alpha[i] = rhoList[i]! * dot(sList[i]!, q);
    axpy(-alpha[i]!, yList[i]!, q);
  }
  if (m > 0) {
    const y = yList[m - 1]!;
    const gamma = dot(sList[m - 1]!, y) / dot(y, y);
    for (let i = 0; i < q.length; i++) q[i] = q[i]! * gamma;
  }
  for (let i = 0; i < m; i++) {
    const beta = rhoList[i]! * dot(yList[i]!, q);
    axpy(alpha[i]! - beta, sList[i]!, q);
  }
  for (let i = 0; i < q.length; i++) q[i] = -q[i]!;
  return q;
}

interface Point {
  a: number;
  f: number;
  d: number;
  x: Float64Array;
  g: Float64Array;
}

/** Finds a step satisfying the strong Wolfe conditions along p; step 0 when none is found. */
function lineSearch(
  fun: Objective,
  x: Float64Array,
  f0: number,
  dphi0: number,
  p: Float64Array,
  step0: number,
): { step: number; x: Float64Array; f: number; g: Float64Array; evaluations: number } {
  let evaluations = 0;
  const at = (a: number): Point => {
    const xa = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) xa[i] = x[i]! + a * p[i]!;
    const r = fun(xa);
    evaluations++;
    return { a, f: r.f, d: dot(r.g, p), x: xa, g: r.g };
  };
  const done = (pt: Point) => ({ step: pt.a, x: pt.x, f: pt.f, g: pt.g, evaluations });
  const sufficient = (pt: Point) => pt.f <= f0 + C1 * pt.a * dphi0;
  const curvature = (pt: Point) => Math.abs(pt.d) <= -C2 * dphi0;

  const zoom = (lo: Point, hi: Point) => {
    for (let j = 0; j < MAX_LINE_SEARCH; j++) {
      const a = safeguardedCubic(lo, hi);
      const pt = at(a);
      if (!sufficient(pt) || pt.f >= lo.f) hi = pt;
      else {
        if (curvature(pt)) return done(pt);
        if (pt.d * (hi.a - lo.a) >= 0) hi = lo;
        lo = pt;
      }
      if (Math.abs(hi.a - lo.a) < 1e-12 * Math.max(1, lo.a)) break;
    }
    // No point met the curvature condition; a point with sufficient decrease still helps.
    return lo.a > 0 && lo.f < f0 ? done(lo) : { ...done(lo), step: 0 };
  };

  let prev: Point = { a: 0, f: f0, d: dphi0, x, g: new Float64Array(0) };
  let a = step0;
  for (let i = 0; i < MAX_LINE_SEARCH; i++) {
    const pt = at(a);
    if (!Number.isFinite(pt.f) || !sufficient(pt) || (i > 0 && pt.f >= prev.f)) {
      if (!Number.isFinite(pt.f)) {
        a = prev.a + (a - prev.a) / 4;
        continue;
      }
      return zoom(prev, pt);
    }
    if (curvature(pt)) return done(pt);
    if (pt.d >= 0) return zoom(pt, prev);
    prev = pt;
    a *= 2.5;
  }
  return prev.a > 0 ? done(prev) : { step: 0, x, f: f0, g: new Float64Array(0), evaluations };
}

/** Minimiser of the cubic through (lo, hi) values and slopes, kept inside the bracket. */
function safeguardedCubic(lo: Point, hi: Point): number {
  const a0 = Math.min(lo.a, hi.a);
  const a1 = Math.max(lo.a, hi.a);
  const margin = 0.1 * (a1 - a0);
  const d1 = lo.d + hi.d - (3 * (lo.f - hi.f)) / (lo.a - hi.a);
  const disc = d1 * d1 - lo.d * hi.d;
  if (disc >= 0 && lo.a !== hi.a) {
    const d2 = Math.sign(hi.a - lo.a) * Math.sqrt(disc);
    const t = hi.a - ((hi.a - lo.a) * (hi.d + d2 - d1)) / (hi.d - lo.d + 2 * d2);
    if (Number.isFinite(t)) return Math.min(Math.max(t, a0 + margin), a1 - margin);
  }
  return (a0 + a1) / 2;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] = y[i]! + alpha * x[i]!;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function sumAbs(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += Math.abs(v);
  return s;
}
