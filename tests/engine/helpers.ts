/** Shared by the engine tests: where the golden vectors live, and which backends load here. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { listBackends, type BackendName } from '../../src-main/engine/backend.ts';

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
