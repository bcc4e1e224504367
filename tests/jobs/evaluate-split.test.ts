import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { callMethod } from '../../src-main/api/index.ts';
import type { RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { importAndFreeze, writeTinyFolder } from './fixtures/tiny-dataset.ts';

test('evaluating a run whose version has no test or val images is refused with what to do', async (t) => {
  const folder = await writeTinyFolder({ train: 12, test: 0 });
  const ws = openWorkspace(mkdtempSync(join(tmpdir(), 'lejepa-evsplit-')));
  t.after(() => ws.close());
  const version = await importAndFreeze(ws, folder);
  const ctx = { ws, emit: () => {}, signal: new AbortController().signal };
  const started = await callMethod(ctx, 'run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: {
      batch: 12,
      epochs: 1,
      warmupEpochs: 0,
      encoder: { kind: 'resnet', inChannels: 1, stem: 4, widths: [4, 8], depths: [1, 1] },
      projector: { hidden: 16, out: 8 },
      slices: 16,
    },
  });
  assert.ok(started.ok, JSON.stringify(started));
  const id = (started.result as RunRow).id;
  const done = await callMethod(ctx, 'run.wait', { id });
  assert.ok(done.ok && (done.result as RunRow).status === 'completed', JSON.stringify(done));

  const reply = await callMethod(ctx, 'run.evaluate', { id, checkpoints: 'final' });
  assert.equal(reply.ok, false);
  if (reply.ok) return;
  assert.equal(reply.error.kind, 'expected');
  assert.equal(reply.error.code, 'split_missing');
  assert.match(
    reply.error.message,
    new RegExp(`dataset version ${version} has 36 train and 0 test`),
  );
  assert.match(reply.error.message, /dataset split DATASET --random/);
});
