import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import type { Reply } from '../../src-main/api/index.ts';
import { importAndFreeze, TINY_RUN, writeTinyFolder } from '../reliability/helpers.ts';
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

interface RunShow {
  run: { id: number; status: string; step: number };
  checkpoints: { step: number; reason: string }[];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('closing the app during a real training pauses it with a checkpoint, asked once; it resumes from there', async () => {
  const fake = fakeElectron({ dialogResponse: 0 });
  const base = mkdtempSync(join(tmpdir(), 'lejepa-shutdown-real-'));
  mkdirSync(join(base, 'r'));
  writeFileSync(join(base, 'r', 'index.html'), '');
  const desktop = startDesktop(fake.electron, {
    rendererDir: join(base, 'r'),
    preload: '/p.cjs',
    workspaceDir: join(base, 'ws'),
  });
  await fake.ready();
  const host = desktop.host!;
  const call = async <T>(method: string, input: unknown): Promise<T> => {
    const reply = await host.call(method, input);
    if (!reply.ok) throw new Error(`${method}: ${reply.error.message}`);
    return reply.result as T;
  };
  const show = (id: number) => call<RunShow>('run.show', { id });
  try {
    const version = await importAndFreeze(host.ws, await writeTinyFolder({ train: 12, test: 2 }));
    // No interval checkpoint in reach: the one the test finds can only come from the pause.
    const { id } = await call<{ id: number }>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: { ...TINY_RUN, epochs: 500, checkpointEvery: 100_000 },
    });
    await until('training steps', async () => ((await show(id)).run.step >= 2 ? true : undefined));

    // Two closes in a row (an impatient user): one question, one shutdown.
    assert.equal(emitPreventable(fake.windows[0]!, 'close'), true);
    assert.equal(emitPreventable(fake.app, 'before-quit'), true);
    await until('the app to quit', async () => (fake.calls.includes('quit') ? true : undefined));
    assert.equal(fake.dialogMessages.length, 1);
    assert.match(fake.dialogMessages[0]!, /^Training is running \(/);

    const paused = await show(id);
    assert.equal(paused.run.status, 'paused');
    const pauseCheckpoint = paused.checkpoints.find((c) => c.reason === 'pause');
    assert.ok(pauseCheckpoint, JSON.stringify(paused.checkpoints));
    assert.equal(pauseCheckpoint.step, paused.run.step);

    // The next start of the studio resumes from that checkpoint, not from zero.
    await call('run.resume', { id });
    const next = await until('steps after the resume', async () => {
      const rows = await call<{ step: number }[]>('run.metrics', {
        id,
        afterStep: pauseCheckpoint.step,
      });
      return rows.length > 0 ? rows : undefined;
    });
    assert.equal(next[0]!.step, pauseCheckpoint.step + 1);
    await call('run.cancel', { id });
    await call('run.wait', { id });
  } finally {
    fake.app.emit('will-quit');
  }
});
