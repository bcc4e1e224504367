/**
 * Convolution-gradient kernels for the WASM backend of tfjs 4.22. It registers no
 * Conv2DBackpropFilter and no depthwise backprop kernels, so convolutions cannot train there
 * as shipped; and its Conv2DBackpropInput is a plain loop, several times slower than a forward
 * convolution through XNNPACK. All four are provided here with forward ops (see conv-grads.ts).
 * Its BatchMatMul is 5–15× slower when asked to transpose an operand than a transpose followed
 * by a plain product; every matrix-product gradient asks for that, so the product is wrapped.
 * Its Identity copies the tensor, and tfjs-core saves every tensor a gradient needs through
 * Identity: a training step held each activation two to four times over. Tensors never change
 * once made, so Identity here shares the data (as the CPU backend's does).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  conv2dFilterGrad,
  conv2dInputGrad,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  geometry,
  type Pad,
} from './conv-grads.ts';
import { registerBatchNormKernels } from './batch-norm.ts';

type Shape4 = [number, number, number, number];
type Attrs = {
  strides: number[];
  dilations?: number[];
  pad: Pad;
  dimRoundingMode?: string;
  filterShape?: Shape4;
  inputShape?: Shape4;
};

function asTensor(info: tf.TensorInfo | undefined): tf.Tensor4D {
  if (info === undefined) throw new Error('convolution gradient kernel called without its inputs');
  return (
    info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info)
  ) as tf.Tensor4D;
}

const KERNELS: { name: string; run(inputs: tf.NamedTensorInfoMap, attrs: Attrs): tf.Tensor }[] = [
  {
    name: 'Conv2DBackpropFilter',
    run: (i, a) => conv2dFilterGrad(asTensor(i.x), asTensor(i.dy), a.filterShape!, geometry(a)),
  },
  {
    name: 'Conv2DBackpropInput',
    run: (i, a) => conv2dInputGrad(asTensor(i.dy), asTensor(i.filter), a.inputShape!, geometry(a)),
  },
  {
    name: 'DepthwiseConv2dNativeBackpropInput',
    run: (i, a) =>
      depthwiseInputGrad(asTensor(i.dy), asTensor(i.filter), a.inputShape!, geometry(a)),
  },
  {
    name: 'DepthwiseConv2dNativeBackpropFilter',
    run: (i, a) => depthwiseFilterGrad(asTensor(i.x), asTensor(i.dy), a.filterShape!, geometry(a)),
  },
];

let registered = false;

/**
 * Wraps the backend's BatchMatMul: operands flagged for transposition are transposed first
 * (a copy), and the plain product runs on them.
 */
function wrapBatchMatMul(): void {
  const original = tf.getKernel('BatchMatMul', 'wasm');
  if (!original) return;
  const plain = original.kernelFunc;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    // Keeps the original's setup (it binds the WASM function when the backend starts).
    ...original,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return plain({ inputs, backend, attrs });
      const swapLast = (t: tf.Tensor) => {
        const perm = t.shape.map((_, i) => i);
        [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1]!, perm[t.rank - 2]!];
        return tf.transpose(t, perm);
      };
      const a = asTensor(inputs.a);
      const b = asTensor(inputs.b);
      const a2 = transposeA ? swapLast(a) : a;
      const b2 = transposeB ? swapLast(b) : b;
      try {
        return plain({
          inputs: { a: a2, b: b2 },
          backend,
          attrs: { ...attrs, transposeA: false, transposeB: false },
        });
      } finally {
        if (a2 !== a) a2.dispose();
        if (b2 !== b) b2.dispose();
      }
    },
  });
}

interface SharingBackend {
  incRef(dataId: tf.DataId): void;
}

/** Replaces the backend's copying Identity by one that shares the input's data. */
function shareIdentity(): void {
  const original = tf.getKernel('Identity', 'wasm');
  if (!original) return;
  const copy = original.kernelFunc;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x;
      if (x === undefined || x.dtype === 'string') return copy(args);
      (args.backend as SharingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

/** Installs the kernels above on the 'wasm' backend, replacing any it has (idempotent). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  wrapBatchMatMul();
  shareIdentity();
  registerBatchNormKernels();
  for (const k of KERNELS) {
    if (tf.getKernel(k.name, 'wasm')) tf.unregisterKernel(k.name, 'wasm');
    tf.registerKernel({
      kernelName: k.name,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs }) => tf.tidy(() => k.run(inputs, attrs as unknown as Attrs)),
    });
  }
}
