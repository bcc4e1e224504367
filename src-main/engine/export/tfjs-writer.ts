/**
 * Writes an export graph in the TensorFlow.js graph-model format: a
 * `model.json` whose `modelTopology` is a TensorFlow GraphDef in JSON (the
 * ops tfjs-converter's `loadGraphModel` executes) and one weight file that
 * every Const node reads from, in manifest order. Input NHWC float32
 * [batch, H, W, C], normalised as the metadata states; output [batch, dim].
 */
import type { ExportGraph, IrNode } from './graph.ts';

interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

export interface TfjsModel {
  /** The contents of model.json. */
  modelJson: Record<string, unknown>;
  /** The weight file the manifest names. */
  weightData: Uint8Array;
}

const b64 = (s: string) => btoa(s);
const T_FLOAT = { type: 'DT_FLOAT' };
const T_INT = { type: 'DT_INT32' };

/** Serialises `graph`; `weightsPath` is the file name written into the manifest. */
export function writeTfjs(
  graph: ExportGraph,
  metadata: Record<string, unknown>,
  weightsPath = 'weights.bin',
): TfjsModel {
  const nodes: TfNode[] = [];
  const weights: WeightEntry[] = [];
  let counter = 0;
  const fresh = (base: string) => `${base}/_${counter++}`;
  const constNode = (name: string, dtype: 'float32' | 'int32', shape: number[]) => {
    nodes.push({
      name,
      op: 'Const',
      attr: {
        value: {
          tensor: {
            dtype: dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32',
            tensorShape: dims(shape),
          },
        },
        dtype: dtype === 'float32' ? T_FLOAT : T_INT,
      },
    });
  };
  const ints = (values: number[], shape = [values.length]) => {
    const name = fresh('const');
    constNode(name, 'int32', shape);
    weights.push({ name, shape, dtype: 'int32', data: Int32Array.from(values) });
    return name;
  };
  const scalar = (value: number) => {
    const name = fresh('const');
    constNode(name, 'float32', []);
    weights.push({ name, shape: [], dtype: 'float32', data: Float32Array.of(value) });
    return name;
  };
  const emit = (op: string, input: string[], name: string, attr: Record<string, unknown> = {}) => {
    nodes.push({ name, op, input, attr: { T: T_FLOAT, ...attr } });
    return name;
  };

  const { size, channels } = graph.input;
  nodes.push({
    name: graph.input.name,
    op: 'Placeholder',
    attr: { dtype: T_FLOAT, shape: { shape: dims([-1, size, size, channels]) } },
  });
  for (const [name, w] of graph.weights) {
    constNode(name, 'float32', w.shape);
    weights.push({ name, shape: w.shape, dtype: 'float32', data: w.data });
  }

  const lower = (n: IrNode): void => {
    switch (n.op) {
      case 'conv': {
        const p = n.pad;
        const padded =
          p === 0
            ? n.x
            : emit('Pad', [n.x, ints([0, 0, p, p, p, p, 0, 0], [4, 2])], fresh(n.out), {
                Tpaddings: T_INT,
              });
        const conv = emit('Conv2D', [padded, n.w], fresh(n.out), {
          strides: { list: { i: ['1', String(n.stride), String(n.stride), '1'] } },
          padding: { s: b64('VALID') },
          data_format: { s: b64('NHWC') },
          dilations: { list: { i: ['1', '1', '1', '1'] } },
        });
        emit('BiasAdd', [conv, n.b], n.out, { data_format: { s: b64('NHWC') } });
        return;
      }
      case 'relu':
        emit('Relu', [n.x], n.out);
        return;
      case 'add':
        emit('AddV2', [n.x, n.y], n.out);
        return;
      case 'addConst':
        emit('AddV2', [n.x, n.w], n.out);
        return;
      case 'gap':
        emit('Mean', [n.x, ints([1, 2])], n.out, { Tidx: T_INT, keep_dims: { b: false } });
        return;
      case 'avgpool2':
        emit('AvgPool', [n.x], n.out, {
          ksize: { list: { i: ['1', '2', '2', '1'] } },
          strides: { list: { i: ['1', '2', '2', '1'] } },
          padding: { s: b64('VALID') },
          data_format: { s: b64('NHWC') },
        });
        return;
      case 'linear': {
        const w = graph.weights.get(n.w)!;
        const [cin, cout] = w.shape as [number, number];
        const flat =
          n.tokens === null
            ? n.x
            : emit('Reshape', [n.x, ints([-1, cin])], fresh(n.out), { Tshape: T_INT });
        const mm = emit('MatMul', [flat, n.w], fresh(n.out), {
          transpose_a: { b: false },
          transpose_b: { b: false },
        });
        const biased = emit('BiasAdd', [mm, n.b], n.tokens === null ? n.out : fresh(n.out));
        if (n.tokens !== null) {
          emit('Reshape', [biased, ints([-1, n.tokens, cout])], n.out, { Tshape: T_INT });
        }
        return;
      }
      case 'layernorm': {
        const keep = { Tidx: T_INT, keep_dims: { b: true } };
        const mean = emit('Mean', [n.x, ints([-1])], fresh(n.out), keep);
        const centred = emit('Sub', [n.x, mean], fresh(n.out));
        const variance = emit(
          'Mean',
          [emit('Square', [centred], fresh(n.out)), ints([-1])],
          fresh(n.out),
          keep,
        );
        const inv = emit(
          'Rsqrt',
          [emit('AddV2', [variance, scalar(n.eps)], fresh(n.out))],
          fresh(n.out),
        );
        const normed = emit('Mul', [centred, inv], fresh(n.out));
        emit('AddV2', [emit('Mul', [normed, n.gamma], fresh(n.out)), n.beta], n.out);
        return;
      }
      case 'gelu': {
        const cube = emit('Mul', [emit('Square', [n.x], fresh(n.out)), n.x], fresh(n.out));
        const inner = emit(
          'AddV2',
          [n.x, emit('Mul', [cube, scalar(0.044715)], fresh(n.out))],
          fresh(n.out),
        );
        const t = emit(
          'Tanh',
          [emit('Mul', [inner, scalar(Math.sqrt(2 / Math.PI))], fresh(n.out))],
          fresh(n.out),
        );
        const half = emit('Mul', [n.x, scalar(0.5)], fresh(n.out));
        emit('Mul', [half, emit('AddV2', [t, scalar(1)], fresh(n.out))], n.out);
        return;
      }
      case 'patchify': {
        const { grid: g, patch: p, channels: c } = n;
        const split = emit('Reshape', [n.x, ints([-1, g, p, g, p, c])], fresh(n.out), {
          Tshape: T_INT,
        });
        const moved = emit('Transpose', [split, ints([0, 1, 3, 2, 4, 5])], fresh(n.out), {
          Tperm: T_INT,
        });
        emit('Reshape', [moved, ints([-1, g * g, p * p * c])], n.out, { Tshape: T_INT });
        return;
      }
      case 'prepend': {
        // [B, 1, D] of zeros shaped from the input, plus the token: the batch size stays dynamic.
        const first = emit('Slice', [n.x, ints([0, 0, 0]), ints([-1, 1, -1])], fresh(n.out), {
          Index: T_INT,
        });
        const zeros = emit('ZerosLike', [first], fresh(n.out));
        const token = emit('AddV2', [zeros, n.w], fresh(n.out));
        emit('ConcatV2', [token, n.x, ints([1])], n.out, { N: { i: '2' }, Tidx: T_INT });
        return;
      }
      case 'attention': {
        const dh = n.dim / n.heads;
        const packed = emit('Reshape', [n.x, ints([-1, n.tokens, 3, n.heads, dh])], fresh(n.out), {
          Tshape: T_INT,
        });
        const moved = emit('Transpose', [packed, ints([2, 0, 3, 1, 4])], fresh(n.out), {
          Tperm: T_INT,
        });
        const parts = emit('Unpack', [moved], fresh(n.out), { num: { i: '3' }, axis: { i: '0' } });
        const scores = emit('BatchMatMulV2', [`${parts}`, `${parts}:1`], fresh(n.out), {
          adj_x: { b: false },
          adj_y: { b: true },
        });
        const scaled = emit('Mul', [scores, scalar(1 / Math.sqrt(dh))], fresh(n.out));
        const attn = emit('Softmax', [scaled], fresh(n.out));
        const mixed = emit('BatchMatMulV2', [attn, `${parts}:2`], fresh(n.out), {
          adj_x: { b: false },
          adj_y: { b: false },
        });
        const back = emit('Transpose', [mixed, ints([0, 2, 1, 3])], fresh(n.out), { Tperm: T_INT });
        emit('Reshape', [back, ints([-1, n.tokens, n.dim])], n.out, { Tshape: T_INT });
        return;
      }
      case 'pool': {
        if (n.how === 'first') {
          const first = emit('Slice', [n.x, ints([0, 0, 0]), ints([-1, 1, -1])], fresh(n.out), {
            Index: T_INT,
          });
          emit('Reshape', [first, ints([-1, n.dim])], n.out, { Tshape: T_INT });
        } else {
          const rest = emit('Slice', [n.x, ints([0, 1, 0]), ints([-1, -1, -1])], fresh(n.out), {
            Index: T_INT,
          });
          emit('Mean', [rest, ints([1])], n.out, { Tidx: T_INT, keep_dims: { b: false } });
        }
        return;
      }
    }
  };
  for (const n of graph.nodes) lower(n);
  // A stable output name for callers: `features` = the graph's last node.
  emit('Identity', [graph.output.name], 'output');

  const total = weights.reduce((s, w) => s + w.data.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const w of weights) {
    weightData.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), offset);
    offset += w.data.byteLength;
  }
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'lejepa-studio',
    convertedBy: 'lejepa-studio export',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [
      {
        paths: [weightsPath],
        weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })),
      },
    ],
    signature: {
      inputs: {
        input: {
          name: `${graph.input.name}:0`,
          dtype: 'DT_FLOAT',
          tensorShape: dims([-1, size, size, channels]),
        },
      },
      outputs: {
        output: { name: 'output:0', dtype: 'DT_FLOAT', tensorShape: dims([-1, graph.output.dim]) },
      },
    },
    userDefinedMetadata: metadata,
  };
  return { modelJson, weightData };
}

function dims(shape: number[]) {
  return { dim: shape.map((s) => ({ size: String(s) })) };
}
