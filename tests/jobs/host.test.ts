import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { callMethod } from '../../src-main/api/index.ts';
import type { ApiEvent } from '../../src-main/api/events.ts';
import { integrityCheck } from '../../src-main/catalog/db.ts';
import type { CheckpointRow, MetricRow, RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, writeTinyFolder } from './fixtures/tiny-dataset.ts';

/** A tiny but real run: 36 training images, batch 12 → 3 steps per epoch. */
const TINY = {
  batch: 12,
  epochs: 2,
  warmupEpochs: 0,
  checkpointEvery: 2,
  encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
  projector: { hidden: 16, out: 8 },
  slices: 16,
};

let folder: string;
before(async () => {
  folder = await writeTinyFolder({ train: 12, test: 4 });
});

async function setup(): Promise<{ ws: Workspace; version: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lejepa-host-'));
  const ws = openWorkspace(dir);
  return { ws, version: await importAndFreeze(ws, folder), dir };
}

function api(ws: Workspace, events: ApiEvent[] = []) {
  const ctx = { ws, emit: (e: ApiEvent) => events.push(e), signal: new AbortController().signal };
  return async <T>(method: string, input: unknown): Promise<T> => {
    const reply = await callMethod(ctx, method, input);
    if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
    return reply.result as T;
  };
}

test('a run trains to the end, recording every step, checkpoints and status events', async () => {
  const { ws, version } = await setup();
  const events: ApiEvent[] = [];
  const call = api(ws, events);
  const started = await call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: TINY,
  });
  assert.equal(started.status, 'queued');
  const done = await call<RunRow>('run.wait', { id: started.id });
  assert.equal(done.status, 'completed', done.message ?? '');
  assert.equal(done.totalSteps, 6);
  assert.equal(done.step, 6);
  const metrics = await call<MetricRow[]>('run.metrics', { id: started.id });
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2, 3, 4, 5, 6],
  );
  assert.ok(metrics.every((m) => Number.isFinite(m.total) && m.probeAcc !== null));
  assert.equal(new Set(metrics.map((m) => m.liveTensors)).size, 1, 'live tensors constant');
  const shown = await call<{ checkpoints: CheckpointRow[] }>('run.show', { id: started.id });
  assert.deepEqual(
    shown.checkpoints.map((c) => `${c.step}:${c.reason}`),
    ['3:epoch', '6:final'],
    'interval checkpoints are dropped once a newer one exists',
  );
  assert.ok(shown.checkpoints.every((c) => existsSync(c.path)));
  assert.ok(!existsSync(join(ws.root, 'runs', String(started.id), 'step-0000004.ljck')));
  assert.equal(events.filter((e) => e.type === 'run.metrics').length, 6);
  assert.deepEqual(
    events.filter((e) => e.type === 'run.status').map((e) => (e as { status: string }).status),
    ['running', 'completed'],
  );

  const evaluated = await call<{
    rows: { label: string; knn: number; linear: number; testCount: number }[];
    epochs: { epoch: number; steps: number }[];
  }>('run.evaluate', { id: started.id });
  assert.deepEqual(
    evaluated.rows.map((r) => r.label),
    ['epoch 1 (step 3)', 'epoch 2 (step 6)', 'same encoder, untrained', 'raw pixels (784-d)'],
  );
  assert.ok(evaluated.rows.every((r) => r.testCount === 12 && r.knn >= 0 && r.linear <= 1));
  assert.ok(evaluated.rows[3]!.linear > 0.9, 'stripes are separable from raw pixels');
  assert.deepEqual(
    evaluated.epochs.map((e) => [e.epoch, e.steps]),
    [
      [1, 3],
      [2, 3],
    ],
  );
  ws.close();
});

