/**
 * The heavy kernels of the WASM backend run by ONNX Runtime's CPU kernels (MLAS), under Node.
 *
 * tfjs-backend-wasm runs a convolution through XNNPACK and its gradients as further forward
 * convolutions (engine/kernels/conv-grads.ts); the training-mode batch norm of
 * engine/kernels/batch-norm.ts loops on the JavaScript thread. ONNX Runtime does the same
 * arithmetic several times faster on the same cores. Here Conv2D, FusedConv2D (linear or
 * ReLU), Conv2DBackpropInput, Conv2DBackpropFilter, and above a minimum size BatchMatMul,
 * Transpose, Sin, Cos, Tanh and Exp, and both batch-norm kernels of the 'wasm' backend are
 * replaced by kernels that run a small ONNX graph, reading their inputs from the WASM heap
 * and writing their outputs into it. One session serves every call of the same filter size,
 * stride, dilation and padding (batch, image size and, outside the blocked layout, channels
 * are symbolic), so a ResNet needs about two dozen: each keeps a memory arena as large as its
 * largest call. tfjs-core's autodiff, every other kernel and the data stay where they are. A
 * call the graphs do not cover (another layout, dtype or activation), or a session that
 * fails, runs the WASM kernel it replaced.
 *
 * Layouts: tfjs is NHWC with HWIO filters. Where both channel counts are multiples of the
 * CPU's channel block, a convolution (and a stride-1 input gradient) runs on ONNX Runtime's
 * blocked layout, converted from and to NHWC inside the graph (see blockedConv); otherwise
 * on ONNX's NCHW Conv with Transpose nodes around it. The filter gradient needs no transpose
 * at all (see filterGradGraph).
 */
import { createRequire } from 'node:module';

import * as tf from '@tensorflow/tfjs-core';

import { BN_BACKWARD, BN_FORWARD } from '../engine/kernels/batch-norm.ts';
import {
  INT64,
  int64Bytes,
  onnxModel,
  type Attr,
  type OnnxNode,
} from '../engine/export/onnx-writer.ts';
import { errorText, firstLine } from '../engine/error-text.ts';

const require = createRequire(import.meta.url);

interface NativeTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface NativeSession {
  loadModel(buffer: ArrayBuffer, offset: number, length: number, options: object): Promise<void>;
  run(
    feeds: Record<string, unknown>,
    fetches: Record<string, unknown>,
    options: object,
  ): Record<string, NativeTensor>;
  dispose(): void;
}
interface OrtModules {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  Session: new () => NativeSession;
}

interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

type Shape4 = [number, number, number, number];
interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dataFormat?: string;
  dimRoundingMode?: string;
  filterShape?: Shape4;
  inputShape?: Shape4;
}

export interface OrtKernelsInfo {
  /** False when ONNX Runtime could not be loaded here; the reason says why. */
  enabled: boolean;
  threads: number;
  reason?: string;
}

let modules: OrtModules | null = null;
let loadError: string | null = null;
let sessionOptions: object = {};
/** ONNX Runtime's intra-op threads for the kernels' sessions. */
let kernelThreads = 1;
const sessions = new Map<string, Session>();
let enabledInfo: OrtKernelsInfo | null = null;

/** Why ONNX Runtime cannot be used here, or null when it can (it is loaded on first call). */
export function whyUnavailable(): string | null {
  if (process.env.LEJEPA_ONNXRUNTIME === 'off') return 'LEJEPA_ONNXRUNTIME=off';
  return ortModules() === null ? loadError : null;
}

/** ONNX Runtime's Tensor class and native session, loaded once; null (with loadError) if absent. */
function ortModules(): OrtModules | null {
  if (modules !== null || loadError !== null) return modules;
  try {
    const ort = require('onnxruntime-node') as { Tensor: OrtModules['Tensor'] };
    const native = require('onnxruntime-node/dist/binding.js') as {
      binding: { InferenceSession: OrtModules['Session'] };
      initOrt(): void;
    };
    native.initOrt();
    modules = { Tensor: ort.Tensor, Session: native.binding.InferenceSession };
  } catch (err) {
    loadError = `ONNX Runtime is not available here (${firstLine(err)})`;
  }
  return modules;
}

