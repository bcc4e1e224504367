/**
 * Writes an export graph as an ONNX model (IR version 8, opset 17) with our
 * own protobuf writer. The input is NCHW float32 [batch, C, H, W], already
 * normalised (the metadata states how); the output is [batch, dim].
 * Field numbers follow onnx.proto: ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto.
 */
import type { ExportGraph, IrNode, Weight } from './graph.ts';
import { ProtoWriter } from './onnx-proto.ts';

export const FLOAT = 1;
export const INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

export type Attr = { name: string } & (
  { f: number } | { i: number } | { ints: number[] } | { s: string }
);

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Attr[];
  /** Operator set the op belongs to; the default ONNX set when absent. */
  domain?: string;
}

export interface OnnxOptions {
  producerVersion: string;
  /** Written as metadata_props (key → value). */
  metadata: Record<string, string>;
  docString?: string;
}

/** Serialises `graph` to ONNX bytes. */
export function writeOnnx(graph: ExportGraph, options: OnnxOptions): Uint8Array {
  const nodes: OnnxNode[] = [];
  const consts = new Map<string, { dims: number[]; type: number; data: Uint8Array }>();
  let counter = 0;
  const fresh = (base: string) => `${base}__${counter++}`;
  const floats = (name: string, w: Weight) =>
    consts.set(name, { dims: w.shape, type: FLOAT, data: bytesOf(w.data) });
  const ints = (values: number[]) => {
    const name = fresh('const_i64');
    consts.set(name, { dims: [values.length], type: INT64, data: int64Bytes(values) });
    return name;
  };
  const scalar = (value: number) => {
    const name = fresh('const_f32');
    consts.set(name, { dims: [], type: FLOAT, data: bytesOf(Float32Array.of(value)) });
    return name;
  };
  const emit = (op: string, inputs: string[], out: string, attrs?: Attr[]) => {
    nodes.push({ op, inputs, outputs: [out], ...(attrs ? { attrs } : {}) });
    return out;
  };

  for (const [name, w] of graph.weights) {
    // Convolution weights go HWIO → OIHW; everything else keeps its layout.
    if (w.shape.length === 4)
      floats(name, { shape: hwioToOihwShape(w.shape), data: hwioToOihw(w) });
    else floats(name, w);
  }
  for (const n of graph.nodes) lower(n);

  function lower(n: IrNode): void {
    switch (n.op) {
      case 'conv': {
        const p = n.pad;
        emit('Conv', [n.x, n.w, n.b], n.out, [
          { name: 'strides', ints: [n.stride, n.stride] },
          { name: 'pads', ints: [p, p, p, p] },
        ]);
        return;
      }
      case 'relu':
        emit('Relu', [n.x], n.out);
        return;
      case 'add':
        emit('Add', [n.x, n.y], n.out);
        return;
      case 'gap': {
        const pooled = emit('GlobalAveragePool', [n.x], fresh(n.out));
        emit('Flatten', [pooled], n.out, [{ name: 'axis', i: 1 }]);
        return;
      }
      case 'avgpool2':
        emit('AveragePool', [n.x], n.out, [
          { name: 'kernel_shape', ints: [2, 2] },
          { name: 'strides', ints: [2, 2] },
        ]);
        return;
      case 'linear': {
        const mm = emit('MatMul', [n.x, n.w], fresh(n.out));
        emit('Add', [mm, n.b], n.out);
        return;
      }
      case 'layernorm':
        emit('LayerNormalization', [n.x, n.gamma, n.beta], n.out, [
          { name: 'axis', i: -1 },
          { name: 'epsilon', f: n.eps },
        ]);
        return;
      case 'gelu': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the engine's tanh form.
        const x2 = emit('Mul', [n.x, n.x], fresh(n.out));
        const x3 = emit('Mul', [x2, n.x], fresh(n.out));
        const inner = emit(
          'Add',
          [n.x, emit('Mul', [x3, scalar(0.044715)], fresh(n.out))],
          fresh(n.out),
        );
        const t = emit(
          'Tanh',
          [emit('Mul', [inner, scalar(Math.sqrt(2 / Math.PI))], fresh(n.out))],
          fresh(n.out),
        );
        const half = emit('Mul', [n.x, scalar(0.5)], fresh(n.out));
        emit('Mul', [half, emit('Add', [t, scalar(1)], fresh(n.out))], n.out);
        return;
      }
      case 'patchify': {
        const { grid: g, patch: p, channels: c } = n;
        // NCHW [B, C, g, p, g, p] → [B, g, g, p, p, C], the engine's NHWC patch order.
        const split = emit('Reshape', [n.x, ints([-1, c, g, p, g, p])], fresh(n.out));
        const moved = emit('Transpose', [split], fresh(n.out), [
          { name: 'perm', ints: [0, 2, 4, 3, 5, 1] },
        ]);
        emit('Reshape', [moved, ints([-1, g * g, p * p * c])], n.out);
        return;
      }
      case 'prepend': {
        // The token expanded to [B, 1, D], B read from the input's shape.
        const shape = emit('Shape', [n.x], fresh(n.out));
        const batch = emit('Slice', [shape, ints([0]), ints([1])], fresh(n.out));
        const target = emit('Concat', [batch, ints([1, n.dim])], fresh(n.out), [
          { name: 'axis', i: 0 },
        ]);
        const tokens = emit('Expand', [n.w, target], fresh(n.out));
        emit('Concat', [tokens, n.x], n.out, [{ name: 'axis', i: 1 }]);
        return;
      }
      case 'addConst':
        emit('Add', [n.x, n.w], n.out);
        return;
      case 'attention': {
        const dh = n.dim / n.heads;
        const packed = emit('Reshape', [n.x, ints([-1, n.tokens, 3, n.heads, dh])], fresh(n.out));
        const moved = emit('Transpose', [packed], fresh(n.out), [
          { name: 'perm', ints: [2, 0, 3, 1, 4] },
        ]);
        const parts = [fresh(n.out), fresh(n.out), fresh(n.out)];
        nodes.push({
          op: 'Split',
          inputs: [moved],
          outputs: parts,
          attrs: [{ name: 'axis', i: 0 }],
        });
        const [q, k, v] = parts.map((s) => emit('Squeeze', [s, ints([0])], fresh(n.out))) as [
          string,
          string,
          string,
        ];
        const kt = emit('Transpose', [k], fresh(n.out), [{ name: 'perm', ints: [0, 1, 3, 2] }]);
        const scores = emit(
          'Mul',
          [emit('MatMul', [q, kt], fresh(n.out)), scalar(1 / Math.sqrt(dh))],
          fresh(n.out),
        );
        const attn = emit('Softmax', [scores], fresh(n.out), [{ name: 'axis', i: -1 }]);
        const mixed = emit('MatMul', [attn, v], fresh(n.out));
        const back = emit('Transpose', [mixed], fresh(n.out), [
          { name: 'perm', ints: [0, 2, 1, 3] },
        ]);
        emit('Reshape', [back, ints([-1, n.tokens, n.dim])], n.out);
        return;
      }
      case 'pool': {
        if (n.how === 'first') {
          const idx = fresh('const_i64');
          consts.set(idx, { dims: [], type: INT64, data: int64Bytes([0]) });
          emit('Gather', [n.x, idx], n.out, [{ name: 'axis', i: 1 }]);
        } else {
          const rest = emit('Slice', [n.x, ints([1]), ints([n.tokens]), ints([1])], fresh(n.out));
          emit('ReduceMean', [rest], n.out, [
            { name: 'axes', ints: [1] },
            { name: 'keepdims', i: 0 },
          ]);
        }
        return;
      }
    }
  }

  const { size, channels } = graph.input;
  return onnxModel({
    name: 'encoder',
    nodes,
    consts,
    inputs: [{ name: graph.input.name, dims: ['batch', channels, size, size] }],
    outputs: [{ name: graph.output.name, dims: ['batch', graph.output.dim] }],
    ...options,
  });
}

