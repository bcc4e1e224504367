/**
 * SIGReg, the sketched isotropic Gaussian regulariser of LeJEPA (§4): project the embeddings
 * on M unit directions and compare, slice by slice, the empirical characteristic function of
 * the projections with that of N(0, 1) through the Epps–Pulley statistic. Exactly the
 * formulas of the golden vectors (see the project's vector README), in float32.
 *
 * The characteristic-function part has a hand-written gradient: autodiff through cos and sin
 * would keep twice as many [N, M, T] buffers and recompute both, while the analytic form
 * reuses the forward's cos/sin. Cost and memory are linear in N and in M; the largest buffers
 * are the [N, M, T] cos and sin, and the mean over N is a matrix product, not a transpose.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../kernels/gradients.ts';
import type { Quadrature } from './quadrature.ts';

export interface SigregResult {
  /** SIGReg: mean over slices (and over views for 3-D input) of the statistic. */
  loss: tf.Scalar;
  /** Statistic per slice: [M] for z [N, D], [V, M] for z [V, N, D]. */
  perSlice: tf.Tensor;
}

/**
 * SIGReg of embeddings `z` ([N, D], or [V, N, D] for V views sharing the same directions)
 * with unit `directions` [D, M] and the rule `quad` (see `quadrature`).
 * per_slice[j] = N · Σ_k w_k ((Re_jk − phi_k)² + Im_jk²), Re/Im = mean_n cos/sin(t_k u_nj).
 */
export function sigreg(z: tf.Tensor, directions: tf.Tensor2D, quad: Quadrature): SigregResult {
  if (z.rank !== 2 && z.rank !== 3) {
    throw new RangeError(
      `sigreg: z must be [N, D] or [V, N, D], got shape [${z.shape.join(', ')}]`,
    );
  }
  const d = z.shape[z.rank - 1]!;
  if (directions.shape[0] !== d) {
    throw new RangeError(
      `sigreg: directions must be [${d}, M] to match z's last dimension, got [${directions.shape.join(', ')}]`,
    );
  }
  if (z.dtype !== 'float32') throw new RangeError(`sigreg: z must be float32, got ${z.dtype}`);

  return tf.tidy(() => {
    const views = z.rank === 3 ? z.shape[0]! : 1;
    const n = z.shape[z.rank - 2]!;
    const m = directions.shape[1];
    const u = tf.reshape(tf.matMul(tf.reshape(z, [views * n, d]), directions), [views, n, m]);
    const perView = slicedEppsPulley(u as tf.Tensor3D, quad); // [V, M]
    const loss = tf.mean(perView);
    const perSlice = z.rank === 3 ? perView : tf.reshape(perView, [m]);
    return { loss: loss as tf.Scalar, perSlice };
  });
}

/**
 * The Epps–Pulley statistic of every slice of projections `u` [V, N, M] → [V, M], with its
 * analytic gradient d stat_j / d u_nj = 2 Σ_k w_k t_k (Im_jk cos(t_k u_nj) − (Re_jk − phi_k) sin(t_k u_nj)).
 */
export function slicedEppsPulley(u: tf.Tensor3D, quad: Quadrature): tf.Tensor2D {
  const [views, n, m] = u.shape;
  const nodes = quad.t.length;
  const run = tf.customGrad((uIn, save) => {
    const uu = uIn as tf.Tensor3D;
    const t = tf.tensor1d(Float32Array.from(quad.t));
    const phi = tf.tensor1d(Float32Array.from(quad.phi));
    const w = tf.tensor1d(Float32Array.from(quad.weights));

    // [V, N, M, T]: the only buffers of this size.
    const arg = tf.mul(tf.reshape(uu, [views, n, m, 1]), t);
    const cos = tf.cos(arg);
    const sin = tf.sin(arg);

    // Means over N as a product with a [V, 1, N] row of 1/N: no transpose of the big buffers.
    const avg = tf.fill([views, 1, n], 1 / n);
    const re = tf.reshape(tf.matMul(avg, tf.reshape(cos, [views, n, m * nodes])), [
      views,
      m,
      nodes,
    ]);
    const im = tf.reshape(tf.matMul(avg, tf.reshape(sin, [views, n, m * nodes])), [
      views,
      m,
      nodes,
    ]);
    const reDev = tf.sub(re, phi);
    const stat = tf.mul(tf.sum(tf.mul(tf.add(tf.square(reDev), tf.square(im)), w), -1), n);

    (save as tf.GradSaveFunc)([cos, sin, reDev, im, tf.mul(w, t)]);
    return {
      value: stat as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sCos, sSin, sReDev, sIm, wt] = saved as [
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor3D,
          tf.Tensor3D,
          tf.Tensor1D,
        ];
        // Coefficients per (view, slice, node), broadcast over N.
        const scale = tf.mul(tf.reshape(dy, [views, m, 1]), tf.mul(wt, 2)); // [V, M, T]
        const a = tf.reshape(tf.mul(scale, sIm), [views, 1, m, nodes]);
        const b = tf.reshape(tf.mul(scale, sReDev), [views, 1, m, nodes]);
        const grad = tf.sub(tf.sum(tf.mul(sCos, a), -1), tf.sum(tf.mul(sSin, b), -1));
        return grad as tf.Tensor3D;
      },
    };
  });
  return run(u) as tf.Tensor2D;
}
