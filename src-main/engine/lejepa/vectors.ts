/**
 * Checks this engine's LeJEPA maths against a golden-vector file (the format of the project's
 * `vectors/` README: `kind` 'sigreg' or 'lejepa_loss', `cases[]` with inputs and float64
 * expectations). Pure: the caller reads and parses the file. Each case is evaluated on the
 * current TensorFlow.js backend in float32 and every quantity is compared with the README's
 * tolerances, including its two special rules (saturated inputs, exactly zero gradients).
 */
import * as tf from '@tensorflow/tfjs-core';
import { lejepaLoss } from './loss.ts';
import { quadrature, type Quadrature, type QuadratureGrid } from './quadrature.ts';
import { sigreg } from './sigreg.ts';

export type VectorKind = 'sigreg' | 'lejepa_loss';

export interface QuantityCheck {
  quantity: string;
  /** Worst error of the quantity, in the unit its tolerance is stated in. */
  error: number;
  tolerance: number;
  pass: boolean;
  rule: string;
}

export interface CaseCheck {
  name: string;
  kind: VectorKind;
  checks: QuantityCheck[];
  /** The loss or gradient check with the largest error/tolerance ratio (or a failed quadrature). */
  worst: QuantityCheck;
  pass: boolean;
}

/** Above this largest |t·u| float32 rounding of the argument alone exceeds 1e-4 rad. */
const SATURATED_ARGUMENT = 1000;

/**
 * Evaluates every case of a parsed vector file, one after the other. Throws RangeError on a
 * malformed file. Asynchronous because GPU backends can only be read asynchronously.
 */
export async function checkVectorFile(file: unknown): Promise<CaseCheck[]> {
  const obj = asRecord(file, 'file');
  const cases = obj.cases;
  if (!Array.isArray(cases) || cases.length === 0) {
    throw new RangeError('the file has no "cases" array');
  }
  const out: CaseCheck[] = [];
  for (let i = 0; i < cases.length; i++) {
    out.push(await checkVectorCase(cases[i], i, vectorKindOf(obj.kind, cases[i])));
  }
  return out;
}

type Expectation = { quantity: string; kind: 'loss' | 'grad'; want: number[] };

/** Evaluates one case; `kind` from the file's `kind` or from the case's fields. */
export async function checkVectorCase(
  raw: unknown,
  index: number,
  kind: VectorKind,
): Promise<CaseCheck> {
  const c = asRecord(raw, `cases[${index}]`);
  const name = typeof c.name === 'string' ? c.name : `case ${index}`;
  const quad = readQuadrature(c.quadrature, name);
  const checks = [checkQuadrature(quad, c.quadrature as Record<string, unknown>)];
  const input = kind === 'sigreg' ? c.z : c.proj;
  const saturated =
    /huge/.test(name) ||
    maxAbs(flat(input), flat(c.directions), lastDim(input, name), quad) >= SATURATED_ARGUMENT;

  const expectations: Expectation[] = [];
  const computed = tf.tidy(() =>
    kind === 'sigreg'
      ? runSigreg(c, name, quad, expectations)
      : runLejepa(c, name, quad, expectations),
  );
  try {
    for (let i = 0; i < expectations.length; i++) {
      const e = expectations[i]!;
      const got = await computed[i]!.data();
      checks.push(
        e.kind === 'loss'
          ? lossCheck(e.quantity, got, e.want, saturated)
          : gradCheck(e.quantity, got, e.want, saturated),
      );
    }
  } finally {
    tf.dispose(computed);
  }
  // The worst of the loss and gradient checks (the quadrature check still counts for `pass`).
  let worst = checks[1] ?? checks[0]!;
  for (const ch of checks.slice(1)) if (ratio(ch) > ratio(worst)) worst = ch;
  if (!checks[0]!.pass) worst = checks[0]!;
  return { name, kind, checks, worst, pass: checks.every((ch) => ch.pass) };
}

function runSigreg(
  c: Record<string, unknown>,
  name: string,
  quad: Quadrature,
  want: Expectation[],
): tf.Tensor[] {
  const z = tensorOf(c.z, 2, `${name}.z`) as tf.Tensor2D;
  const dirs = tensorOf(c.directions, 2, `${name}.directions`) as tf.Tensor2D;
  const exp = asRecord(c.expected, `${name}.expected`);
  const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => sigreg(x, dirs, quad).loss)([z]);
  const perSlice = sigreg(z, dirs, quad).perSlice;
  want.push(
    { quantity: 'loss', kind: 'loss', want: flat(exp.loss) },
    { quantity: 'per_slice', kind: 'loss', want: flat(exp.per_slice) },
    { quantity: 'grad', kind: 'grad', want: flat(exp.grad) },
  );
  return [value, perSlice, grads[0]!];
}

