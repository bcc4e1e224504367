/**
 * Symmetric eigendecomposition in float64: Householder reduction to
 * tridiagonal form, then implicit QR steps with Wilkinson shifts (Golub & Van
 * Loan, Matrix Computations, §8.3). O(d³); about a second for d = 1024.
 * Used for covariance spectra (isotropy diagnostics) and exact PCA.
 */

export interface SymmetricEigen {
  /** Eigenvalues, largest first, [d]. */
  values: Float64Array;
  /** Eigenvectors as columns of a row-major [d, d] matrix, in the order of `values`. */
  vectors: Float64Array;
}

/**
 * Eigenvalues and eigenvectors of the symmetric matrix `a` (row-major [d, d];
 * only its values are read, it is not modified).
 */
export function symmetricEigen(a: ArrayLike<number>, d: number): SymmetricEigen {
  if (a.length !== d * d)
    throw new Error(`symmetricEigen: expected ${d * d} values, got ${a.length}.`);
  const t = Float64Array.from(a);
  const q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) q[i * d + i] = 1;
  tridiagonalise(t, q, d);
  diagonalise(t, q, d);

  const order = Array.from({ length: d }, (_, i) => i).sort(
    (i, j) => t[j * d + j]! - t[i * d + i]!,
  );
  const values = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((src, dst) => {
    values[dst] = t[src * d + src]!;
    for (let r = 0; r < d; r++) vectors[r * d + dst] = q[r * d + src]!;
  });
  return { values, vectors };
}

/** T ← H T H for Householder reflections H zeroing below the subdiagonal; Q ← Q H. */
function tridiagonalise(t: Float64Array, q: Float64Array, d: number): void {
  const v = new Float64Array(d);
  const p = new Float64Array(d);
  for (let k = 0; k < d - 2; k++) {
    let norm = 0;
    for (let i = k + 1; i < d; i++) norm += t[i * d + k]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const x0 = t[(k + 1) * d + k]!;
    const alpha = x0 > 0 ? -norm : norm;
    // v = x − αe₁, scaled to unit length, so H = I − 2vvᵀ maps x to αe₁.
    let vNorm = 0;
    for (let i = k + 1; i < d; i++) {
      v[i] = t[i * d + k]! - (i === k + 1 ? alpha : 0);
      vNorm += v[i]! ** 2;
    }
    vNorm = Math.sqrt(vNorm);
    if (vNorm === 0) continue;
    for (let i = k + 1; i < d; i++) v[i] = v[i]! / vNorm;

    // Trailing block B (rows/cols k+1..): B ← B − 2vwᵀ − 2wvᵀ with p = Bv, w = p − (vᵀp)v.
    let vp = 0;
    for (let i = k + 1; i < d; i++) {
      let s = 0;
      for (let j = k + 1; j < d; j++) s += t[i * d + j]! * v[j]!;
      p[i] = s;
      vp += v[i]! * s;
    }
    for (let i = k + 1; i < d; i++) p[i] = p[i]! - vp * v[i]!;
    for (let i = k + 1; i < d; i++) {
      for (let j = k + 1; j < d; j++) {
        t[i * d + j] = t[i * d + j]! - 2 * (v[i]! * p[j]! + p[i]! * v[j]!);
      }
    }
    t[(k + 1) * d + k] = alpha;
    t[k * d + k + 1] = alpha;
    for (let i = k + 2; i < d; i++) t[i * d + k] = t[k * d + i] = 0;

    // Q ← Q H: each row r of Q loses 2 (q_r · v) v.
    for (let r = 0; r < d; r++) {
      let s = 0;
      for (let j = k + 1; j < d; j++) s += q[r * d + j]! * v[j]!;
      s *= 2;
      for (let j = k + 1; j < d; j++) q[r * d + j] = q[r * d + j]! - s * v[j]!;
    }
  }
}

/** Implicit symmetric QR on the tridiagonal `t` (stored dense), accumulating rotations in q. */
function diagonalise(t: Float64Array, q: Float64Array, d: number): void {
  const eps = 2.220446049250313e-16;
  const at = (i: number, j: number) => t[i * d + j]!;
  let hi = d - 1;
  let guard = 0;
  while (hi > 0) {
    if (Math.abs(at(hi, hi - 1)) <= eps * (Math.abs(at(hi - 1, hi - 1)) + Math.abs(at(hi, hi)))) {
      t[hi * d + hi - 1] = t[(hi - 1) * d + hi] = 0;
      hi--;
      guard = 0;
      continue;
    }
    if (++guard > 60) throw new Error('symmetricEigen: the QR iteration did not converge.');
    let lo = hi - 1;
    while (
      lo > 0 &&
      Math.abs(at(lo, lo - 1)) > eps * (Math.abs(at(lo - 1, lo - 1)) + Math.abs(at(lo, lo)))
    ) {
      lo--;
    }
    // Wilkinson shift: the eigenvalue of the trailing 2×2 block nearer to its last entry.
    const e = at(hi, hi - 1);
    const delta = (at(hi - 1, hi - 1) - at(hi, hi)) / 2;
    const mu = at(hi, hi) - (e * e) / (delta + (delta >= 0 ? 1 : -1) * Math.hypot(delta, e));
    let x = at(lo, lo) - mu;
    let z = at(lo + 1, lo);
    for (let k = lo; k < hi; k++) {
      const r = Math.hypot(x, z);
      const c = r === 0 ? 1 : x / r;
      const s = r === 0 ? 0 : z / r;
      const from = Math.max(lo, k - 1);
      const to = Math.min(hi, k + 2);
      // T ← P T Pᵀ with P the rotation of rows k, k+1 that zeroes z under x.
      for (let j = from; j <= to; j++) {
        const a = t[k * d + j]!;
        const b = t[(k + 1) * d + j]!;
        t[k * d + j] = c * a + s * b;
        t[(k + 1) * d + j] = -s * a + c * b;
      }
      for (let i = from; i <= to; i++) {
        const a = t[i * d + k]!;
        const b = t[i * d + k + 1]!;
        t[i * d + k] = c * a + s * b;
        t[i * d + k + 1] = -s * a + c * b;
      }
      for (let i = 0; i < d; i++) {
        const a = q[i * d + k]!;
        const b = q[i * d + k + 1]!;
        q[i * d + k] = c * a + s * b;
        q[i * d + k + 1] = -s * a + c * b;
      }
      if (k < hi - 1) {
        x = at(k + 1, k);
        z = at(k + 2, k);
      }
    }
  }
}
