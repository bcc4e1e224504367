/**
 * Feature matrices shared by the evaluation code: row-major Float32Array [n, d]
 * with one integer label per row (-1 = no label).
 */

export interface Features {
  /** Row-major [n, d]. */
  x: Float32Array;
  n: number;
  d: number;
}

export interface LabelledFeatures extends Features {
  /** [n] class index per row, -1 for an item without a label. */
  labels: Int32Array;
}

/** Throws when `x` does not hold n·d numbers or labels do not hold n. */
export function checkFeatures(f: Features | LabelledFeatures, what: string): void {
  if (!Number.isInteger(f.n) || !Number.isInteger(f.d) || f.n < 0 || f.d < 1) {
    throw new Error(`${what}: n and d must be non-negative integers (got n=${f.n}, d=${f.d}).`);
  }
  if (f.x.length !== f.n * f.d) {
    throw new Error(`${what}: expected ${f.n}×${f.d} = ${f.n * f.d} values, got ${f.x.length}.`);
  }
  if ('labels' in f && f.labels.length !== f.n) {
    throw new Error(`${what}: expected ${f.n} labels, got ${f.labels.length}.`);
  }
}

/** Keeps the rows whose label is ≥ 0 (copies only when some row is unlabelled). */
export function labelledRows(f: LabelledFeatures): LabelledFeatures {
  let kept = 0;
  for (let i = 0; i < f.n; i++) if (f.labels[i]! >= 0) kept++;
  if (kept === f.n) return f;
  const x = new Float32Array(kept * f.d);
  const labels = new Int32Array(kept);
  let r = 0;
  for (let i = 0; i < f.n; i++) {
    if (f.labels[i]! < 0) continue;
    x.set(f.x.subarray(i * f.d, (i + 1) * f.d), r * f.d);
    labels[r++] = f.labels[i]!;
  }
  return { x, n: kept, d: f.d, labels };
}

/** Rows of `f` picked by index, in the given order. */
export function selectRows<T extends Features>(f: T, rows: ArrayLike<number>): Features {
  const x = new Float32Array(rows.length * f.d);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    x.set(f.x.subarray(i * f.d, (i + 1) * f.d), r * f.d);
  }
  return { x, n: rows.length, d: f.d };
}

/** Number of classes implied by the labels (max label + 1, at least 1). */
export function classCount(...labelSets: Int32Array[]): number {
  let max = 0;
  for (const labels of labelSets) for (const l of labels) if (l > max) max = l;
  return max + 1;
}
