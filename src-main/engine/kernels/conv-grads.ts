/**
 * Convolution gradients written as forward convolutions, for backends that lack them (the WASM
 * backend of tfjs 4.22 registers no Conv2DBackpropFilter and no depthwise backprop kernels).
 * Each function uses only forward ops that every backend has, with explicit per-side padding
 * (a numeric `pad` with non-square filters gives wrong widths in tfjs-core).
 *
 * - filter gradient of conv2d: a stride-1 convolution of the (padded) input, with batch and
 *   channels swapped, by the output gradient used as a filter, dilated by the stride;
 * - input gradient of a depthwise convolution: the output gradient with zeros inserted between
 *   rows and columns (the stride), convolved with the spatially flipped filter;
 * - filter gradient of a depthwise convolution: one product-and-sum per filter tap.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

interface Geometry {
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function pair(v: number | [number, number] | number[] | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  return [v[0] ?? dflt, v[1] ?? v[0] ?? dflt];
}

/** Normalises the strides/dilations/pad attributes of a tfjs convolution kernel. */
export function geometry(attrs: {
  strides?: number | number[];
  dilations?: number | number[];
  pad: Pad | string;
  dimRoundingMode?: string;
}): Geometry {
  const g: Geometry = {
    strides: pair(attrs.strides as number | [number, number], 1),
    dilations: pair(attrs.dilations as number | [number, number], 1),
    pad: attrs.pad as Pad,
  };
  if (attrs.dimRoundingMode)
    g.dimRoundingMode = attrs.dimRoundingMode as 'floor' | 'round' | 'ceil';
  return g;
}

/**
 * Pads (or crops) `x` [N, H, W, C] so that its rows cover input positions -top .. -top+rows-1
 * and its columns -left .. -left+cols-1 (zeros outside the input).
 */
function window(
  x: tf.Tensor4D,
  top: number,
  left: number,
  rows: number,
  cols: number,
): tf.Tensor4D {
  const [, h, w] = x.shape;
  const r0 = Math.max(0, -top); // rows of x to drop at the start when top is negative
  const c0 = Math.max(0, -left);
  const rEnd = Math.min(h, rows - top); // one past the last row of x that is needed
  const cEnd = Math.min(w, cols - left);
  let y = x;
  if (r0 > 0 || c0 > 0 || rEnd < h || cEnd < w) {
    y = tf.slice(x, [0, r0, c0, 0], [-1, Math.max(0, rEnd - r0), Math.max(0, cEnd - c0), -1]);
  }
  const padTop = Math.max(0, top);
  const padLeft = Math.max(0, left);
  const padBottom = rows - padTop - y.shape[1];
  const padRight = cols - padLeft - y.shape[2];
  if (padTop || padLeft || padBottom || padRight) {
    y = tf.pad(y, [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ]);
  }
  return y;
}

/**
 * Rows 0, sh, 2·sh, … and columns 0, sw, … of x [N, H, W, C], H and W multiples of the strides:
 * a reshape that puts each kept row and column at the start of a contiguous run, then a
 * slice of those runs (the WASM backend's StridedSlice is an element-wise loop, 5–20× slower).
 */
function subsample(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const runs = tf.reshape(x, [(n * h) / sh, sh, w / sw, sw * c]);
  const kept = tf.slice(runs, [0, 0, 0, 0], [-1, 1, -1, c]);
  return tf.reshape(kept, [n, h / sh, w / sw, c]);
}

/**
 * dL/dW of `conv2d(x, W, strides, pad)` (dilation 1), given x [N, H, W, C] and dy [N, oh, ow, O].
 * Returns [fh, fw, C, O].
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  g: Geometry,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [fh, fw] = filterShape;
    const [sh, sw] = g.strides;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape,
      filterShape,
      g.strides,
      1,
      g.pad,
      g.dimRoundingMode,
    );
    const [, oh, ow] = dy.shape;

    if (fh === 1 && fw === 1) {
      // A 1×1 filter: one matrix product of the strided input with the output gradient.
      const xp = window(x, info.padInfo.top, info.padInfo.left, oh * sh, ow * sw);
      const xs = subsample(xp, sh, sw);
      const c = x.shape[3];
      const prod = tf.matMul(
        tf.reshape(xs, [-1, c]),
        tf.reshape(dy, [-1, dy.shape[3]]),
        true,
        false,
      );
      return tf.reshape(prod, filterShape);
    }

    const rows = (oh - 1) * sh + fh;
    const cols = (ow - 1) * sw + fw;
    const xp = window(x, info.padInfo.top, info.padInfo.left, rows, cols);
    // Channels become the batch and the batch becomes the channels: one forward convolution.
    const xt = tf.transpose(xp, [3, 1, 2, 0]); // [C, rows, cols, N]
    const dyt = tf.transpose(dy, [1, 2, 0, 3]); // [oh, ow, N, O]
    const out = tf.conv2d(xt, dyt, 1, 'valid', 'NHWC', [sh, sw]); // [C, fh, fw, O]
    return tf.transpose(out, [1, 2, 0, 3]);
  });
}

/**
 * Inserts (s-1) zeros between rows and columns of dy [N, oh, ow, K] → [N, (oh-1)sh+1, (ow-1)sw+1, K],
 * or with `trailing` also after the last row and column → [N, oh·sh, ow·sw, K] (no crop).
 */
