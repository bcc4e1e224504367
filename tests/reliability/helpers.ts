/**
 * Shared parts of the reliability suite: a tiny real dataset, an api caller on
 * a real workspace, the real CLI in a child process, and a size-limited file
 * system (tmpfs) for disk-full faults.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ApiEvent } from '../../src-main/api/events.ts';
import { callMethod, type Reply } from '../../src-main/api/index.ts';
import type { Workspace } from '../../src-main/catalog/workspace.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const BIN = join(REPO, 'bin', 'lejepa-studio.mjs');

export { importAndFreeze, writeTinyFolder } from '../jobs/fixtures/tiny-dataset.ts';

/** A tiny but real run: 36 training images, batch 12 → 3 steps per epoch. */
export const TINY_RUN = {
  batch: 12,
  epochs: 2,
  warmupEpochs: 0,
  checkpointEvery: 1,
  encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
  projector: { hidden: 16, out: 8 },
  slices: 16,
  backend: 'cpu',
};

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lejepa-rel-${prefix}-`));
}

export function apiOf(ws: Workspace, events: ApiEvent[] = []) {
  const ctx = { ws, emit: (e: ApiEvent) => events.push(e), signal: new AbortController().signal };
  const reply = (method: string, input: unknown): Promise<Reply> => callMethod(ctx, method, input);
  const call = async <T>(method: string, input: unknown): Promise<T> => {
    const r = await reply(method, input);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    return r.result as T;
  };
  return { reply, call, ctx };
}

export interface ProcessRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `lejepa-studio` CLI; `onSpawn` gets the child (to kill it). */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; onSpawn?: (c: ChildProcess) => void } = {},
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    options.onSpawn?.(child);
  });
}

/**
 * Mounts a tmpfs of `sizeKiB` at a new folder; undefined when mounting is not
 * permitted (not root, or a container without CAP_SYS_ADMIN).
 */
export function mountSmallFs(sizeKiB: number): { dir: string; unmount(): void } | undefined {
  const dir = tempDir('tmpfs');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir]);
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount() {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const canMount = (() => {
  const m = mountSmallFs(64);
  m?.unmount();
  return m !== undefined;
})();

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `everyMs` until it returns a value other than undefined. */
export async function until<T>(
  check: () => T | undefined,
  timeoutMs: number,
  what: string,
  everyMs = 25,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