function optionsFor(threads: number): object {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    // Between calls the WASM backend has the cores; ONNX Runtime's threads must not spin.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** A model run synchronously: float32 inputs by name in, the named outputs out (copies). */
export interface OrtModel {
  run(
    feeds: Record<string, { data: Float32Array; dims: number[] }>,
    outputs: string[],
  ): Record<string, Float32Array>;
  dispose(): void;
}

/**
 * Loads ONNX bytes into a session with `threads` intra-op threads, or returns the reason it
 * cannot (no ONNX Runtime here, LEJEPA_ONNXRUNTIME=off, a model it refuses).
 */
export async function ortModel(bytes: Uint8Array, threads: number): Promise<OrtModel | string> {
  const why = whyUnavailable();
  if (why !== null) return why;
  const m = modules!;
  const native = new m.Session();
  try {
    await native.loadModel(
      bytes.buffer as ArrayBuffer,
      bytes.byteOffset,
      bytes.byteLength,
      optionsFor(threads),
    );
  } catch (err) {
    return `ONNX Runtime refused the model: ${errorText(err)}`;
  }
  return {
    run(feeds, outputs) {
      const named: Record<string, unknown> = {};
      for (const [name, f] of Object.entries(feeds))
        named[name] = new m.Tensor('float32', f.data, f.dims);
      const out = native.run(named, Object.fromEntries(outputs.map((o) => [o, null])), {});
      return Object.fromEntries(outputs.map((o) => [o, Float32Array.from(out[o]!.data)]));
    },
    dispose() {
      native.dispose();
    },
  };
}

/** Geometry of a 2-D convolution in ONNX terms. */
interface Geometry {
  n: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  stride: [number, number];
  dilation: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
}

function geometryOf(xShape: Shape4, filterShape: Shape4, attrs: ConvAttrs): Geometry | null {
  const [n, inH, inW, inC] = xShape;
  const [kh, kw, , outC] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode as 'round' | undefined,
    false,
    'channelsLast',
  );
  const p = info.padInfo;
  // tfjs-core 4.22 miscounts the output of a numeric pad with a non-square filter; ONNX counts
  // right, so such a call keeps the WASM kernel (which matches tfjs-core's shapes).
  const span = (size: number, a: number, b: number, k: number, d: number, s: number) =>
    Math.floor((size + a + b - (k - 1) * d - 1) / s) + 1;
  const h = span(inH, p.top, p.bottom, kh, info.dilationHeight, info.strideHeight);
  const w = span(inW, p.left, p.right, kw, info.dilationWidth, info.strideWidth);
  if (h !== info.outHeight || w !== info.outWidth) return null;
  return {
    n,
    inH,
    inW,
    inC,
    outH: info.outHeight,
    outW: info.outWidth,
    outC,
    kh,
    kw,
    stride: [info.strideHeight, info.strideWidth],
    dilation: [info.dilationHeight, info.dilationWidth],
    pads: [p.top, p.left, p.bottom, p.right],
  };
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const HWIO_TO_OIHW = [3, 2, 0, 1];

type Consts = Map<string, { dims: number[]; type: number; data: Uint8Array }>;
type Dims = (number | string)[];

/** A graph under construction: nodes, int64 constants, and its inputs and outputs. */
class Graph {
  nodes: OnnxNode[] = [];
  consts: Consts = new Map();
  inputs: { name: string; dims: Dims }[] = [];
  outputs: { name: string; dims: Dims }[] = [];

  input(name: string, dims: Dims): string {
    this.inputs.push({ name, dims });
    return name;
  }
  output(name: string, dims: Dims): void {
    this.outputs.push({ name, dims });
  }
  op(op: string, inputs: string[], out: string, attrs?: Attr[]): string {
    this.nodes.push({ op, inputs, outputs: [out], ...(attrs ? { attrs } : {}) });
    return out;
  }
  /** A node of ONNX Runtime's blocked-layout operator set (see NCHWC below). */
  nchwc(op: string, inputs: string[], out: string, attrs?: Attr[]): string {
    this.nodes.push({ op, inputs, outputs: [out], domain: NCHWC, ...(attrs ? { attrs } : {}) });
    return out;
  }
  ints(values: number[]): string {
    const name = `i64_${this.consts.size}`;
    this.consts.set(name, { dims: [values.length], type: INT64, data: int64Bytes(values) });
    return name;
  }
  transpose(x: string, perm: number[], out: string): string {
    return this.op('Transpose', [x], out, [{ name: 'perm', ints: perm }]);
  }
  bytes(): Uint8Array {
    return onnxModel({
      name: 'kernel',
      nodes: this.nodes,
      consts: this.consts,
      inputs: this.inputs,
      outputs: this.outputs,
      producerVersion: '0',
      metadata: {},
    });
  }
}

const B = 'batch';

function convAttrs(g: Geometry): Attr[] {
  return [
    { name: 'strides', ints: g.stride },
    { name: 'dilations', ints: g.dilation },
    { name: 'pads', ints: [...g.pads] },
  ];
}

/** y = act(conv(x, w) + b), NHWC in and out. */
function forwardGraph(g: Geometry, bias: boolean, relu: boolean): Graph {
  const q = new Graph();
  const x = q.input('x', [B, 'h', 'w', 'ci']);
  const w = q.input('w', [g.kh, g.kw, 'ci', 'co']);
  const b = bias ? [q.input('b', ['co'])] : [];
  if (blockedFits(g.inC, g.outC)) {
    const filter = blockedFilter(q, w, g.kh, g.kw, g.inC, g.outC, 'wB');
    blockedConv(q, x, filter, b, g.outC, 'y', [
      ...convAttrs(g),
      ...(relu ? [{ name: 'activation', s: 'Relu' }] : []),
    ]);
  } else {
    const xT = q.transpose(x, NHWC_TO_NCHW, 'xT');
    const wT = q.transpose(w, HWIO_TO_OIHW, 'wT');
    let y = q.op('Conv', [xT, wT, ...b], 'conv', convAttrs(g));
    if (relu) y = q.op('Relu', [y], 'relu');
    q.transpose(y, NCHW_TO_NHWC, 'y');
  }
  q.output('y', [B, 'ho', 'wo', 'co']);
  return q;
}

/**
 * ONNX Runtime's blocked layout (NCHWc): channels in blocks of the CPU's vector width, each
 * block's values for one pixel adjacent. Its convolution kernels run directly on that layout,
 * without the im2col copy of its NCHW path, and convert from and to NHWC on the way in and
 * out, so no transposes are needed either: 1.3–2.5 × faster for the reference ResNet's layers
 * (docs/performance.md). The operators are ONNX Runtime's own (the ones its graph optimiser
 * substitutes for Conv when the weights are constants); they need both channel counts to be
 * multiples of the block, which `blockedFits` checks against the size the runtime reports.
 */
const NCHWC = 'com.microsoft.nchwc';
/** The runtime's channel block (8 with AVX2, 16 with AVX-512), or null when unavailable. */
let channelBlock: number | null = null;

function blockedFits(inC: number, outC: number): boolean {
  return channelBlock !== null && inC % channelBlock === 0 && outC % channelBlock === 0;
}

/**
 * A filter [kh, kw, I, O] as the blocked convolution reads it: output-channel blocks, then
 * input-channel blocks, then taps, then one block's I × O values with O fastest; shaped
 * [O, I, kh, kw] for the operator's shape checks.
 */
function blockedFilter(
  q: Graph,
  w: string,
  kh: number,
  kw: number,
  inC: number,
  outC: number,
  out: string,
): string {
  const k = channelBlock!;
  const split = q.op('Reshape', [w, q.ints([kh, kw, inC / k, k, outC / k, k])], `${out}Split`);
  const moved = q.transpose(split, [4, 2, 0, 1, 3, 5], `${out}Moved`);
  return q.op('Reshape', [moved, q.ints([outC, inC, kh, kw])], out);
}

/** NHWC x → blocked convolution with `filter` (from blockedFilter) → NHWC `out`. */
function blockedConv(
  q: Graph,
  x: string,
  filter: string,
  bias: string[],
  outC: number,
  out: string,
  attrs: Attr[],
): string {
  const xB = q.nchwc('ReorderInput', [x], `${out}In`, [{ name: 'channels_last', i: 1 }]);
  const yB = q.nchwc('Conv', [xB, filter, ...bias], `${out}Conv`, attrs);
  return q.nchwc('ReorderOutput', [yB], out, [
    { name: 'channels', i: outC },
    { name: 'channels_last', i: 1 },
  ]);
}

/** Asks the runtime for its channel block: the channels a 4-channel input is padded to. */
function probeChannelBlock(): number | null {
  const q = new Graph();
  q.nchwc('ReorderInput', [q.input('x', [1, 1, 1, 4])], 'y', [{ name: 'channels_last', i: 1 }]);
  q.output('y', [1, 'c', 1, 1]);
  try {
    const bytes = q.bytes();
    const session = new modules!.Session();
    // Loading is synchronous; a model the runtime refuses makes the run below throw.
    session
      .loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, optionsFor(1))
      .catch(() => undefined);
    const x = new modules!.Tensor('float32', new Float32Array(4), [1, 1, 1, 4]);
    const block = session.run({ x }, { y: null }, {}).y?.dims[1];
    session.dispose();
    return typeof block === 'number' && block >= 4 && block % 4 === 0 ? block : null;
  } catch {
    return null;
  }
}

