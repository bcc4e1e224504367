/**
 * The exported encoder as a small graph of layer-level operations, in the
 * engine's own conventions (NHWC images, batch first, weights named as in the
 * checkpoint). One description, two writers: ONNX (onnx-writer.ts) and the
 * TensorFlow.js graph-model format (tfjs-writer.ts). Batch norm is folded
 * into the preceding convolution or linear layer, since an exported encoder
 * only ever runs in evaluation mode.
 */
import type { Encoder, EncoderSpec } from '../models/types.ts';
import { BN_EPSILON } from '../models/layers.ts';

export interface Weight {
  shape: number[];
  data: Float32Array;
}

export type IrNode =
  /** NHWC convolution, weight HWIO [k, k, cin, cout], bias [cout], symmetric padding. */
  | { op: 'conv'; x: string; out: string; w: string; b: string; stride: number; pad: number }
  | { op: 'relu'; x: string; out: string }
  | { op: 'add'; x: string; y: string; out: string }
  /** Mean over H and W: [B, H, W, C] → [B, C]. */
  | { op: 'gap'; x: string; out: string }
  | { op: 'avgpool2'; x: string; out: string }
  /** x·W + b over the last axis of a rank-2 or rank-3 input. */
  | { op: 'linear'; x: string; out: string; w: string; b: string; tokens: number | null }
  | { op: 'layernorm'; x: string; out: string; gamma: string; beta: string; eps: number }
  /** GELU, tanh form, as the engine computes it. */
  | { op: 'gelu'; x: string; out: string }
  /** [B, g·p, g·p, C] → [B, g·g, p·p·C], patches row-major, pixels inside a patch row-major. */
  | { op: 'patchify'; x: string; out: string; grid: number; patch: number; channels: number }
  /** Prepends the learned token w [1, 1, D] to every sequence: [B, T, D] → [B, T+1, D]. */
  | { op: 'prepend'; x: string; out: string; w: string; tokens: number; dim: number }
  /** Adds a constant that broadcasts over the batch. */
  | { op: 'addConst'; x: string; out: string; w: string }
  /** Multi-head self-attention from packed q, k, v [B, T, 3D] to [B, T, D] (before the output projection). */
  | { op: 'attention'; x: string; out: string; tokens: number; heads: number; dim: number }
  /** [B, T, D] → [B, D]: the first token, or the mean of the others. */
  | { op: 'pool'; x: string; out: string; how: 'first' | 'mean-rest'; tokens: number; dim: number };

export interface ExportGraph {
  input: { name: string; size: number; channels: number };
  output: { name: string; dim: number };
  nodes: IrNode[];
  weights: Map<string, Weight>;
}

/** Looks up a parameter or batch-norm statistic of the checkpoint by name. */
export type WeightSource = (name: string) => Weight;

/** The weights (trainable and batch-norm state) of a model, read by name. */
export function weightSource(model: Pick<Encoder, 'params'>): WeightSource {
  return (name: string): Weight => {
    const v = model.params.trainable.get(name) ?? model.params.state.get(name);
    if (v === undefined) throw new Error(`export: the model has no parameter ${name}`);
    return { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) };
  };
}

/**
 * Builds the graph of an encoder for input `size` (the ResNet's stem depends
 * on it, as in models/resnet.ts), optionally followed by the projector
 * (fc1 → BN → ReLU → fc2) whose weights `projector` provides.
 */
