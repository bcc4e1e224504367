/**
 * The encoder of a run outside training: built from the run's seed exactly as
 * the trainer builds it (so "the same encoder, untrained" is the run's starting
 * point), and loaded from a checkpoint for frozen-feature evaluation.
 */
import { createEncoder } from '../models/index.ts';
import type { Encoder, EncoderSpec } from '../models/types.ts';
import { Rng } from '../rng.ts';
import { decodeCheckpoint, restoreVariables } from './checkpoint.ts';

/** Mixes the run seed with a purpose and an index into an independent generator seed. */
export function subSeed(seed: number, purpose: number, index = 0): number {
  return (seed ^ Math.imul(purpose, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/**
 * The encoder a run starts from. The trainer passes its initialisation generator
 * (it draws the projector and probe from it afterwards); others get a fresh one
 * seeded the same way, which gives the same weights.
 */
export function initialEncoder(
  cfg: { encoder: EncoderSpec; seed: number },
  init: Rng = new Rng(subSeed(cfg.seed, 1)),
): Encoder {
  return createEncoder(cfg.encoder, init);
}

/** Loads an encoder's weights and batch-norm statistics from checkpoint bytes. */
export function loadEncoderWeights(encoder: Encoder, bytes: Uint8Array): void {
  const c = decodeCheckpoint(bytes);
  const byName = new Map(c.tensors.map((t) => [t.name, t]));
  restoreVariables('encoder/', encoder.params.trainable, byName);
  restoreVariables('encoder/state/', encoder.params.state, byName);
}
