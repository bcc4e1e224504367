/**
 * An encoder (optionally with its projector) compiled for embedding: the export graph
 * (engine/export/graph.ts: batch norm folded into the convolutions, evaluation mode) written
 * as ONNX and run by ONNX Runtime as one model. Embedding is the evaluation, Explore and
 * query path; a whole graph runs several times faster there than the encoder's layers as
 * TensorFlow.js kernels, whose every convolution also changes layout and crosses into
 * ONNX Runtime on its own (ort-kernels.ts).
 */
import { buildExportGraph, weightSource } from '../engine/export/graph.ts';
import { writeOnnx } from '../engine/export/onnx-writer.ts';
import type { BackendName } from '../engine/backend.ts';
import type { EmbedForward } from '../engine/eval/embed.ts';
import type { Model } from '../engine/models/index.ts';
import type { Encoder, EncoderSpec } from '../engine/models/types.ts';
import type * as tf from '@tensorflow/tfjs-core';
import { defaultWasmThreads } from './start-backend.ts';
import { ortModel } from './ort-kernels.ts';

export interface CompiledEncoder {
  forward: EmbedForward;
  dispose(): void;
}

/**
 * `encoder` (and `projector` after it, when given) as one ONNX Runtime model taking NCHW
 * float32 [n, C, size, size], already normalised. Returns the reason instead when ONNX
 * Runtime cannot run it here; the caller then embeds with TensorFlow.js.
 */
export async function compileEncoder(
  encoder: Encoder,
  spec: EncoderSpec,
  size: number,
  projector: Model<tf.Tensor2D, tf.Tensor2D> | null = null,
  threads = defaultWasmThreads(),
): Promise<CompiledEncoder | string> {
  const graph = buildExportGraph(
    spec,
    size,
    weightSource(encoder),
    projector === null ? null : weightSource(projector),
  );
  const bytes = writeOnnx(graph, { producerVersion: '0', metadata: {} });
  const model = await ortModel(bytes, threads);
  if (typeof model === 'string') return model;
  const { name: input, channels } = graph.input;
  const side = graph.input.size;
  return {
    forward: (nchw, n) =>
      model.run({ [input]: { data: nchw, dims: [n, channels, side, side] } }, [graph.output.name])[
        graph.output.name
      ]!,
    dispose: () => model.dispose(),
  };
}

/**
 * The compiled encoder where it helps, for a job that embeds on `backend`: on the CPU
 * backends (WASM, plain JavaScript) it is compiled, on a GPU or native backend not. Returns
 * null when embedding stays with TensorFlow.js; `note` receives the reason when there is one.
 */
export async function embeddingForward(
  backend: BackendName,
  encoder: Encoder,
  spec: EncoderSpec,
  size: number,
  projector: Model<tf.Tensor2D, tf.Tensor2D> | null,
  threads: number | undefined,
  note: (line: string) => void,
): Promise<CompiledEncoder | null> {
  if (backend !== 'wasm' && backend !== 'cpu') return null;
  const compiled = await compileEncoder(encoder, spec, size, projector, threads);
  if (typeof compiled !== 'string') return compiled;
  note(`embedding with TensorFlow.js: ${compiled}`);
  return null;
}