function runLejepa(
  c: Record<string, unknown>,
  name: string,
  quad: Quadrature,
  want: Expectation[],
): tf.Tensor[] {
  const proj = tensorOf(c.proj, 3, `${name}.proj`) as tf.Tensor3D;
  const dirs = tensorOf(c.directions, 2, `${name}.directions`) as tf.Tensor2D;
  const exp = asRecord(c.expected, `${name}.expected`);
  const nGlobal = numberOf(c.V_global, `${name}.V_global`);
  const lambda = numberOf(c.lambda, `${name}.lambda`);
  const parts = lejepaLoss(proj, nGlobal, dirs, quad, lambda);
  const perView = tf.mean(sigreg(proj, dirs, quad).perSlice, -1);
  const { grads } = tf.valueAndGrads(
    (p: tf.Tensor) => lejepaLoss(p as tf.Tensor3D, nGlobal, dirs, quad, lambda).total,
  )([proj]);
  want.push(
    { quantity: 'pred_loss', kind: 'loss', want: flat(exp.pred_loss) },
    { quantity: 'sigreg_per_view', kind: 'loss', want: flat(exp.sigreg_per_view) },
    { quantity: 'sigreg', kind: 'loss', want: flat(exp.sigreg) },
    { quantity: 'total', kind: 'loss', want: flat(exp.total) },
    { quantity: 'grad_total', kind: 'grad', want: flat(exp.grad_total) },
  );
  return [parts.pred, perView, parts.sigreg, parts.total, grads[0]!];
}

function lastDim(raw: unknown, name: string): number {
  let level: unknown = raw;
  while (Array.isArray(level) && Array.isArray(level[0])) level = level[0];
  if (!Array.isArray(level) || level.length === 0) {
    throw new RangeError(`${name}: the input is not a nested list of numbers`);
  }
  return level.length;
}

/** |L − L_ref| ≤ 1e-5·|L_ref| + 1e-6 (saturated: relative 1e-3); error reported in the same unit. */
function lossCheck(
  quantity: string,
  got: ArrayLike<number>,
  want: number[],
  saturated: boolean,
): QuantityCheck {
  sameLength(quantity, got, want);
  let error = 0;
  let tolerance = Infinity;
  let pass = true;
  for (let i = 0; i < want.length; i++) {
    const tol = saturated ? 1e-3 * Math.abs(want[i]!) : 1e-5 * Math.abs(want[i]!) + 1e-6;
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol)) pass = false;
    if (!(err / tol <= error / tolerance) || i === 0) [error, tolerance] = [err, tol];
  }
  const rule = saturated ? 'relative 1e-3 (saturated)' : '1e-5·|ref| + 1e-6';
  return { quantity, error, tolerance, pass, rule };
}

/**
 * Gradients: elementwise |g − g_ref| ≤ 1e-4·max|g_ref| + 1e-7; exactly-zero references need
 * |g| ≤ 1e-12; saturated cases only need finite values with max|g| ≤ 2·max|g_ref|.
 */
function gradCheck(
  quantity: string,
  got: ArrayLike<number>,
  want: number[],
  saturated: boolean,
): QuantityCheck {
  sameLength(quantity, got, want);
  let refMax = 0;
  for (const v of want) refMax = Math.max(refMax, Math.abs(v));
  let gotMax = 0;
  let finite = true;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    if (!Number.isFinite(g)) finite = false;
    gotMax = Math.max(gotMax, Math.abs(g));
    diff = Math.max(diff, Math.abs(g - want[i]!));
  }
  if (!finite) return { quantity, error: Infinity, tolerance: 0, pass: false, rule: 'finite' };
  if (refMax === 0) {
    return {
      quantity,
      error: gotMax,
      tolerance: 1e-12,
      pass: gotMax <= 1e-12,
      rule: 'exactly zero',
    };
  }
  if (saturated) {
    const tolerance = 2 * refMax;
    const rule = 'finite, max|g| ≤ 2·max|g_ref| (saturated)';
    return { quantity, error: gotMax, tolerance, pass: gotMax <= tolerance, rule };
  }
  const tolerance = 1e-4 * refMax + 1e-7;
  return {
    quantity,
    error: diff,
    tolerance,
    pass: diff <= tolerance,
    rule: '1e-4·max|ref| + 1e-7',
  };
}

