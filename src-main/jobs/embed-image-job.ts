/**
 * Embeds one image file (an upload, not in any dataset) with the checkpoint
 * of an embedding, in a job process: decoded and resized exactly as the tensor
 * cache does (sharp, fit 'cover' at the centre, grey or sRGB), then the
 * encoder in evaluation mode. Returns the feature vector.
 */
import { readFileSync } from 'node:fs';

import { expected } from '../api/errors.ts';
import type { RunConfig } from '../api/run-config.ts';
import { openImage, readBytes, readHeader, SkipError } from '../datasets/decode.ts';
import { startBackend } from '../compute/start-backend.ts';
import type { BackendName } from '../engine/backend.ts';
import { embed } from '../engine/eval/embed.ts';
import { createProjector } from '../engine/models/index.ts';
import { decodeCheckpoint, restoreVariables } from '../engine/train/checkpoint.ts';
import { initialEncoder, loadEncoderWeights } from '../engine/train/encoder-weights.ts';
import { Rng } from '../engine/rng.ts';
import type { JobContext, JobEnd } from './protocol.ts';
import { resolveEncoder } from './run-setup.ts';

export interface EmbedImageInput {
  imagePath: string;
  checkpoint: string;
  config: RunConfig;
  head: 'backbone' | 'projector';
  backend?: string;
}

const MAX_PIXELS = 100_000_000;

export async function run(_ctx: JobContext, raw: unknown): Promise<{ end: JobEnd; data: unknown }> {
  const input = raw as EmbedImageInput;
  const cfg = input.config;
  const size = cfg.imageSize;
  const channels = cfg.channels;
  let pixels: Buffer;
  try {
    const buf = readBytes(input.imagePath);
    const header = await readHeader(buf, MAX_PIXELS);
    pixels = await openImage(buf, header, MAX_PIXELS)
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer();
  } catch (err) {
    const why = err instanceof SkipError ? err.message : String(err);
    throw expected(
      'image_unreadable',
      `${input.imagePath} cannot be used: ${why} Pick a PNG, JPEG, WebP, GIF, TIFF, AVIF or BMP image.`,
    );
  }
  const choice = input.backend ?? cfg.backend;
  await startBackend(choice === 'auto' ? {} : { prefer: choice as BackendName });
  const encoder = initialEncoder({ ...cfg, encoder: resolveEncoder(cfg) });
  const bytes = new Uint8Array(readFileSync(input.checkpoint));
  loadEncoderWeights(encoder, bytes);
  const projector =
    input.head === 'projector'
      ? createProjector(
          { inDim: encoder.featureDim, hidden: cfg.projector.hidden, out: cfg.projector.out },
          new Rng(0),
        )
      : null;
  try {
    if (projector) {
      const byName = new Map(decodeCheckpoint(bytes).tensors.map((t) => [t.name, t]));
      restoreVariables('projector/', projector.params.trainable, byName);
      restoreVariables('projector/state/', projector.params.state, byName);
    }
    const x = await embed(
      encoder,
      { pixels: new Uint8Array(pixels), count: 1, size, channels },
      {
        mean: cfg.views.mean,
        std: cfg.views.std,
        ...(projector ? { head: (f) => projector.apply(f, { training: false }) } : {}),
      },
    );
    return { end: 'completed', data: Array.from(x!) };
  } finally {
    encoder.dispose();
    projector?.dispose();
  }
}