/**
 * Rows and columns ConvTranspose must add at the bottom and right to give the input's size:
 * those a strided forward convolution never reached. They depend on the input size, so they
 * are part of the session's key.
 */
function outputPadding(g: Geometry): [number, number] {
  const full = (o: number, k: number, s: number, d: number, a: number, b: number) =>
    s * (o - 1) + (k - 1) * d + 1 - a - b;
  return [
    g.inH - full(g.outH, g.kh, g.stride[0], g.dilation[0], g.pads[0], g.pads[2]),
    g.inW - full(g.outW, g.kw, g.stride[1], g.dilation[1], g.pads[1], g.pads[3]),
  ];
}

/**
 * dx of a convolution. Stride 1: a convolution of dy with the filter flipped in space and
 * its channels swapped (ONNX Runtime's forward convolutions are its fastest). Strided, where
 * neither phaseInputGradGraph nor pointwiseInputGradGraph applies: ConvTranspose, which
 * scatters instead of inserting zeros.
 */
function inputGradGraph(g: Geometry): Graph {
  const q = new Graph();
  const dyIn = q.input('dy', [B, 'ho', 'wo', 'co']);
  const w = q.input('w', [g.kh, g.kw, 'ci', 'co']);
  const unit = g.stride[0] === 1 && g.stride[1] === 1;
  const [top, left, bottom, right] = g.pads;
  const [dh, dw] = g.dilation;
  const flippedPads = {
    name: 'pads',
    ints: [
      (g.kh - 1) * dh - top,
      (g.kw - 1) * dw - left,
      (g.kh - 1) * dh - bottom,
      (g.kw - 1) * dw - right,
    ],
  };
  // Reversed along both spatial axes (steps of −1 from the end).
  const flip = (t: string, axes: number[], out: string) =>
    q.op(
      'Slice',
      [t, q.ints([-1, -1]), q.ints([-(2 ** 31), -(2 ** 31)]), q.ints(axes), q.ints([-1, -1])],
      out,
    );
  if (unit && blockedFits(g.outC, g.inC)) {
    // The flipped filter with its channels swapped, [kh, kw, Co, Ci], as a forward filter.
    const swapped = flip(q.transpose(w, [0, 1, 3, 2], 'wSwap'), [0, 1], 'wFlip');
    const filter = blockedFilter(q, swapped, g.kh, g.kw, g.outC, g.inC, 'wB');
    blockedConv(q, dyIn, filter, [], g.inC, 'y', [
      { name: 'dilations', ints: g.dilation },
      flippedPads,
      { name: 'kernel_shape', ints: [g.kh, g.kw] },
    ]);
    q.output('y', [B, 'h', 'w', 'ci']);
    return q;
  }
  const dy = q.transpose(dyIn, NHWC_TO_NCHW, 'dyT');
  let dx: string;
  if (unit) {
    // [kh, kw, Ci, Co] → [Ci, Co, kh, kw], reversed along both spatial axes.
    const flipped = flip(q.transpose(w, [2, 3, 0, 1], 'wT'), [2, 3], 'wFlip');
    dx = q.op('Conv', [dy, flipped], 'dxT', [{ name: 'dilations', ints: g.dilation }, flippedPads]);
  } else {
    const [extraH, extraW] = outputPadding(g);
    const wT = q.transpose(w, HWIO_TO_OIHW, 'wT');
    dx = q.op('ConvTranspose', [dy, wT], 'dxT', [
      ...convAttrs(g),
      { name: 'output_padding', ints: [extraH, extraW] },
    ]);
  }
  q.transpose(dx, NCHW_TO_NHWC, 'y');
  q.output('y', [B, 'h', 'w', 'ci']);
  return q;
}

/**
 * dw of a convolution as matrix products, in NHWC throughout: the input is padded and cut
 * into kh·kw strided windows (one per filter tap); tap t's block of dw, [Ci, Co], is
 * windowₜᵀ · dy with both as [N·Ho·Wo, ·] matrices, and the blocks stacked in tap order are
 * exactly HWIO. One product per tap, rather than one over all taps concatenated, lets
 * ONNX Runtime reuse a single window's buffer: the same speed, a ninth of the memory.
 *
 * Such a product is long and thin (Ci and Co are small beside N·Ho·Wo), and ONNX Runtime
 * splits a product between threads by its rows and columns only, so one thread does nearly
 * all of it. With `chunks` > 1 the long axis is cut into that many chunks, a batched
 * product runs one chunk per thread, and the chunks' sums are added.
 */