/** Our float32 nodes, target and weights against the file's float64 arrays (README: ≤ 1.8e-8). */
function checkQuadrature(quad: Quadrature, raw: Record<string, unknown>): QuantityCheck {
  let error = 0;
  for (const key of ['t', 'phi', 'weights'] as const) {
    if (raw[key] === undefined) continue;
    const want = flat(raw[key]);
    const got = Float32Array.from(quad[key]);
    sameLength(`quadrature.${key}`, got, want);
    for (let i = 0; i < want.length; i++) error = Math.max(error, Math.abs(got[i]! - want[i]!));
  }
  const tolerance = 1e-7;
  return { quantity: 'quadrature', error, tolerance, pass: error <= tolerance, rule: 'abs 1e-7' };
}

function readQuadrature(raw: unknown, name: string): Quadrature {
  const q = asRecord(raw, `${name}.quadrature`);
  const grid = q.grid === undefined ? 'half' : q.grid;
  if (grid !== 'half' && grid !== 'symmetric') {
    throw new RangeError(`${name}.quadrature.grid must be "half" or "symmetric"`);
  }
  return quadrature({
    grid: grid as QuadratureGrid,
    tMax: q.t_max === undefined ? 3 : numberOf(q.t_max, `${name}.quadrature.t_max`),
    nPoints: q.n_points === undefined ? 17 : numberOf(q.n_points, `${name}.quadrature.n_points`),
  });
}

function vectorKindOf(fileKind: unknown, c: unknown): VectorKind {
  if (fileKind === 'sigreg' || fileKind === 'lejepa_loss') return fileKind;
  const rec = asRecord(c, 'case');
  if (rec.proj !== undefined) return 'lejepa_loss';
  if (rec.z !== undefined) return 'sigreg';
  throw new RangeError(
    'cannot tell the kind of the file: no "kind", and cases have neither "z" nor "proj"',
  );
}

function maxAbsOf(values: number[]): number {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/** Largest |t_k · u_nj| of the case, in float64: u = rows of `z` [*, D] times `dirs` [D, M]. */
function maxAbs(z: number[], dirs: number[], d: number, quad: Quadrature): number {
  const m = dirs.length / d;
  let largest = 0;
  for (let row = 0; row + d <= z.length; row += d) {
    for (let j = 0; j < m; j++) {
      let u = 0;
      for (let i = 0; i < d; i++) u += z[row + i]! * dirs[i * m + j]!;
      largest = Math.max(largest, Math.abs(u));
    }
  }
  return largest * maxAbsOf(Array.from(quad.t));
}

function ratio(ch: QuantityCheck): number {
  if (ch.tolerance === 0) return ch.error === 0 ? 0 : Infinity;
  return ch.error / ch.tolerance;
}

function sameLength(quantity: string, got: ArrayLike<number>, want: number[]): void {
  if (got.length !== want.length) {
    throw new RangeError(`${quantity}: expected ${want.length} values, computed ${got.length}`);
  }
}

function tensorOf(raw: unknown, rank: number, what: string): tf.Tensor {
  const shape: number[] = [];
  let level: unknown = raw;
  for (let r = 0; r < rank; r++) {
    if (!Array.isArray(level) || level.length === 0) {
      throw new RangeError(`${what} must be a non-empty nested list of rank ${rank}`);
    }
    shape.push(level.length);
    level = level[0];
  }
  const values = flat(raw);
  if (values.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new RangeError(
      `${what} is ragged: shape [${shape.join(', ')}] but ${values.length} numbers`,
    );
  }
  return tf.tensor(Float32Array.from(values), shape, 'float32');
}

function flat(raw: unknown): number[] {
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === 'number') out.push(v);
    else throw new RangeError(`expected numbers, found ${v === null ? 'null' : typeof v}`);
  };
  walk(raw);
  return out;
}

function numberOf(raw: unknown, what: string): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw))
    throw new RangeError(`${what} must be a number`);
  return raw;
}

function asRecord(raw: unknown, what: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RangeError(`${what} must be an object`);
  }
  return raw as Record<string, unknown>;
}
