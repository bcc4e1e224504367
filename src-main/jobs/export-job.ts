/**
 * The export job, in its own process: loads a run's checkpoint, writes the
 * encoder (optionally with the projector) as ONNX and as a TensorFlow.js graph
 * model, reloads both files from disk and runs them on real images of the
 * dataset version (the parity check, export-parity.ts), then writes the model
 * card. Every file is written atomically.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type * as tf from '@tensorflow/tfjs-core';

import { expected } from '../api/errors.ts';
import type { RunConfig } from '../api/run-config.ts';
import { loadTensorCache } from '../datasets/tensor-cache.ts';
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { buildExportGraph, weightSource } from '../engine/export/graph.ts';
import { writeOnnx } from '../engine/export/onnx-writer.ts';
import { writeTfjs } from '../engine/export/tfjs-writer.ts';
import { countParams, createProjector, type Model } from '../engine/models/index.ts';
import type { Encoder } from '../engine/models/types.ts';
import { decodeCheckpoint, restoreVariables } from '../engine/train/checkpoint.ts';
import { initialEncoder, loadEncoderWeights } from '../engine/train/encoder-weights.ts';
import { Rng } from '../engine/rng.ts';
import { logger } from '../log.ts';
import { isUnusableCheckpoint } from './checkpoint-files.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { modelCard, modelCardMarkdown, type CardFacts } from './export-card.ts';
import { parityCheck, type ParityReport } from './export-parity.ts';
import type { JobContext, JobEnd } from './protocol.ts';
import { resolveEncoder } from './run-setup.ts';

const log = logger('export');

export interface ExportJobInput {
  dir: string;
  checkpoint: string;
  config: RunConfig;
  formats: ('onnx' | 'tfjs')[];
  withProjector: boolean;
  cachePath: string;
  /** Images compared in the parity check (at least 64 when the version has them). */
  parityImages: number;
  facts: Omit<CardFacts, 'architecture' | 'input' | 'files' | 'parity' | 'output'>;
}

export interface ExportJobResult {
  passed: boolean;
  parity: ParityReport[];
  card: Record<string, unknown>;
  files: string[];
}

/** Reads the checkpoint and loads the encoder's weights; a damaged file is refused by path. */
function loadCheckpoint(path: string, encoder: Encoder): Uint8Array {
  try {
    const bytes = new Uint8Array(readFileSync(path));
    loadEncoderWeights(encoder, bytes);
    return bytes;
  } catch (err) {
    if (!isUnusableCheckpoint(err)) throw err;
    throw expected(
      'checkpoint_unusable',
      `The checkpoint ${path} cannot be exported: ${(err as Error).message}. Export another checkpoint of the run.`,
    );
  }
}

export async function run(ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as ExportJobInput;
  const cfg = input.config;
  const info = await startBackend(
    cfg.backend === 'auto' ? {} : { prefer: cfg.backend as BackendName },
  );
  log.info(info.line);
  const spec = resolveEncoder(cfg);
  const encoder = initialEncoder({ ...cfg, encoder: spec });
  let projector: Model<tf.Tensor2D, tf.Tensor2D> | null = null;
  try {
    const bytes = loadCheckpoint(input.checkpoint, encoder);
    if (input.withProjector) {
      const p = createProjector(
        { inDim: encoder.featureDim, hidden: cfg.projector.hidden, out: cfg.projector.out },
        new Rng(0),
      );
      const byName = new Map(decodeCheckpoint(bytes).tensors.map((t) => [t.name, t]));
      restoreVariables('projector/', p.params.trainable, byName);
      restoreVariables('projector/state/', p.params.state, byName);
      projector = p;
    }
    const graph = buildExportGraph(
      spec,
      cfg.imageSize,
      weightSource(encoder),
      projector === null ? null : weightSource(projector),
    );
    const preprocessing = {
      scale: 1 / 255,
      mean: cfg.views.mean,
      std: cfg.views.std,
      formula: '(pixel / 255 - mean[c]) / std[c]',
    };
    const metadata: Record<string, string> = {
      'lejepa.encoder': JSON.stringify(spec),
      'lejepa.preprocessing': JSON.stringify(preprocessing),
      'lejepa.input_size': String(graph.input.size),
      'lejepa.output': input.withProjector ? 'projector' : 'backbone',
      'lejepa.dataset_version_hash': input.facts.datasetVersionHash,
      'lejepa.run': String(input.facts.runId),
      'lejepa.checkpoint_step': String(input.facts.checkpointStep),
    };
    mkdirSync(input.dir, { recursive: true });
    const files: string[] = [];
    const paths: { onnx?: string; tfjs?: string } = {};
    if (input.formats.includes('onnx')) {
      const onnx = writeOnnx(graph, {
        producerVersion: input.facts.studioVersion,
        metadata: { ...metadata, 'lejepa.input_layout': 'NCHW' },
        docString: 'LeJEPA encoder exported by LeJEPA Studio',
      });
      paths.onnx = join(input.dir, 'encoder.onnx');
      writeFileAtomic(paths.onnx, onnx);
      files.push('encoder.onnx');
    }
    if (input.formats.includes('tfjs')) {
      const tfjsDir = join(input.dir, 'tfjs');
      mkdirSync(tfjsDir, { recursive: true });
      const m = writeTfjs(graph, { ...metadata, 'lejepa.input_layout': 'NHWC' });
      // The weights first: a model.json never points at a missing weight file.
      writeFileAtomic(join(tfjsDir, 'weights.bin'), m.weightData);
      paths.tfjs = join(tfjsDir, 'model.json');
      writeFileAtomic(paths.tfjs, new TextEncoder().encode(JSON.stringify(m.modelJson)));
      files.push('tfjs/model.json', 'tfjs/weights.bin');
    }
    ctx.progress({ done: 1, total: 3, message: 'written' });

    const cache = loadTensorCache(input.cachePath);
    const parity = await parityCheck({
      encoder,
      projector,
      cache,
      images: input.parityImages,
      mean: cfg.views.mean,
      std: cfg.views.std,
      paths,
      outputName: graph.output.name,
    });
    ctx.progress({ done: 2, total: 3, message: 'parity checked' });

    const facts: CardFacts = {
      ...input.facts,
      architecture: {
        spec,
        parameters: countParams(encoder.params),
        featureDim: encoder.featureDim,
      },
      input: {
        size: graph.input.size,
        channels: graph.input.channels,
        layout: { onnx: 'NCHW', tfjs: 'NHWC' },
        preprocessing,
      },
      output: { dim: graph.output.dim, head: input.withProjector ? 'projector' : 'backbone' },
      files,
      parity,
    };
    const card = modelCard(facts);
    writeFileAtomic(
      join(input.dir, 'model-card.json'),
      new TextEncoder().encode(JSON.stringify(card, null, 2)),
    );
    writeFileAtomic(
      join(input.dir, 'model-card.md'),
      new TextEncoder().encode(modelCardMarkdown(facts)),
    );
    files.push('model-card.json', 'model-card.md');
    const passed = parity.every((p) => p.passed);
    const result: ExportJobResult = { passed, parity, card, files };
    return { end: 'completed', data: result };
  } finally {
    encoder.dispose();
    projector?.dispose();
  }
}