function filterGradGraph(g: Geometry, chunks: number): Graph {
  const q = new Graph();
  let x = q.input('x', [B, 'h', 'w', 'ci']);
  const dy = q.input('dy', [B, 'ho', 'wo', 'co']);
  const [top, left, bottom, right] = g.pads;
  if (top + left + bottom + right > 0) {
    x = q.op('Pad', [x, q.ints([0, top, left, 0, 0, bottom, right, 0])], 'xPad');
  }
  // The window a tap sees ends (Ho − 1)·stride + 1 rows after its start; Ho is not fixed
  // here (one session serves every size), so each Slice ends where the padded input does
  // less what the later taps need.
  const taps: string[] = [];
  for (let a = 0; a < g.kh; a++) {
    for (let b = 0; b < g.kw; b++) {
      const y0 = a * g.dilation[0];
      const x0 = b * g.dilation[1];
      const yEnd = -((g.kh - 1) * g.dilation[0] - y0);
      const xEnd = -((g.kw - 1) * g.dilation[1] - x0);
      const big = 2 ** 31;
      const ends = q.ints([yEnd === 0 ? big : yEnd, xEnd === 0 ? big : xEnd]);
      const stepped = [q.ints([y0, x0]), ends, q.ints([1, 2]), q.ints([...g.stride])];
      taps.push(q.op('Slice', [x, ...stepped], `tap${a}_${b}`));
    }
  }
  // Chunked: [P, K/P, C] operands, one batched product per tap, summed over the chunks.
  const chunked = (t: string, name: string) => {
    const rows = q.op('Flatten', [t], `${name}Rows`, [{ name: 'axis', i: 3 }]);
    const one = q.op('Unsqueeze', [rows, q.ints([0])], `${name}One`);
    return q.op('Reshape', [one, q.ints([chunks, -1, 0])], name);
  };
  const dyM =
    chunks > 1 ? chunked(dy, 'dyM') : q.op('Flatten', [dy], 'dyM', [{ name: 'axis', i: 3 }]);
  const blocks = taps.map((t, i) => {
    if (chunks > 1) {
      const colsT = q.transpose(chunked(t, `cols${i}`), [0, 2, 1], `colsT${i}`);
      const parts = q.op('MatMul', [colsT, dyM], `parts${i}`);
      return q.op('ReduceSum', [parts, q.ints([0])], `dwTap${i}`, [{ name: 'keepdims', i: 0 }]);
    }
    const cols = q.op('Flatten', [t], `cols${i}`, [{ name: 'axis', i: 3 }]);
    return q.op('Gemm', [cols, dyM], `dwTap${i}`, [{ name: 'transA', i: 1 }]);
  });
  const dw =
    blocks.length === 1 ? blocks[0]! : q.op('Concat', blocks, 'dw', [{ name: 'axis', i: 0 }]);
  // [kh·kw·Ci, Co] → [kh, kw, Ci, Co], Co read from the product's shape.
  const shape = q.op(
    'Concat',
    [
      q.ints([g.kh, g.kw, -1]),
      q.op('Slice', [q.op('Shape', [dw], 'dwShape'), q.ints([1]), q.ints([2])], 'co'),
    ],
    'shape',
    [{ name: 'axis', i: 0 }],
  );
  q.op('Reshape', [dw, shape], 'y');
  q.output('y', [g.kh, g.kw, 'ci', 'co']);
  return q;
}

/**
 * Batch norm graphs see their input as [rows, C] (every axis but the channels folded into rows),
 * so that ONNX's inference-mode BatchNormalization, which treats axis 1 as the channels, does
 * each per-channel affine map x·s + b in one pass. With mean 0, variance 1 and epsilon 0 it is
 * exactly that map; that is what `affine` builds.
 */
const BN_ROWS: Dims = ['rows', 'c'];
const BN_AXES: Attr = { name: 'axes', ints: [0] };
const NO_KEEP: Attr = { name: 'keepdims', i: 0 };

function affine(q: Graph, x: string, scale: string, shift: string, out: string): string {
  const c = q.op('Shape', [scale], `${out}C`);
  const fill = (v: number, name: string) =>
    q.op('Expand', [q.op('Constant', [], `${name}V`, [{ name: 'value_float', f: v }]), c], name);
  const stats = [fill(0, `${out}Zeros`), fill(1, `${out}Ones`)];
  return q.op('BatchNormalization', [x, scale, shift, ...stats], out, [{ name: 'epsilon', f: 0 }]);
}

/** Training-mode batch norm forward; the same outputs as engine/kernels/batch-norm.ts. */
function bnForwardGraph(eps: number): Graph {
  const q = new Graph();
  const x = q.input('x', BN_ROWS);
  const gamma = q.input('gamma', ['c']);
  const beta = q.input('beta', ['c']);
  const mean = q.op('ReduceMean', [x], 'mean', [BN_AXES, NO_KEEP]);
  const d = q.op('Sub', [x, mean], 'centred');
  const variance = q.op('ReduceMean', [q.op('Mul', [d, d], 'sq')], 'var', [BN_AXES, NO_KEEP]);
  // y = (x − mean)·γ/√(var + ε) + β in one pass.
  q.op('BatchNormalization', [x, gamma, beta, mean, variance], 'y', [{ name: 'epsilon', f: eps }]);
  const eps1 = q.op('Constant', [], 'eps', [{ name: 'value_float', f: eps }]);
  const r = q.op(
    'Reciprocal',
    [q.op('Sqrt', [q.op('Add', [variance, eps1], 'vEps')], 'std')],
    'rstd',
  );
  const m2 = q.op('Unsqueeze', [mean, q.ints([0])], 'm2');
  const r2 = q.op('Unsqueeze', [r, q.ints([0])], 'r2');
  q.op('Concat', [m2, r2], 'saved', [{ name: 'axis', i: 0 }]);
  q.output('y', BN_ROWS);
  q.output('mean', ['c']);
  q.output('var', ['c']);
  q.output('saved', [2, 'c']);
  return q;
}

/** Training-mode batch norm backward: dx, dgamma, dbeta from dy, x, saved (mean, rstd), gamma. */
function bnBackwardGraph(): Graph {
  const q = new Graph();
  const dy = q.input('dy', BN_ROWS);
  const x = q.input('x', BN_ROWS);
  const saved = q.input('saved', [2, 'c']);
  const gamma = q.input('gamma', ['c']);
  const row = (i: number, out: string) => {
    const part = q.op('Slice', [saved, q.ints([i]), q.ints([i + 1]), q.ints([0])], `${out}Row`);
    return q.op('Reshape', [part, q.ints([-1])], out);
  };
  const mean = row(0, 'mean');
  const rstd = row(1, 'rstd');
  // x̂ = (x − mean)·r as x·r − mean·r.
  const xhat = affine(q, x, rstd, q.op('Neg', [q.op('Mul', [mean, rstd], 'mr')], 'negMr'), 'xhat');
  const sumDy = q.op('ReduceSum', [dy, q.ints([0])], 'dbeta', [NO_KEEP]);
  const sumDyX = q.op('ReduceSum', [q.op('Mul', [dy, xhat], 'dyx'), q.ints([0])], 'dgamma', [
    NO_KEEP,
  ]);
  // dx = γr·dy − γr·Σdy/R − x̂·γr·Σ(dy·x̂)/R, R the rows: γr·dy plus an affine map of x̂.
  const rowsI = q.op('Slice', [q.op('Shape', [x], 'shape'), q.ints([0]), q.ints([1])], 'rowsI');
  const rows = q.op('Cast', [rowsI], 'rows', [{ name: 'to', i: 1 }]);
  const gr = q.op('Mul', [gamma, rstd], 'gr');
  const grOverR = q.op('Div', [gr, rows], 'grR');
  const negOff = q.op('Neg', [q.op('Mul', [grOverR, sumDy], 'off')], 'negOff');
  const negSlope = q.op('Neg', [q.op('Mul', [grOverR, sumDyX], 'slope')], 'negSlope');
  const rest = affine(q, xhat, negSlope, negOff, 'rest');
  q.op('Add', [q.op('Mul', [dy, gr], 'a'), rest], 'dx');
  q.output('dx', BN_ROWS);
  q.output('dgamma', ['c']);
  q.output('dbeta', ['c']);
  return q;
}