export function buildExportGraph(
  spec: EncoderSpec & { pool?: 'cls' | 'mean' },
  size: number,
  encoder: WeightSource,
  projector: WeightSource | null,
): ExportGraph {
  const g = new GraphBuilder();
  const x = 'input';
  let out: string;
  let dim: number;
  if (spec.kind === 'resnet') {
    out = resnet(g, spec, size, encoder, x);
    dim = spec.widths[spec.widths.length - 1]!;
  } else {
    out = vit(g, spec, encoder, x);
    dim = spec.dim;
  }
  if (projector !== null) {
    const hidden = foldLinearBn(g, 'projector.fc1', projector, 'fc1', 'bn1');
    const h = g.node({
      op: 'linear',
      x: out,
      out: g.name('projector.fc1'),
      ...hidden,
      tokens: null,
    });
    const r = g.node({ op: 'relu', x: h, out: g.name('projector.relu') });
    const w2 = g.weight('projector.fc2.w', projector('fc2.w'));
    const b2 = g.weight('projector.fc2.b', projector('fc2.b'));
    out = g.node({ op: 'linear', x: r, out: g.name('projector.fc2'), w: w2, b: b2, tokens: null });
    dim = projector('fc2.w').shape[1]!;
  }
  const channels = spec.inChannels;
  return {
    input: { name: x, size: spec.kind === 'vit' ? spec.imageSize : size, channels },
    output: { name: out, dim },
    nodes: g.nodes,
    weights: g.weights,
  };
}

class GraphBuilder {
  nodes: IrNode[] = [];
  weights = new Map<string, Weight>();
  private used = new Set<string>();

  name(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }
  node(n: IrNode): string {
    this.nodes.push(n);
    return n.out;
  }
  weight(name: string, w: Weight): string {
    this.weights.set(name, w);
    return name;
  }
}

/** Scale and shift of an evaluation-mode batch norm: y = x·s + t. */
function bnAffine(src: WeightSource, bn: string): { s: Float32Array; t: Float32Array } {
  const gamma = src(`${bn}.gamma`).data;
  const beta = src(`${bn}.beta`).data;
  const mean = src(`${bn}.mean`).data;
  const variance = src(`${bn}.var`).data;
  const s = new Float32Array(gamma.length);
  const t = new Float32Array(gamma.length);
  for (let c = 0; c < gamma.length; c++) {
    s[c] = gamma[c]! / Math.sqrt(variance[c]! + BN_EPSILON);
    t[c] = beta[c]! - mean[c]! * s[c]!;
  }
  return { s, t };
}

/** A convolution followed by batch norm, as one convolution with bias. */
function convBn(
  g: GraphBuilder,
  src: WeightSource,
  conv: string,
  bn: string,
  x: string,
  stride: number,
): string {
  const w = src(`${conv}.w`);
  const [k, , , cout] = w.shape as [number, number, number, number];
  const { s, t } = bnAffine(src, bn);
  const folded = new Float32Array(w.data.length);
  for (let i = 0; i < w.data.length; i++) folded[i] = w.data[i]! * s[i % cout]!;
  const wn = g.weight(`${conv}.w`, { shape: w.shape, data: folded });
  const bnName = g.weight(`${conv}.b`, { shape: [cout], data: t });
  return g.node({
    op: 'conv',
    x,
    out: g.name(conv),
    w: wn,
    b: bnName,
    stride,
    pad: (k - 1) / 2,
  });
}

/** A linear layer followed by batch norm, folded: W·diag(s), b·s + t. */
function foldLinearBn(
  g: GraphBuilder,
  prefix: string,
  src: WeightSource,
  fc: string,
  bn: string,
): { w: string; b: string } {
  const w = src(`${fc}.w`);
  const b = src(`${fc}.b`).data;
  const out = w.shape[1]!;
  const { s, t } = bnAffine(src, bn);
  const wd = new Float32Array(w.data.length);
  for (let i = 0; i < w.data.length; i++) wd[i] = w.data[i]! * s[i % out]!;
  const bd = Float32Array.from(b, (v, c) => v * s[c]! + t[c]!);
  return {
    w: g.weight(`${prefix}.w`, { shape: w.shape, data: wd }),
    b: g.weight(`${prefix}.b`, { shape: [out], data: bd }),
  };
}

