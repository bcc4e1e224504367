/**
 * The integration rule of the Epps–Pulley statistic (LeJEPA §4, SIGReg): nodes t_k, the
 * target characteristic function phi(t) = exp(-t²/2) of N(0, 1), and trapezoid weights that
 * already include the window exp(-t²/2). Computed in float64 and handed to tensors as float32.
 */

export type QuadratureGrid = 'half' | 'symmetric';

export interface QuadratureOptions {
  /** Largest node. Default 3. */
  tMax?: number;
  /** Number of nodes. Default 17. */
  nPoints?: number;
  /**
   * 'half' (default, the reference library): nodes 0..tMax, trapezoid weights doubled because
   * the integrand is even in t. 'symmetric' (the paper's listing): nodes -tMax..tMax.
   */
  grid?: QuadratureGrid;
}

export interface Quadrature {
  grid: QuadratureGrid;
  tMax: number;
  nPoints: number;
  /** Nodes t_k, length nPoints. */
  t: Float64Array;
  /** exp(-t_k²/2), the characteristic function of N(0, 1) at the nodes. */
  phi: Float64Array;
  /** Trapezoid weight times the window exp(-t_k²/2). */
  weights: Float64Array;
}

/** Builds the quadrature rule of SIGReg. Shapes: every array is [nPoints]. */
export function quadrature(options: QuadratureOptions = {}): Quadrature {
  const { tMax = 3, nPoints = 17, grid = 'half' } = options;
  if (!(tMax > 0) || !Number.isFinite(tMax)) {
    throw new RangeError(`quadrature: tMax must be a positive number, got ${tMax}`);
  }
  if (!Number.isInteger(nPoints) || nPoints < 2) {
    throw new RangeError(`quadrature: nPoints must be an integer of at least 2, got ${nPoints}`);
  }
  if (grid !== 'half' && grid !== 'symmetric') {
    throw new RangeError(`quadrature: grid must be 'half' or 'symmetric', got ${String(grid)}`);
  }

  const t = new Float64Array(nPoints);
  const phi = new Float64Array(nPoints);
  const weights = new Float64Array(nPoints);
  const start = grid === 'half' ? 0 : -tMax;
  const h = (tMax - start) / (nPoints - 1);
  // The half grid stands for the whole line: each inside weight counts twice.
  const fold = grid === 'half' ? 2 : 1;
  for (let k = 0; k < nPoints; k++) {
    t[k] = start + k * h;
    phi[k] = Math.exp(-(t[k]! * t[k]!) / 2);
    const trapezoid = k === 0 || k === nPoints - 1 ? h / 2 : h;
    weights[k] = fold * trapezoid * phi[k]!;
  }
  return { grid, tMax, nPoints, t, phi, weights };
}