interface Session {
  native: NativeSession;
  failed: string | null;
}

/**
 * The session for `key`, built from `build()` on first use. Building is synchronous in
 * onnxruntime-node (the promise it returns only reports the outcome), so every call of a
 * geometry, the first included, runs the same code: results do not depend on timing.
 */
function sessionFor(key: string, build: () => Graph, threads?: number): Session {
  let s = sessions.get(key);
  if (s !== undefined) return s;
  const m = modules!;
  const bytes = build().bytes();
  const native = new m.Session();
  s = { native, failed: null };
  const entry = s;
  native
    .loadModel(
      bytes.buffer as ArrayBuffer,
      bytes.byteOffset,
      bytes.byteLength,
      threads === undefined ? sessionOptions : optionsFor(threads),
    )
    .catch((err: unknown) => {
      entry.failed = errorText(err);
    });
  sessions.set(key, s);
  return s;
}

let runs = 0;

/**
 * Sessions built, kernel calls ONNX Runtime ran, sessions that failed (key: error), sessions
 * on the blocked layout, filter-gradient sessions cut into chunks, strided 1×1 and phased
 * input-gradient sessions, and the runtime's channel block (null: blocked layout
 * unavailable).
 */
export function ortKernelStats(): {
  sessions: number;
  runs: number;
  failed: string[];
  blocked: number;
  /** Filter-gradient sessions that split their product between threads. */
  chunked: number;
  /** Input-gradient sessions of strided 1×1 convolutions (a product and a spread). */
  pointwise: number;
  /** Strided input-gradient sessions split by phases on the blocked layout. */
  phased: number;
  channelBlock: number | null;
} {
  const failed: string[] = [];
  for (const [key, s] of sessions) if (s.failed !== null) failed.push(`${key}: ${s.failed}`);
  const keys = [...sessions.keys()];
  const count = (test: (key: string) => boolean) => keys.filter(test).length;
  const blocked = count((k) => /,c\d+\.\d+$/.test(k));
  const chunked = count((k) => /,p\d+$/.test(k));
  const pointwise = count((k) => k.startsWith('dx1x1,'));
  const phased = count((k) => k.startsWith('dxph,'));
  return {
    sessions: sessions.size - failed.length,
    runs,
    failed,
    blocked,
    chunked,
    pointwise,
    phased,
    channelBlock,
  };
}

const scratch = new Map<string, Float32Array>();

/** A reusable (non-shared) buffer of `view`'s length kept under `name`, with `view` copied in. */
function scratchFor(name: string, view: Float32Array, copy = true): Float32Array {
  let buf = scratch.get(name);
  if (buf === undefined || buf.length < view.length) {
    buf = new Float32Array(Math.ceil(view.length * 1.25));
    scratch.set(name, buf);
  }
  const part = buf.subarray(0, view.length);
  if (copy) part.set(view);
  return part;
}

/** An output by name: its tensor's shape, and the dims ONNX Runtime sees if they differ. */
type Output = [name: string, shape: number[], dims?: number[]];

/**
 * Runs `session` on tensors of the WASM heap and writes its outputs into new heap tensors of
 * the given shapes. Returns null (the caller falls back) when the session failed.
 */
function runInto(
  backend: WasmLike,
  session: Session,
  feeds: Record<string, tf.TensorInfo>,
  outputs: Output[],
): tf.TensorInfo[] | null {
  if (session.failed !== null) return null;
  const m = modules!;
  const infos = outputs.map(([, shape]) => backend.makeOutput(shape, 'float32'));
  // Views are taken after every output is allocated: allocation may grow (and detach) the heap.
  const views = infos.map((info) => backend.typedArrayFromHeap(info));
  // Single-threaded WASM has ordinary memory, which ONNX Runtime reads and writes in place.
  // It refuses views of the shared memory of threaded WASM: inputs are then copied into one
  // reusable buffer per input name, and outputs copied back.
  const shared = Object.prototype.toString.call(views[0]!.buffer) === '[object SharedArrayBuffer]';
  const named: Record<string, unknown> = {};
  for (const [name, info] of Object.entries(feeds)) {
    const view = backend.typedArrayFromHeap(info);
    named[name] = new m.Tensor('float32', shared ? scratchFor(name, view) : view, info.shape);
  }
  // Outputs go straight into the heap, or into reusable buffers to copy from. (The Node
  // binding still returns a fresh copy of each, unused here: see compute/allocator-env.ts.)
  const targets = views.map((v, i) => (shared ? scratchFor(`out:${outputs[i]![0]}`, v, false) : v));
  const fetches = Object.fromEntries(
    outputs.map(([name, shape, dims], i) => [
      name,
      new m.Tensor('float32', targets[i]!, dims ?? shape),
    ]),
  );
  try {
    session.native.run(named, fetches, {});
    runs++;
  } catch (err) {
    session.failed = errorText(err);
    for (const info of infos) backend.disposeData(info.dataId);
    return null;
  }
  if (shared) views.forEach((v, i) => v.set(targets[i]!));
  return infos;
}

type Args = Parameters<tf.KernelFunc>[0];
/** What a replaced kernel runs: the session key, its graph, feeds and outputs; or null to fall back. */
type Plan = {
  key: string;
  graph: () => Graph;
  feeds: Record<string, tf.TensorInfo>;
  outputs: Output[];
  /** ONNX Runtime threads for this graph when fewer than all (memory-bound graphs run faster on one). */
  threads?: number;
} | null;

