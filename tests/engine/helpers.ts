/** Shared by the engine tests: where the golden vectors live, and which backends load here. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { listBackends, type BackendName } from '../../src-main/engine/backend.ts';
import type { TrainData } from '../../src-main/engine/train/trainer.ts';

/** `shared/vectors/` beside the repository (development and CI), or null when absent. */
export function sharedVectorsDir(): string | null {
  const dir = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));
  return existsSync(`${dir}sigreg.json`) && existsSync(`${dir}lejepa_loss.json`) ? dir : null;
}

export const NO_VECTORS =
  'golden vectors not found: expected shared/vectors/ beside the repository (../shared/vectors from its root)';

/** Every backend that initialises on this machine, in the engine's order. */
export async function backendsHere(): Promise<BackendName[]> {
  return (await listBackends()).filter((b) => b.available).map((b) => b.name);
}

/** `count` seeded noise images, 28×28 grey, labelled 0…classes−1 in turn. */
export function noiseTrainData(count: number, classes: number, seed: number): TrainData {
  const pixels = new Uint8Array(count * 28 * 28);
  let s = seed;
  for (let i = 0; i < pixels.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    pixels[i] = s >>> 24;
  }
  return {
    pixels,
    size: 28,
    channels: 1,
    rows: Int32Array.from({ length: count }, (_, i) => i),
    labels: Int32Array.from({ length: count }, (_, i) => i % classes),
    classes,
  };
}
