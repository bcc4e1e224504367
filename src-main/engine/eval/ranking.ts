/**
 * Label-free ranking of runs. The LeJEPA paper reports that the final training
 * loss tracks downstream accuracy across runs, more tightly once divided by
 * λ^0.4 (its §6 model-selection result). Spearman's rank correlation says how
 * well that held on the runs of this workspace that had labels.
 */

export interface RunLoss {
  runId: number;
  /** Final training loss (total LeJEPA objective). */
  loss: number;
  lambda: number;
}

export interface RankedRun extends RunLoss {
  /** loss / λ^0.4: lower is predicted better. */
  scaledLoss: number;
  /** 1 = predicted best by the scaled loss. */
  rank: number;
}

/** Ranks runs by loss / λ^0.4, lowest first. */
export function rankRuns(runs: RunLoss[]): RankedRun[] {
  return runs
    .map((r) => ({ ...r, scaledLoss: r.loss / Math.pow(r.lambda, 0.4), rank: 0 }))
    .sort((a, b) => a.scaledLoss - b.scaledLoss)
    .map((r, i) => ({ ...r, rank: i + 1 }));
}

/** Ranks 1..n with ties given their average rank. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort(
    (i, j) => values[i]! - values[j]!,
  );
  const out = new Float64Array(values.length);
  for (let s = 0; s < order.length;) {
    let e = s;
    while (e + 1 < order.length && values[order[e + 1]!] === values[order[s]!]) e++;
    const avg = (s + e) / 2 + 1;
    for (let k = s; k <= e; k++) out[order[k]!] = avg;
    s = e + 1;
  }
  return out;
}

/**
 * Spearman's rank correlation of two equally long series (Pearson correlation
 * of their average ranks). NaN with fewer than 2 points or a constant series.
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: ${a.length} vs ${b.length} values.`);
  const n = a.length;
  if (n < 2) return NaN;
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i]! - mean;
    const db = rb[i]! - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}