function dilateByStride(dy: tf.Tensor4D, sh: number, sw: number, trailing = false): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, k] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, k]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  const full = tf.reshape(spread, [n, oh * sh, ow * sw, k]) as tf.Tensor4D;
  if (trailing) return full;
  return tf.slice(full, [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, k]);
}

/**
 * dL/dx of `conv2d(x, W, strides, pad)` (dilation 1), given dy [N, oh, ow, O] and
 * W [fh, fw, C, O]: the output gradient with zeros inserted by the stride, convolved (stride 1)
 * with the spatially flipped filter whose in/out channels are swapped. Returns inputShape.
 */
export function conv2dInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  g: Geometry,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w, c] = inputShape;
    const [fh, fw, , o] = filter.shape;
    const [sh, sw] = g.strides;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape,
      g.strides,
      1,
      g.pad,
      g.dimRoundingMode,
    );
    if (fh === 1 && fw === 1) {
      // A 1×1 filter: a matrix product, then the result scattered back onto the strided grid.
      const back = tf.matMul(tf.reshape(dy, [-1, o]), tf.reshape(filter, [c, o]), false, true);
      // The trailing zeros lie past the last input position any output reads: window() crops
      // them when they overhang, and otherwise they are the zeros it would pad with.
      const grid = dilateByStride(
        tf.reshape(back, [dy.shape[0], dy.shape[1], dy.shape[2], c]) as tf.Tensor4D,
        sh,
        sw,
        true,
      );
      return window(grid, info.padInfo.top, info.padInfo.left, h, w);
    }
    if (sh === 1 && sw === 1) {
      const padded = window(
        dy,
        fh - 1 - info.padInfo.top,
        fw - 1 - info.padInfo.left,
        h + fh - 1,
        w + fw - 1,
      );
      return tf.conv2d(padded, flipFilter(filter), 1, 'valid');
    }
    return stridedInputGrad(dy, filter, inputShape, info.padInfo.top, info.padInfo.left, sh, sw);
  });
}

/** The filter reversed in both spatial axes with its in/out channels swapped: [fh, fw, O, C]. */
function flipFilter(filter: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
}

/**
 * Taps `first`, `first + s`, … (`count` of them) of `filter` along `axis` (0: rows, 1: columns),
 * in reverse order. A gather: the WASM backend's StridedSlice and Reverse are element-wise loops
 * that cost more than the convolution they feed here.
 */
function reversedTaps(
  filter: tf.Tensor4D,
  axis: 0 | 1,
  first: number,
  s: number,
  count: number,
): tf.Tensor4D {
  const size = filter.shape[axis];
  if (count === 1 && size === 1) return filter;
  const idx = Array.from({ length: count }, (_, k) => first + s * (count - 1 - k));
  return tf.gather(filter, tf.tensor1d(idx, 'int32'), axis);
}

/**
 * The input gradient of a strided convolution by phases, so that no multiplication by an
 * inserted zero is made. Input row h = s·m + p (phase p) only receives the filter taps
 * a ≡ p + top (mod s), a = a0, a0 + s, …, from output rows m + c − j, c = (p + top − a0)/s:
 * each phase (p, q) is a stride-1 convolution of dy with that sub-filter (flipped, in/out
 * channels swapped), and the s·s results interleave onto the input grid by a reshape. Cost:
 * that of the forward convolution, against s² times as much for the zero-inserted form. The
 * phases are laid out in input coordinates, so when the input's size is a multiple of the
 * stride nothing is cropped afterwards.
 */
function stridedInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  top: number,
  left: number,
  sh: number,
  sw: number,
): tf.Tensor4D {
  const [n, h, w, c] = inputShape;
  const [fh, fw] = filter.shape;
  const rows = Math.ceil(h / sh); // every phase computes this many rows (and cols columns)
  const cols = Math.ceil(w / sw);
  const axis = (p: number, pad: number, s: number, f: number) => {
    const a0 = (p + pad) % s;
    const taps = a0 < f ? Math.ceil((f - a0) / s) : 0;
    return { a0, taps, shift: (p + pad - a0) / s };
  };
  const rowPhases: tf.Tensor4D[] = [];
  for (let p = 0; p < sh; p++) {
    const ra = axis(p, top, sh, fh);
    const colPhases: tf.Tensor4D[] = [];
    for (let q = 0; q < sw; q++) {
      const ca = axis(q, left, sw, fw);
      if (ra.taps === 0 || ca.taps === 0) {
        colPhases.push(tf.zeros([n, rows, cols, c]));
        continue;
      }
      const sub = reversedTaps(reversedTaps(filter, 0, ra.a0, sh, ra.taps), 1, ca.a0, sw, ca.taps);
      // Output row m of this phase reads dy rows m + shift − (taps − 1) … m + shift.
      const padded = window(
        dy,
        ra.taps - 1 - ra.shift,
        ca.taps - 1 - ca.shift,
        rows + ra.taps - 1,
        cols + ca.taps - 1,
      );
      colPhases.push(tf.conv2d(padded, tf.transpose(sub, [0, 1, 3, 2]), 1, 'valid'));
    }
    // [N, rows, cols, sw, C] → [N, rows, cols·sw, C]: column index s·m + q.
    rowPhases.push(
      sw === 1 ? colPhases[0]! : tf.reshape(tf.stack(colPhases, 3), [n, rows, cols * sw, c]),
    );
  }
  // [N, rows, sh, cols·sw, C] → [N, rows·sh, cols·sw, C]: row index s·m + p = h.
  const grid = (
    sh === 1 ? rowPhases[0]! : tf.reshape(tf.stack(rowPhases, 2), [n, rows * sh, cols * sw, c])
  ) as tf.Tensor4D;
  return rows * sh === h && cols * sw === w ? grid : tf.slice(grid, [0, 0, 0, 0], [n, h, w, c]);
}

/**
 * dL/dx of `depthwiseConv2d(x, f, strides, pad, dilations)`, given dy [N, oh, ow, C·mult] and
 * f [fh, fw, C, mult]. Returns inputShape [N, H, W, C].
 */
export function depthwiseInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  g: Geometry,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = inputShape;
    const [fh, fw, , mult] = filter.shape;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape,
      g.strides,
      g.dilations,
      g.pad,
      g.dimRoundingMode,
      true,
    );
    const spread = dilateByStride(dy, sh, sw);
    // Output row h collects dy rows h + top - a·dh: a correlation with the flipped filter.
    const front = (fh - 1) * dh - info.padInfo.top;
    const left = (fw - 1) * dw - info.padInfo.left;
    const padded = window(spread, front, left, h + (fh - 1) * dh, w + (fw - 1) * dw);
    const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [fh, fw, c * mult, 1]);
    const out = tf.depthwiseConv2d(padded, flipped as tf.Tensor4D, 1, 'valid', 'NHWC', [dh, dw]);
    if (mult === 1) return out;
    return tf.sum(tf.reshape(out, [n, h, w, c, mult]), -1);
  });
}

/**
 * dL/df of `depthwiseConv2d(x, f, strides, pad, dilations)`, given x [N, H, W, C] and
 * dy [N, oh, ow, C·mult]. Returns filterShape [fh, fw, C, mult].
 */
export function depthwiseFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  g: Geometry,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [fh, fw, c, mult] = filterShape;
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape,
      filterShape,
      g.strides,
      g.dilations,
      g.pad,
      g.dimRoundingMode,
      true,
    );
    const [n, oh, ow] = dy.shape;
    const rows = (oh - 1) * sh + (fh - 1) * dh + 1;
    const cols = (ow - 1) * sw + (fw - 1) * dw + 1;
    const xp = window(x, info.padInfo.top, info.padInfo.left, rows, cols);
    const dy5 = tf.reshape(dy, [n, oh, ow, c, mult]);
    const taps: tf.Tensor[] = [];
    for (let a = 0; a < fh; a++) {
      for (let b = 0; b < fw; b++) {
        const begin = [0, a * dh, b * dw, 0];
        const end = [n, a * dh + (oh - 1) * sh + 1, b * dw + (ow - 1) * sw + 1, c];
        const xs = tf.stridedSlice(xp, begin, end, [1, sh, sw, 1]); // [N, oh, ow, C]
        taps.push(tf.sum(tf.mul(tf.expandDims(xs, 4), dy5), [0, 1, 2])); // [C, mult]
      }
    }
    return tf.reshape(tf.stack(taps), filterShape);
  });
}