test('a killed training process marks the run interrupted; resume continues to the end', async () => {
  const { ws, version } = await setup();
  const events: ApiEvent[] = [];
  const call = api(ws, events);
  const run = await call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: { ...TINY, epochs: 3, checkpointEvery: 1 },
  });
  let killed = false;
  const watcher = setInterval(() => {
    const steps = events.filter((e) => e.type === 'run.metrics').length;
    const pid = ws.db.prepare('SELECT pid FROM runs WHERE id = ?').pluck().get(run.id) as number;
    if (!killed && steps >= 4 && pid) {
      killed = true;
      process.kill(pid, 'SIGKILL');
    }
  }, 5);
  const stopped = await call<RunRow>('run.wait', { id: run.id });
  clearInterval(watcher);
  assert.equal(stopped.status, 'interrupted');
  assert.match(stopped.message ?? '', /SIGKILL.*run resume/);
  assert.equal(integrityCheck(ws.db), 'ok');
  const lastCkpt = Math.max(
    ...(await call<{ checkpoints: CheckpointRow[] }>('run.show', { id: run.id })).checkpoints.map(
      (c) => c.step,
    ),
  );
  assert.ok(stopped.step - lastCkpt <= 1, `lost ${stopped.step - lastCkpt} steps`);

  const resumed = await call<RunRow>('run.resume', { id: run.id });
  assert.equal(resumed.step, lastCkpt);
  const done = await call<RunRow>('run.wait', { id: run.id });
  assert.equal(done.status, 'completed', done.message ?? '');
  const steps = (await call<MetricRow[]>('run.metrics', { id: run.id })).map((m) => m.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  ws.close();
});

test('pause keeps a checkpoint at the last step; resume finishes; cancel after is refused', async () => {
  const { ws, version } = await setup();
  const events: ApiEvent[] = [];
  const call = api(ws, events);
  const run = await call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: { ...TINY, checkpointEvery: 100 },
  });
  let asked = false;
  const watcher = setInterval(() => {
    if (!asked && events.some((e) => e.type === 'run.metrics')) {
      asked = true;
      void call('run.pause', { id: run.id });
    }
  }, 5);
  const paused = await call<RunRow>('run.wait', { id: run.id });
  clearInterval(watcher);
  assert.equal(paused.status, 'paused');
  const ckpts = (await call<{ checkpoints: CheckpointRow[] }>('run.show', { id: run.id }))
    .checkpoints;
  const last = ckpts[ckpts.length - 1]!;
  assert.equal(last.step, paused.step, 'the pause checkpoint is at the last recorded step');
  assert.ok(last.reason === 'pause' || last.reason === 'epoch' || last.reason === 'final');
  await call('run.resume', { id: run.id });
  const done = await call<RunRow>('run.wait', { id: run.id });
  assert.equal(done.status, 'completed');
  await assert.rejects(call('run.cancel', { id: run.id }), /not running/);
  await assert.rejects(call('run.resume', { id: run.id }), /only paused, cancelled or interrupted/);
  ws.close();
});

test('a non-finite loss fails the run with a sentence and keeps the last good checkpoint', async () => {
  const { ws, version } = await setup();
  const call = api(ws);
  process.env.LEJEPA_TEST_FAULTS = JSON.stringify({ nonFiniteAtStep: 5 });
  try {
    const run = await call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: TINY,
    });
    const failed = await call<RunRow>('run.wait', { id: run.id });
    assert.equal(failed.status, 'failed');
    assert.match(failed.message ?? '', /non-finite at step 5.*last good checkpoint.*lr/);
    assert.equal(failed.step, 4);
    const ckpts = (await call<{ checkpoints: CheckpointRow[] }>('run.show', { id: run.id }))
      .checkpoints;
    assert.equal(ckpts[ckpts.length - 1]!.step, 4);
    assert.ok(existsSync(ckpts[ckpts.length - 1]!.path));
  } finally {
    delete process.env.LEJEPA_TEST_FAULTS;
  }
  ws.close();
});

test('a run left running by a dead process is marked interrupted when the workspace opens', async () => {
  const { ws, version, dir } = await setup();
  const call = api(ws);
  const run = await call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: TINY,
  });
  await call('run.wait', { id: run.id });
  // What a host killed mid-run leaves behind: status running, its pids dead.
  ws.db
    .prepare("UPDATE runs SET status = 'running', pid = 999999, host_pid = 999998 WHERE id = ?")
    .run(run.id);
  ws.close();
  const again = openWorkspace(dir);
  const list = await api(again)<RunRow[]>('run.list', {});
  assert.equal(list[0]!.status, 'interrupted');
  again.close();
});

test('a bad configuration is refused with the field and its range', async () => {
  const { ws, version } = await setup();
  const reply = await callMethod(
    { ws, emit: () => {}, signal: new AbortController().signal },
    'run.start',
    { datasetVersionId: version, preset: 'quick', config: { lr: -1, batch: 100000 } },
  );
  assert.equal(reply.ok, false);
  if (!reply.ok) {
    assert.equal(reply.error.code, 'invalid_config');
    assert.match(reply.error.message, /lr: .*above 0/);
    assert.match(reply.error.message, /batch: .*4096/);
  }
  ws.close();
});