function resnet(
  g: GraphBuilder,
  spec: Extract<EncoderSpec, { kind: 'resnet' }>,
  size: number,
  src: WeightSource,
  x: string,
): string {
  let h = convBn(g, src, 'stem.conv', 'stem.bn', x, size > 64 ? 2 : 1);
  h = g.node({ op: 'relu', x: h, out: g.name('stem.relu') });
  if (size > 128) h = g.node({ op: 'avgpool2', x: h, out: g.name('stem.pool') });
  let cin = spec.stem;
  spec.widths.forEach((width, s) => {
    for (let b = 0; b < spec.depths[s]!; b++) {
      const name = `stage${s + 1}.block${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      let y = convBn(g, src, `${name}.conv1`, `${name}.bn1`, h, stride);
      y = g.node({ op: 'relu', x: y, out: g.name(`${name}.relu1`) });
      y = convBn(g, src, `${name}.conv2`, `${name}.bn2`, y, 1);
      const skip =
        stride !== 1 || cin !== width
          ? convBn(g, src, `${name}.short.conv`, `${name}.short.bn`, h, stride)
          : h;
      const sum = g.node({ op: 'add', x: y, y: skip, out: g.name(`${name}.add`) });
      h = g.node({ op: 'relu', x: sum, out: g.name(`${name}.out`) });
      cin = width;
    }
  });
  return g.node({ op: 'gap', x: h, out: g.name('features') });
}

function vit(
  g: GraphBuilder,
  spec: Extract<EncoderSpec, { kind: 'vit' }> & { pool?: 'cls' | 'mean' },
  src: WeightSource,
  x: string,
): string {
  const { imageSize, patch, dim, depth, heads, inChannels } = spec;
  const grid = imageSize / patch;
  const tokens = grid * grid;
  const seq = tokens + 1;
  const take = (name: string) => g.weight(name, src(name));
  let h = g.node({ op: 'patchify', x, out: g.name('patches'), grid, patch, channels: inChannels });
  h = g.node({
    op: 'linear',
    x: h,
    out: g.name('patch'),
    w: take('patch.w'),
    b: take('patch.b'),
    tokens,
  });
  h = g.node({ op: 'prepend', x: h, out: g.name('with_cls'), w: take('cls'), tokens, dim });
  h = g.node({ op: 'addConst', x: h, out: g.name('with_pos'), w: take('pos') });
  const ln = (name: string, input: string) =>
    g.node({
      op: 'layernorm',
      x: input,
      out: g.name(name),
      gamma: take(`${name}.gamma`),
      beta: take(`${name}.beta`),
      eps: 1e-6,
    });
  const lin = (name: string, input: string) =>
    g.node({
      op: 'linear',
      x: input,
      out: g.name(name),
      w: take(`${name}.w`),
      b: take(`${name}.b`),
      tokens: seq,
    });
  for (let i = 0; i < depth; i++) {
    const p = `block${i}`;
    const qkv = lin(`${p}.attn.qkv`, ln(`${p}.ln1`, h));
    const mixed = g.node({
      op: 'attention',
      x: qkv,
      out: g.name(`${p}.attn`),
      tokens: seq,
      heads,
      dim,
    });
    const a = g.node({
      op: 'add',
      x: h,
      y: lin(`${p}.attn.proj`, mixed),
      out: g.name(`${p}.res1`),
    });
    const f1 = lin(`${p}.mlp.fc1`, ln(`${p}.ln2`, a));
    const act = g.node({ op: 'gelu', x: f1, out: g.name(`${p}.gelu`) });
    h = g.node({ op: 'add', x: a, y: lin(`${p}.mlp.fc2`, act), out: g.name(`${p}.res2`) });
  }
  h = ln('norm', h);
  const how = (spec.pool ?? 'cls') === 'cls' ? 'first' : 'mean-rest';
  return g.node({ op: 'pool', x: h, out: g.name('features'), how, tokens: seq, dim });
}
