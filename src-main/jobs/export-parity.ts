/**
 * The parity check of an export: the exported files, reloaded from disk, run
 * on real images of the dataset version (evenly spaced through it) and are
 * compared with the studio's own embeddings of the same images. An export
 * fails when the worst absolute difference exceeds 1e-4 × the embeddings'
 * scale (their largest absolute value).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import * as ort from 'onnxruntime-node';

import type { TensorCacheMeta } from '../datasets/tensor-cache.ts';
import { embed } from '../engine/eval/embed.ts';
import type { Model } from '../engine/models/index.ts';
import type { Encoder } from '../engine/models/types.ts';
import { errorText } from '../engine/error-text.ts';

export const PARITY_TOLERANCE = 1e-4;

export interface ParityReport {
  format: 'onnx' | 'tfjs';
  images: number;
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** Largest absolute value of the studio's embeddings of the same images. */
  scale: number;
  /** maxAbsDiff / scale. */
  relative: number;
  tolerance: number;
  passed: boolean;
  /** Set when the file could not be loaded or run; the check then fails. */
  error?: string;
}

export interface ParityInput {
  encoder: Encoder;
  projector: Model<tf.Tensor2D, tf.Tensor2D> | null;
  cache: { meta: TensorCacheMeta; pixels: Uint8Array };
  images: number;
  mean: number[];
  std: number[];
  paths: { onnx?: string; tfjs?: string };
  outputName: string;
}

/** Runs every written format on the same images and compares with the studio. */
export async function parityCheck(input: ParityInput): Promise<ParityReport[]> {
  const { meta, pixels } = input.cache;
  const n = Math.min(input.images, meta.count);
  const rows = Array.from({ length: n }, (_, i) => Math.floor((i * meta.count) / n));
  const block = { pixels, count: meta.count, size: meta.size, channels: meta.channels };
  const head = input.projector;
  const reference = await embed(input.encoder, block, {
    batch: 64,
    mean: input.mean,
    std: input.std,
    rows,
    ...(head ? { head: (f) => head.apply(f, { training: false }) } : {}),
  });
  const ref = reference!;
  const { size, channels } = meta;
  const per = size * size * channels;
  // The normalised NHWC batch every format receives (ONNX transposed to NCHW).
  const nhwc = new Float32Array(n * per);
  rows.forEach((r, i) => {
    for (let j = 0; j < per; j++) {
      const c = j % channels;
      nhwc[i * per + j] = (pixels[r * per + j]! / 255 - input.mean[c]!) / input.std[c]!;
    }
  });
  const reports: ParityReport[] = [];
  if (input.paths.onnx) {
    reports.push(
      await compare('onnx', ref, n, () => runOnnx(input.paths.onnx!, nhwc, n, size, channels)),
    );
  }
  if (input.paths.tfjs) {
    reports.push(
      await compare('tfjs', ref, n, () => runTfjs(input.paths.tfjs!, nhwc, n, size, channels)),
    );
  }
  return reports;
}

async function compare(
  format: 'onnx' | 'tfjs',
  ref: Float32Array,
  images: number,
  run: () => Promise<Float32Array>,
): Promise<ParityReport> {
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  const base = { format, images, tolerance: PARITY_TOLERANCE, scale };
  let out: Float32Array;
  try {
    out = await run();
  } catch (err) {
    const error = errorText(err);
    return { ...base, maxAbsDiff: NaN, meanAbsDiff: NaN, relative: NaN, passed: false, error };
  }
  if (out.length !== ref.length) {
    const error = `the exported model gave ${out.length} values, the studio ${ref.length}`;
    return { ...base, maxAbsDiff: NaN, meanAbsDiff: NaN, relative: NaN, passed: false, error };
  }
  let max = 0;
  let sum = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i]! - out[i]!);
    if (!(d <= max)) max = d; // NaN propagates into max and fails the check
    sum += d;
  }
  const relative = scale > 0 ? max / scale : max;
  return {
    ...base,
    maxAbsDiff: max,
    meanAbsDiff: sum / ref.length,
    relative,
    passed: relative <= PARITY_TOLERANCE,
  };
}

async function runOnnx(path: string, nhwc: Float32Array, n: number, size: number, c: number) {
  const nchw = new Float32Array(nhwc.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let k = 0; k < c; k++) {
          nchw[((i * c + k) * size + y) * size + x] = nhwc[((i * size + y) * size + x) * c + k]!;
        }
      }
    }
  }
  const session = await ort.InferenceSession.create(readFileSync(path));
  try {
    const out = await session.run({ input: new ort.Tensor('float32', nchw, [n, c, size, size]) });
    const first = out[session.outputNames[0]!]!;
    return Float32Array.from(first.data as Float32Array);
  } finally {
    await session.release();
  }
}

async function runTfjs(path: string, nhwc: Float32Array, n: number, size: number, c: number) {
  const json = JSON.parse(readFileSync(path, 'utf8')) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    format: string;
    signature: object;
    userDefinedMetadata: Record<string, unknown>;
  };
  const group = json.weightsManifest[0]!;
  const data = readFileSync(join(dirname(path), group.paths[0]!));
  const model = await loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: group.weights,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      format: json.format,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );
  try {
    const x = tf.tensor4d(nhwc, [n, size, size, c]);
    const y = model.predict(x) as tf.Tensor;
    const out = Float32Array.from((await y.data()) as Float32Array);
    tf.dispose([x, y]);
    return out;
  } finally {
    model.dispose();
  }
}