function geometryKey(kind: string, g: Geometry): string {
  const extra = kind === 'dx' ? outputPadding(g) : [];
  // Blocked graphs are built for their channel counts.
  const unit = g.stride[0] === 1 && g.stride[1] === 1;
  const blocked =
    kind === 'dx'
      ? unit && blockedFits(g.outC, g.inC)
      : kind !== 'dw' && blockedFits(g.inC, g.outC);
  const channels = blocked ? [`c${g.inC}.${g.outC}`] : [];
  return [kind, g.kh, g.kw, ...g.stride, ...g.dilation, ...g.pads, ...extra, ...channels].join(',');
}

function convPlan(args: Args): Plan {
  const attrs = args.attrs as unknown as ConvAttrs;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const { x, filter } = args.inputs;
  if (x?.dtype !== 'float32' || filter?.dtype !== 'float32') return null;
  const g = geometryOf(x.shape as Shape4, filter.shape as Shape4, attrs);
  if (g === null) return null;
  return {
    key: geometryKey('conv', g),
    graph: () => forwardGraph(g, false, false),
    feeds: { x, w: filter },
    outputs: [['y', [g.n, g.outH, g.outW, g.outC]]],
  };
}

function fusedConvPlan(args: Args): Plan {
  const attrs = args.attrs as unknown as ConvAttrs & { activation?: string };
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const act = attrs.activation ?? 'linear';
  if (act !== 'linear' && act !== 'relu') return null;
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  if (preluActivationWeights !== undefined) return null;
  if (x?.dtype !== 'float32' || filter?.dtype !== 'float32') return null;
  const g = geometryOf(x.shape as Shape4, filter.shape as Shape4, attrs);
  if (g === null) return null;
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.shape.join() !== String(g.outC))) {
    return null;
  }
  return {
    key: `${geometryKey('fused', g)},${bias !== undefined},${act}`,
    graph: () => forwardGraph(g, bias !== undefined, act === 'relu'),
    feeds: bias !== undefined ? { x, w: filter, b: bias } : { x, w: filter },
    outputs: [['y', [g.n, g.outH, g.outW, g.outC]]],
  };
}

/**
 * dx of a strided 1×1 convolution without padding: dy·Wᵀ, a product, spread to every
 * stride-th row and column of dx with zeros between (an Unsqueeze, a Pad and a Reshape put
 * the zeros in; a Slice trims the last row or column when the input's size is not a
 * multiple of the stride). ConvTranspose took 24, 12 and 10 ms for the reference ResNet's
 * three shortcuts at batch 256 in a 2-thread step; this takes 15, 11 and 3. Built per
 * input size.
 */
function pointwiseInputGradGraph(g: Geometry): Graph {
  const q = new Graph();
  const dy = q.input('dy', [B, g.outH, g.outW, 'co']);
  const w = q.input('w', [1, 1, 'ci', 'co']);
  const [sh, sw] = g.stride;
  const wT = q.transpose(q.op('Flatten', [w], 'w2', [{ name: 'axis', i: 3 }]), [1, 0], 'wT');
  const product = q.op('MatMul', [dy, wT], 'product');
  const spaced = q.op('Unsqueeze', [product, q.ints([2, 4])], 'spaced');
  const zeros = q.ints([0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1, 0]);
  const padded = q.op('Pad', [spaced, zeros], 'padded');
  const full = q.op('Reshape', [padded, q.ints([0, g.outH * sh, g.outW * sw, -1])], 'full');
  if (g.outH * sh === g.inH && g.outW * sw === g.inW) {
    q.op('Identity', [full], 'y');
  } else {
    q.op('Slice', [full, q.ints([0, 0]), q.ints([g.inH, g.inW]), q.ints([1, 2])], 'y');
  }
  q.output('y', [B, g.inH, g.inW, 'ci']);
  return q;
}

/** One axis of a strided input gradient split by phases (see phaseInputGradGraph). */
interface PhaseAxis {
  /** Outputs per phase: positions q = stride·i + phase, q over [0, stride·count). */
  count: number;
  /** Per phase: the filter taps it uses, last first, and the padding before dy. */
  phases: { taps: number[]; before: number; after: number }[];
}

function phaseAxis(k: number, s: number, pad: number, size: number, outSize: number): PhaseAxis {
  const count = Math.ceil((pad + size) / s);
  const phases = Array.from({ length: s }, (_, p) => {
    const taps: number[] = [];
    for (let t = p; t < k; t += s) taps.unshift(t);
    return { taps, before: taps.length - 1, after: count - outSize };
  });
  return { count, phases };
}

/**
 * dx of a strided convolution as stride² stride-1 convolutions on the blocked layout, one
 * per phase: the rows of dx with (row + top) ≡ p (mod stride) receive only the taps p,
 * p + stride, …, so each phase is a small forward convolution of dy with those taps
 * (reversed, channels swapped), and the phases interleave into dx. The arithmetic is the
 * forward convolution's, with no zeros multiplied, where ConvTranspose on the plain layout
 * scatters. Built per input size (the phases' padding depends on it).
 */
