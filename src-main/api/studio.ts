/**
 * `studio.*`: what the UI needs to know about the process serving it (version,
 * workspace, the method list) and the user's compute preferences, kept in
 * `<workspace>/settings.json` so the desktop app and browser mode share them.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

import { defineMethod, type MethodDef } from './method.ts';

const BackendChoice = z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']);

export const StudioSettings = z.object({
  backend: BackendChoice.default('auto'),
  /** Threads for the native and WASM backends; null lets the backend decide. */
  threads: z.number().int().min(1).max(256).nullable().default(null),
});
export type StudioSettings = z.infer<typeof StudioSettings>;

export interface StudioInfo {
  version: string;
  workspace: string;
  readonly: boolean;
  platform: string;
  cpus: number;
  /** The bundled sample dataset's folder, when this installation has it. */
  sample: string | null;
  methods: { name: string; summary: string; writes: boolean }[];
}

export interface BackendOption {
  name: string;
  available: boolean;
  reason?: string;
}

const version = (() => {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

function samplePath(): string | null {
  // From the sources: <root>/resources/sample; in a packaged app: <resources>/sample.
  const candidates = [
    fileURLToPath(new URL('../../resources/sample/fashion-mnist', import.meta.url)),
    join(
      (process as { resourcesPath?: string }).resourcesPath ?? '/nonexistent',
      'sample',
      'fashion-mnist',
    ),
  ];
  return candidates.find((p) => existsSync(p)) ?? null;
}

function readSettings(path: string): StudioSettings {
  let raw: unknown = {};
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    // No file yet, or one we cannot read: the defaults apply until the user saves.
  }
  const parsed = StudioSettings.safeParse(raw);
  return parsed.success ? parsed.data : StudioSettings.parse({});
}

/** `all` lists every method of the studio (given by api/index.ts, which owns the list). */
export function studioMethods(all: () => Iterable<MethodDef>): MethodDef[] {
  return [
    defineMethod({
      name: 'studio.info',
      summary: 'Version, workspace and the list of api methods.',
      input: z.object({}).strict(),
      writes: false,
      run: async (ctx): Promise<StudioInfo> => {
        const { availableParallelism } = await import('node:os');
        return {
          version,
          workspace: ctx.ws.root,
          readonly: ctx.ws.readonly,
          platform: `${process.platform}-${process.arch}`,
          cpus: availableParallelism(),
          sample: samplePath(),
          methods: [...all()].map((m) => ({
            name: m.name,
            summary: m.summary,
            writes: m.writes,
          })),
        };
      },
    }),
    defineMethod({
      name: 'studio.backends',
      summary: 'The compute backends this machine offers, and why others are missing.',
      input: z.object({}).strict(),
      writes: false,
      run: async (): Promise<BackendOption[]> => {
        // The engine's module is loaded on demand: probing backends is slow and
        // the studio must answer even where the engine cannot load.
        const path = '../engine/backend.ts';
        try {
          const engine = (await import(path)) as { listBackends(): Promise<BackendOption[]> };
          return await engine.listBackends();
        } catch (err) {
          return [{ name: 'cpu', available: true, reason: `Backend probe failed: ${String(err)}` }];
        }
      },
    }),
    defineMethod({
      name: 'studio.settings.get',
      summary: 'The preferred compute backend and thread count.',
      input: z.object({}).strict(),
      writes: false,
      run: (ctx): StudioSettings => readSettings(ctx.ws.path('settings.json')),
    }),
    defineMethod({
      name: 'studio.settings.set',
      summary: 'Saves the preferred compute backend and thread count.',
      input: StudioSettings.partial().strict(),
      writes: true,
      run: (ctx, input): StudioSettings => {
        const path = ctx.ws.path('settings.json');
        const next = StudioSettings.parse({ ...readSettings(path), ...input });
        writeFileSync(`${path}.tmp`, JSON.stringify(next, null, 2) + '\n');
        renameSync(`${path}.tmp`, path);
        return next;
      },
    }),
  ];
}
