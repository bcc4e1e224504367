import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import type { Reply } from '../../src-main/api/index.ts';
import { startDesktop } from '../../src-main/electron/app.ts';
import { prepareShutdown } from '../../src-main/electron/shutdown.ts';
import type { StudioHost } from '../../src-main/transports/studio-host.ts';
import { emitPreventable, fakeElectron } from './fake-electron.ts';

/** A host whose run.* methods answer from a table, recording every call. */
function hostWithRuns(runs: { id: number; name: string; status: string }[]) {
  const calls: { method: string; input: unknown }[] = [];
  const host = {
    async call(method: unknown, input: unknown): Promise<Reply> {
      calls.push({ method: String(method), input });
      if (method === 'run.list') return { ok: true, result: runs };
      const run = runs.find((r) => r.id === (input as { id?: number }).id);
      if (method === 'run.pause' && run?.status === 'running') {
        run.status = 'pausing';
        return { ok: true, result: run };
      }
      if (method === 'run.wait' && run !== undefined) {
        // The trainer writes its pause checkpoint before the process stops.
        await new Promise((resolve) => setTimeout(resolve, 5));
        run.status = 'paused';
        return { ok: true, result: { status: 'paused' } };
      }
      return { ok: false, error: { kind: 'expected', code: 'unknown_method', message: 'no' } };
    },
  } as unknown as StudioHost;
  return { host, calls, runs };
}

test('closing with a training running asks, then pauses each run (checkpoint) before quitting', async () => {
  const { host, calls, runs } = hostWithRuns([
    { id: 1, name: 'quick-a', status: 'running' },
    { id: 2, name: 'old', status: 'completed' },
    { id: 3, name: 'quick-b', status: 'running' },
  ]);
  const asked: string[][] = [];
  const ok = await prepareShutdown(host, {
    confirmStop: async (list) => {
      asked.push(list.map((r) => r.name));
      return true;
    },
  });
  assert.equal(ok, true);
  assert.deepEqual(asked, [['quick-a', 'quick-b']]);
  assert.deepEqual(
    calls
      .filter((c) => c.method !== 'run.list')
      .map((c) => `${c.method} ${JSON.stringify(c.input)}`),
    ['run.pause {"id":1}', 'run.pause {"id":3}', 'run.wait {"id":1}', 'run.wait {"id":3}'],
  );
  assert.deepEqual(
    runs.map((r) => r.status),
    ['paused', 'completed', 'paused'],
  );
});

test('choosing to keep training cancels the close and touches no run', async () => {
  const { host, calls } = hostWithRuns([{ id: 1, name: 'a', status: 'running' }]);
  const ok = await prepareShutdown(host, { confirmStop: async () => false });
  assert.equal(ok, false);
  assert.deepEqual(
    calls.map((c) => c.method),
    ['run.list'],
  );
});

test('with nothing running the app closes without asking', async () => {
  const { host } = hostWithRuns([{ id: 1, name: 'a', status: 'completed' }]);
  let asked = false;
  assert.equal(
    await prepareShutdown(host, {
      confirmStop: async () => {
        asked = true;
        return true;
      },
    }),
    true,
  );
  assert.equal(asked, false);
});

test('the window close is held until the shutdown check has run, then the app quits', async () => {
  const fake = fakeElectron();
  const renderer = join(mkdtempSync(join(tmpdir(), 'lejepa-shutdown-')), 'r');
  mkdirSync(renderer);
  writeFileSync(join(renderer, 'index.html'), '');
  const desktop = startDesktop(fake.electron, {
    rendererDir: renderer,
    preload: '/p.cjs',
    workspaceDir: join(renderer, '..', 'ws'),
  });
  await fake.ready();
  assert.equal(emitPreventable(fake.windows[0]!, 'close'), true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(fake.calls, ['quit']);
  // Once quitting, the second close goes through.
  assert.equal(emitPreventable(fake.windows[0]!, 'close'), false);
  fake.app.emit('will-quit');
  assert.equal(desktop.host, null);
});