function phaseInputGradGraph(g: Geometry, rows: PhaseAxis, cols: PhaseAxis): Graph {
  const q = new Graph();
  const dy = q.input('dy', [B, g.outH, g.outW, 'co']);
  const w = q.input('w', [g.kh, g.kw, 'ci', 'co']);
  const [s] = g.stride;
  const swapped = q.transpose(w, [0, 1, 3, 2], 'wSwap'); // [kh, kw, Co, Ci]
  const dyB = q.nchwc('ReorderInput', [dy], 'dyB', [{ name: 'channels_last', i: 1 }]);
  const rowsOut: string[] = [];
  rows.phases.forEach((r, a) => {
    const colsOut: string[] = [];
    cols.phases.forEach((c, b) => {
      const name = `ph${a}_${b}`;
      const pickRows = q.op('Gather', [swapped, q.ints(r.taps)], `${name}R`, [
        { name: 'axis', i: 0 },
      ]);
      const pick = q.op('Gather', [pickRows, q.ints(c.taps)], `${name}W`, [{ name: 'axis', i: 1 }]);
      const filter = blockedFilter(
        q,
        pick,
        r.taps.length,
        c.taps.length,
        g.outC,
        g.inC,
        `${name}F`,
      );
      const conv = q.nchwc('Conv', [dyB, filter], `${name}Conv`, [
        { name: 'kernel_shape', ints: [r.taps.length, c.taps.length] },
        { name: 'pads', ints: [r.before, c.before, r.after, c.after] },
      ]);
      const out = q.nchwc('ReorderOutput', [conv], `${name}Out`, [
        { name: 'channels', i: g.inC },
        { name: 'channels_last', i: 1 },
      ]);
      colsOut.push(q.op('Unsqueeze', [out, q.ints([3])], `${name}U`)); // [N, A, A', 1, Ci]
    });
    const row = q.op('Concat', colsOut, `row${a}`, [{ name: 'axis', i: 3 }]);
    rowsOut.push(q.op('Unsqueeze', [row, q.ints([2])], `row${a}U`)); // [N, A, 1, A', s, Ci]
  });
  const all = q.op('Concat', rowsOut, 'all', [{ name: 'axis', i: 2 }]);
  const full = q.op('Reshape', [all, q.ints([0, rows.count * s, cols.count * s, -1])], 'full');
  const [top, left] = g.pads;
  q.op(
    'Slice',
    [full, q.ints([top, left]), q.ints([top + g.inH, left + g.inW]), q.ints([1, 2])],
    'y',
  );
  q.output('y', [B, g.inH, g.inW, 'ci']);
  return q;
}

/** The phase split of a strided input gradient, or null where it does not apply. */
function phasesOf(g: Geometry): { rows: PhaseAxis; cols: PhaseAxis } | null {
  const [sh, sw] = g.stride;
  if (sh !== sw || sh < 2 || g.kh < sh || g.kw < sw) return null;
  if (g.dilation[0] !== 1 || g.dilation[1] !== 1 || !blockedFits(g.outC, g.inC)) return null;
  const rows = phaseAxis(g.kh, sh, g.pads[0], g.inH, g.outH);
  const cols = phaseAxis(g.kw, sw, g.pads[1], g.inW, g.outW);
  const fits = (a: PhaseAxis) => a.phases.every((p) => p.after >= 0);
  return fits(rows) && fits(cols) ? { rows, cols } : null;
}

function inputGradPlan(args: Args): Plan {
  const attrs = args.attrs as unknown as ConvAttrs;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const { dy, filter } = args.inputs;
  if (dy === undefined || filter === undefined || attrs.inputShape === undefined) return null;
  const g = geometryOf(attrs.inputShape, filter.shape as Shape4, attrs);
  if (g === null) return null;
  const phases = phasesOf(g);
  const pointwise =
    g.kh === 1 &&
    g.kw === 1 &&
    g.pads.every((p) => p === 0) &&
    (g.stride[0] > 1 || g.stride[1] > 1);
  const [key, graph] =
    phases !== null
      ? [
          `dxph,${geometryKey('dx', g)},${g.inH}.${g.inW},c${g.inC}.${g.outC}`,
          () => phaseInputGradGraph(g, phases.rows, phases.cols),
        ]
      : pointwise
        ? [`dx1x1,${g.stride.join('.')},${g.inH}.${g.inW}`, () => pointwiseInputGradGraph(g)]
        : [geometryKey('dx', g), () => inputGradGraph(g)];
  return { key, graph, feeds: { dy, w: filter }, outputs: [['y', [...attrs.inputShape]]] };
}

function filterGradPlan(args: Args): Plan {
  const attrs = args.attrs as unknown as ConvAttrs;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const { x, dy } = args.inputs;
  if (x === undefined || dy === undefined || attrs.filterShape === undefined) return null;
  const g = geometryOf(x.shape as Shape4, attrs.filterShape, attrs);
  if (g === null) return null;
  // Chunks per thread where they pay (measured: stride-1 layers only; strided ones and a
  // single thread lose to the transposes).
  const rows = g.n * g.outH * g.outW;
  const unit = g.stride[0] === 1 && g.stride[1] === 1;
  const chunks = unit && kernelThreads > 1 && rows % kernelThreads === 0 ? kernelThreads : 1;
  return {
    key: `${geometryKey('dw', g)}${chunks > 1 ? `,p${chunks}` : ''}`,
    graph: () => filterGradGraph(g, chunks),
    feeds: { x, dy },
    outputs: [['y', [...attrs.filterShape]]],
  };
}

/** `info` seen as [rows, C]: every axis but the last folded into rows (no data moves). */
function asRows(info: tf.TensorInfo): tf.TensorInfo {
  const c = info.shape.at(-1) ?? 1;
  return { ...info, shape: [info.shape.reduce((a, b) => a * b, 1) / c, c] };
}

function bnForwardPlan(args: Args): Plan {
  const { x, gamma, beta } = args.inputs;
  if (x === undefined || gamma === undefined || beta === undefined) return null;
  const rows = asRows(x);
  const c = rows.shape[1]!;
  const eps = Number(args.attrs?.epsilon ?? 1e-5);
  return {
    key: `bn,${eps}`,
    graph: () => bnForwardGraph(eps),
    feeds: { x: rows, gamma, beta },
    outputs: [
      ['y', [...x.shape], rows.shape],
      ['mean', [c]],
      ['var', [c]],
      ['saved', [2, c]],
    ],
    threads: 1,
  };
}

function bnBackwardPlan(args: Args): Plan {
  const { dy, x, saved, gamma } = args.inputs;
  if (dy === undefined || x === undefined || saved === undefined || gamma === undefined)
    return null;
  const rows = asRows(x);
  const c = rows.shape[1]!;
  return {
    key: 'bnGrad',
    graph: () => bnBackwardGraph(),
    feeds: { dy: asRows(dy), x: rows, saved, gamma },
    outputs: [
      ['dx', [...x.shape], rows.shape],
      ['dgamma', [c]],
      ['dbeta', [c]],
    ],
    threads: 1,
  };
}

/** Products smaller than this many multiply-adds stay on WASM: the call would cost more. */
const MIN_PRODUCT = 1 << 16;

