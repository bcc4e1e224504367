/**
 * A workspace closed while its run trains: the job keeps sending steps, logs and
 * checkpoints until it ends, and the host drops them instead of writing to the
 * closed catalog. The next open marks the run interrupted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ApiEvent } from '../../src-main/api/events.ts';
import type { RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { jobHost } from '../../src-main/jobs/host.ts';
import {
  apiOf,
  importAndFreeze,
  tempDir,
  TINY_RUN,
  until,
  writeTinyFolder,
} from '../reliability/helpers.ts';

test('messages of a job whose workspace was closed are dropped, not written', async () => {
  const dir = tempDir('closed');
  const ws = openWorkspace(dir);
  const version = await importAndFreeze(ws, await writeTinyFolder({ train: 4, test: 1 }));
  const events: ApiEvent[] = [];
  const api = apiOf(ws, events);
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const run = await api.call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: { ...TINY_RUN, batch: 12, epochs: 3, checkpointEvery: 1 },
    });
    await until(() => events.find((e) => e.type === 'run.metrics'), 60_000, 'a first step');
    const host = jobHost(ws);
    ws.close();
    // The job trains on to its end (3 steps, checkpoints, logs) after the close.
    const ended = await host.wait(run.id);
    assert.equal(ended.id, run.id);
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  const again = openWorkspace(dir);
  try {
    const listed = await apiOf(again).call<RunRow[]>('run.list', {});
    assert.equal(listed[0]!.status, 'interrupted');
  } finally {
    again.close();
  }
});
