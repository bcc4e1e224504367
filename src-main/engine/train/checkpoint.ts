/**
 * Checkpoints as bytes (the engine does no file I/O; jobs/ writes the bytes
 * atomically). Layout, little-endian:
 *   8 bytes magic `LJCKPT01` · u32 header length · header JSON (UTF-8) · zero
 *   padding to a multiple of 4 · float32 tensor data in header order · u32
 *   FNV-1a checksum of every byte before it.
 * The header names every tensor with its shape, so weights are portable across
 * backends, and a file from another architecture is refused by name and shape.
 */
import * as tf from '@tensorflow/tfjs-core';

const MAGIC = 'LJCKPT01';

export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface CheckpointContents {
  /** Hash of the run configuration the weights belong to. */
  configHash: string;
  /** Optimiser steps completed. */
  step: number;
  /** State of the step generator (views, directions) after `step` steps. */
  rngState: unknown;
  /** Anything else the trainer needs to continue (JSON-able). */
  extra: Record<string, unknown>;
  tensors: CheckpointTensor[];
}

/** A file that is not a complete, intact checkpoint of this format. */
export class CheckpointFormatError extends Error {
  override name = 'CheckpointFormatError';
}

/** Whether a thrown value is a CheckpointFormatError. */
export function isCheckpointFormatError(err: unknown): boolean {
  return (err as { name?: unknown } | null | undefined)?.name === 'CheckpointFormatError';
}

/** FNV-1a over bytes: cheap, enough to tell a truncated or edited file from a good one. */
export function fnv1a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A short stable hash of a JSON-able value (key order normalised). */
export function hashJson(value: unknown): string {
  const text = new TextEncoder().encode(stableStringify(value));
  const a = fnv1a(text).toString(16).padStart(8, '0');
  const b = fnv1a(text, 0x1234567).toString(16).padStart(8, '0');
  return a + b;
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Serialises a checkpoint to bytes (see the layout above). */
export function encodeCheckpoint(c: CheckpointContents): Uint8Array {
  const header = {
    format: 1,
    configHash: c.configHash,
    step: c.step,
    rngState: c.rngState,
    extra: c.extra,
    tensors: c.tensors.map((t) => ({ name: t.name, shape: t.shape, length: t.data.length })),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align4(12 + headerBytes.length);
  const floats = c.tensors.reduce((n, t) => n + t.data.length, 0);
  const total = dataStart + floats * 4 + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  let offset = dataStart;
  for (const t of c.tensors) {
    // Every platform the studio runs on is little-endian, so the float bytes are copied as they are.
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), offset);
    offset += t.data.byteLength;
  }
  view.setUint32(total - 4, fnv1a(out.subarray(0, total - 4)), true);
  return out;
}

/** Parses bytes written by `encodeCheckpoint`; throws CheckpointFormatError when they are not intact. */
export function decodeCheckpoint(bytes: Uint8Array): CheckpointContents {
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new CheckpointFormatError('it is not a LeJEPA Studio checkpoint');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(bytes.length - 4, true);
  if (fnv1a(bytes.subarray(0, bytes.length - 4)) !== stored) {
    throw new CheckpointFormatError('it is truncated or was modified (checksum mismatch)');
  }
  const headerLength = view.getUint32(8, true);
  let header: {
    format: number;
    configHash: string;
    step: number;
    rngState: unknown;
    extra: Record<string, unknown>;
    tensors: { name: string; shape: number[]; length: number }[];
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw new CheckpointFormatError('its header is not readable');
  }
  if (header.format !== 1) throw new CheckpointFormatError(`format ${header.format} is unknown`);
  let offset = align4(12 + headerLength);
  const tensors = header.tensors.map((t) => {
    if (offset + t.length * 4 > bytes.length - 4) {
      throw new CheckpointFormatError(`tensor ${t.name} runs past the end of the file`);
    }
    const data = new Float32Array(bytes.slice(offset, offset + t.length * 4).buffer);
    offset += t.length * 4;
    return { name: t.name, shape: t.shape, data };
  });
  return {
    configHash: header.configHash,
    step: header.step,
    rngState: header.rngState,
    extra: header.extra ?? {},
    tensors,
  };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Reads variables into checkpoint tensors named `<prefix><name>` (synchronous read-back). */
export function snapshotVariables(
  prefix: string,
  vars: ReadonlyMap<string, tf.Variable>,
): CheckpointTensor[] {
  return [...vars].map(([name, v]) => ({
    name: prefix + name,
    shape: [...v.shape],
    data: Float32Array.from(v.dataSync() as Float32Array),
  }));
}

/**
 * Assigns checkpoint tensors `<prefix><name>` to the variables of the same name.
 * Every variable must be present with the same shape: a file from another
 * architecture is refused, naming the first tensor that differs.
 */
export function restoreVariables(
  prefix: string,
  vars: ReadonlyMap<string, tf.Variable>,
  byName: ReadonlyMap<string, CheckpointTensor>,
): void {
  for (const [name, v] of vars) {
    const t = byName.get(prefix + name);
    if (t === undefined) {
      throw new CheckpointFormatError(`it has no tensor ${prefix + name} (another architecture?)`);
    }
    if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
      throw new CheckpointFormatError(
        `tensor ${prefix + name} has shape [${t.shape}] but the model expects [${v.shape}]`,
      );
    }
  }
  for (const [name, v] of vars) {
    const t = byName.get(prefix + name)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
}