/** [B, M, K] · [B, K, N] with either operand transposed in its last two axes first. */
function matMulGraph(transposeA: boolean, transposeB: boolean): Graph {
  const q = new Graph();
  let a = q.input('a', ['ba', transposeA ? 'k' : 'm', transposeA ? 'm' : 'k']);
  let b = q.input('b', ['bb', transposeB ? 'n' : 'k', transposeB ? 'k' : 'n']);
  if (transposeA) a = q.transpose(a, [0, 2, 1], 'aT');
  if (transposeB) b = q.transpose(b, [0, 2, 1], 'bT');
  q.op('MatMul', [a, b], 'y');
  q.output('y', ['batch', 'm', 'n']);
  return q;
}

/**
 * BatchMatMul of any rank from 2: the leading axes are flattened into one batch axis
 * (a reshape, no copy), which ONNX Runtime's MatMul sees as [batch, M, K] · [batch, K, N].
 * The leading axes must be the same on both sides, or all 1 on one side (that operand is
 * then shared by the whole batch); other broadcasts stay on WASM.
 */
function matMulPlan(args: Args): Plan {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (a?.dtype !== 'float32' || b?.dtype !== 'float32') return null;
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  const leadA = a.shape.slice(0, -2);
  const leadB = b.shape.slice(0, -2);
  const ba = leadA.reduce((x, y) => x * y, 1);
  const bb = leadB.reduce((x, y) => x * y, 1);
  const same = leadA.length === leadB.length && leadA.every((d, i) => d === leadB[i]);
  if (ba !== 1 && bb !== 1 && !same) return null;
  const [a1, a2] = a.shape.slice(-2) as [number, number];
  const [b1, b2] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [a2, a1] : [a1, a2];
  const n = transposeB ? b1 : b2;
  const batch = Math.max(ba, bb);
  if (batch * m * n * k < MIN_PRODUCT) return null;
  // The broadcast of the leading axes (right-aligned; here one side is all 1 or both agree).
  const rank = Math.max(leadA.length, leadB.length);
  const lead = Array.from({ length: rank }, (_, i) =>
    Math.max(leadA[i - rank + leadA.length] ?? 1, leadB[i - rank + leadB.length] ?? 1),
  );
  return {
    key: `mm,${transposeA},${transposeB}`,
    graph: () => matMulGraph(transposeA, transposeB),
    feeds: { a: { ...a, shape: [ba, a1, a2] }, b: { ...b, shape: [bb, b1, b2] } },
    outputs: [['y', [...lead, m, n], [batch, m, n]]],
  };
}

/** Tensors smaller than this many elements are transposed on WASM. */
const MIN_TRANSPOSE = 1 << 16;

function transposePlan(args: Args): Plan {
  const { x } = args.inputs;
  const perm = (args.attrs as { perm: number[] }).perm;
  if (x?.dtype !== 'float32' || x.shape.length < 3) return null;
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (size < MIN_TRANSPOSE) return null;
  return {
    key: `transpose,${perm.join('.')}`,
    graph: () => {
      const q = new Graph();
      q.transpose(
        q.input(
          'x',
          x.shape.map((_, i) => `d${i}`),
        ),
        perm,
        'y',
      );
      q.output(
        'y',
        perm.map((p) => `d${p}`),
      );
      return q;
    },
    feeds: { x },
    outputs: [['y', perm.map((p) => x.shape[p]!)]],
  };
}

/**
 * Transcendental element-wise kernels: WASM evaluates them one scalar libm call at a time
 * (sin over SIGReg's [N, slices, 17] arguments took 120–160 ms at 1,024 slices), ONNX
 * Runtime with vectorised approximations in about 12 ms. Smaller tensors stay on WASM.
 */
const MIN_UNARY = 1 << 16;
const UNARY: Record<string, string> = { Sin: 'Sin', Cos: 'Cos', Tanh: 'Tanh', Exp: 'Exp' };

function unaryPlan(op: string): (args: Args) => Plan {
  return (args) => {
    const { x } = args.inputs;
    if (x?.dtype !== 'float32') return null;
    if (x.shape.reduce((a, b) => a * b, 1) < MIN_UNARY) return null;
    // Any shape, seen as one row of values.
    const flat = { ...x, shape: [x.shape.reduce((a, b) => a * b, 1)] };
    return {
      key: `unary,${op}`,
      graph: () => {
        const q = new Graph();
        q.op(op, [q.input('x', ['n'])], 'y');
        q.output('y', ['n']);
        return q;
      },
      feeds: { x: flat },
      outputs: [['y', [...x.shape], flat.shape]],
    };
  };
}

const PLANS: Record<string, (args: Args) => Plan> = {
  ...Object.fromEntries(Object.entries(UNARY).map(([kernel, op]) => [kernel, unaryPlan(op)])),
  BatchMatMul: matMulPlan,
  Transpose: transposePlan,
  Conv2D: convPlan,
  FusedConv2D: fusedConvPlan,
  Conv2DBackpropInput: inputGradPlan,
  Conv2DBackpropFilter: filterGradPlan,
  [BN_FORWARD]: bnForwardPlan,
  [BN_BACKWARD]: bnBackwardPlan,
};

function wrap(original: tf.KernelConfig, plan: (args: Args) => Plan): tf.KernelConfig {
  const fallback = original.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const p = plan(args);
    if (p === null) return fallback(args);
    const out = runInto(
      args.backend as unknown as WasmLike,
      sessionFor(p.key, p.graph, p.threads),
      p.feeds,
      p.outputs,
    );
    if (out === null) return fallback(args);
    return out.length === 1 ? out[0]! : out;
  };
  return { ...original, kernelFunc };
}

/**
 * Routes the WASM backend's kernels listed in PLANS through ONNX Runtime with `threads`
 * intra-op threads. Call after the WASM backend is initialised (its kernels registered);
 * idempotent. Returns whether it took effect, or why not.
 */
export function enableOrtKernels(threads: number): OrtKernelsInfo {
  if (enabledInfo !== null) return enabledInfo;
  const why = whyUnavailable();
  if (why !== null) {
    enabledInfo = { enabled: false, threads: 0, reason: why };
    return enabledInfo;
  }
  sessionOptions = optionsFor(threads);
  kernelThreads = threads;
  channelBlock = probeChannelBlock();
  for (const [name, plan] of Object.entries(PLANS)) {
    const original = tf.getKernel(name, 'wasm');
    if (original === undefined) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(wrap(original, plan));
  }
  enabledInfo = { enabled: true, threads };
  return enabledInfo;
}
