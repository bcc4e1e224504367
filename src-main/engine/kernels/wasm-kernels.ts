/**
 * Kernels the WASM backend of tfjs 4.22 lacks, registered on it so that convolutions train:
 * Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput and DepthwiseConv2dNativeBackpropFilter,
 * each computed with forward ops (see conv-grads.ts). Registering twice is harmless.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  conv2dFilterGrad,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  geometry,
  type Pad,
} from './conv-grads.ts';

type Attrs = {
  strides: number[];
  dilations?: number[];
  pad: Pad;
  dimRoundingMode?: string;
} & Record<string, unknown>;

function asTensor(info: tf.TensorInfo): tf.Tensor4D {
  return (
    info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info)
  ) as tf.Tensor4D;
}

const KERNELS: { name: string; run(inputs: tf.NamedTensorInfoMap, attrs: Attrs): tf.Tensor }[] = [
  {
    name: 'Conv2DBackpropFilter',
    run: (inputs, attrs) =>
      conv2dFilterGrad(
        asTensor(inputs.x!),
        asTensor(inputs.dy!),
        attrs.filterShape as [number, number, number, number],
        geometry(attrs),
      ),
  },
  {
    name: 'DepthwiseConv2dNativeBackpropInput',
    run: (inputs, attrs) =>
      depthwiseInputGrad(
        asTensor(inputs.dy!),
        asTensor(inputs.filter!),
        attrs.inputShape as [number, number, number, number],
        geometry(attrs),
      ),
  },
  {
    name: 'DepthwiseConv2dNativeBackpropFilter',
    run: (inputs, attrs) =>
      depthwiseFilterGrad(
        asTensor(inputs.x!),
        asTensor(inputs.dy!),
        attrs.filterShape as [number, number, number, number],
        geometry(attrs),
      ),
  },
];

/** Adds the missing convolution-gradient kernels to the 'wasm' backend (idempotent). */
export function registerWasmKernels(): void {
  for (const k of KERNELS) {
    if (tf.getKernel(k.name, 'wasm')) continue;
    tf.registerKernel({
      kernelName: k.name,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs }) => tf.tidy(() => k.run(inputs, attrs as unknown as Attrs)),
    });
  }
}