/** A float tensor at the graph's edge; string dimensions are symbolic (dim_param). */
export interface OnnxValue {
  name: string;
  dims: (number | string)[];
}

export interface OnnxGraphSpec extends OnnxOptions {
  name: string;
  nodes: OnnxNode[];
  /** Initialisers by name: dims, element type (FLOAT or INT64) and little-endian bytes. */
  consts: ReadonlyMap<string, { dims: number[]; type: number; data: Uint8Array }>;
  inputs: OnnxValue[];
  outputs: OnnxValue[];
}

/** Serialises one graph as a model (IR version 8, default opset 17). */
export function onnxModel(spec: OnnxGraphSpec): Uint8Array {
  const g = new ProtoWriter();
  spec.nodes.forEach((node, i) => g.message(1, nodeProto(node, `n${i}_${node.op}`)));
  g.string(2, spec.name);
  for (const [name, c] of spec.consts) g.message(5, tensorProto(name, c.dims, c.type, c.data));
  for (const v of spec.inputs) g.message(11, valueInfo(v.name, v.dims));
  for (const v of spec.outputs) g.message(12, valueInfo(v.name, v.dims));

  const m = new ProtoWriter();
  m.int(1, 8);
  m.string(2, 'lejepa-studio');
  m.string(3, spec.producerVersion);
  if (spec.docString) m.string(6, spec.docString);
  m.message(7, g);
  m.message(8, new ProtoWriter().string(1, '').int(2, 17));
  // Version 1 of every other operator set a node names.
  const domains = new Set(spec.nodes.flatMap((n) => (n.domain ? [n.domain] : [])));
  for (const d of domains) m.message(8, new ProtoWriter().string(1, d).int(2, 1));
  for (const [key, value] of Object.entries(spec.metadata)) {
    m.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  return m.finish();
}

function nodeProto(n: OnnxNode, name: string): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, name);
  w.string(4, n.op);
  if (n.domain) w.string(7, n.domain);
  for (const a of n.attrs ?? []) {
    const aw = new ProtoWriter().string(1, a.name);
    if ('f' in a) aw.float(2, a.f).int(20, ATTR_FLOAT);
    else if ('s' in a) aw.string(4, a.s).int(20, ATTR_STRING);
    else if ('i' in a) aw.int(3, a.i).int(20, ATTR_INT);
    else {
      for (const v of a.ints) aw.int(8, v);
      aw.int(20, ATTR_INTS);
    }
    w.message(5, aw);
  }
  return w;
}

function tensorProto(name: string, dims: number[], type: number, raw: Uint8Array): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of dims) w.int(1, d);
  w.int(2, type);
  w.string(8, name);
  w.bytes(9, raw);
  return w;
}

/** ValueInfoProto of a float tensor; string dimensions are symbolic (dim_param). */
function valueInfo(name: string, dims: (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensor = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensor));
}

function bytesOf(a: Float32Array): Uint8Array {
  // Typed arrays are little-endian on every platform the studio runs on, as raw_data requires.
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export function int64Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return out;
}

function hwioToOihwShape(shape: number[]): number[] {
  const [h, w, i, o] = shape as [number, number, number, number];
  return [o, i, h, w];
}

function hwioToOihw(w: Weight): Float32Array {
  const [kh, kw, ci, co] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) {
          out[((o * ci + i) * kh + y) * kw + x] = w.data[((y * kw + x) * ci + i) * co + o]!;
        }
      }
    }
  }
  return out;
}
