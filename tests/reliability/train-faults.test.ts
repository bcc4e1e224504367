/**
 * Faults inside a training step or its set-up: a non-finite loss, an
 * out-of-memory thrown in a step (injected through the train job's fault
 * hook), and a backend that cannot be initialised. Each run must stop with a
 * sentence (an expected error, never the generic "something went wrong") and
 * keep its last good checkpoint. A stop caused by the machine (memory) leaves
 * the run resumable, and its sentence says how; a non-finite loss does not.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { integrityCheck } from '../../src-main/catalog/db.ts';
import type { CheckpointRow, RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { decodeCheckpoint } from '../../src-main/engine/train/checkpoint.ts';
import { apiOf, importAndFreeze, tempDir, TINY_RUN, writeTinyFolder } from './helpers.ts';

let ws: Workspace;
let version: number;
let api: ReturnType<typeof apiOf>;

before(async () => {
  const folder = await writeTinyFolder({ train: 12, test: 2 });
  ws = openWorkspace(tempDir('train-faults'));
  version = await importAndFreeze(ws, folder);
  api = apiOf(ws);
});
after(() => ws.close());

async function runWithFault(
  faults: Record<string, unknown> | null,
  config: Record<string, unknown> = {},
): Promise<{ run: RunRow; checkpoints: CheckpointRow[] }> {
  if (faults === null) delete process.env.LEJEPA_TEST_FAULTS;
  else process.env.LEJEPA_TEST_FAULTS = JSON.stringify(faults);
  try {
    const started = await api.call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: { ...TINY_RUN, checkpointEvery: 2, ...config },
    });
    const run = await api.call<RunRow>('run.wait', { id: started.id });
    const shown = await api.call<{ checkpoints: CheckpointRow[] }>('run.show', { id: run.id });
    return { run, checkpoints: shown.checkpoints };
  } finally {
    delete process.env.LEJEPA_TEST_FAULTS;
  }
}

function assertSentence(run: RunRow, words: RegExp, status = 'failed'): void {
  assert.equal(run.status, status, run.message ?? '');
  assert.ok(run.message !== null, 'a stopped run carries a message');
  assert.match(run.message, words);
  assert.doesNotMatch(run.message, /Something went wrong|\n\s+at /, 'no generic bug text or stack');
}

function assertLastGoodCheckpoint(checkpoints: CheckpointRow[], atMost: number): void {
  assert.ok(checkpoints.length > 0, 'the last good checkpoint is kept');
  const newest = checkpoints[checkpoints.length - 1]!;
  assert.ok(newest.step <= atMost);
  const decoded = decodeCheckpoint(new Uint8Array(readFileSync(newest.path)));
  assert.equal(decoded.step, newest.step);
}

/** A failed run is not resumable, so its sentence must not tell the user to resume it. */
async function assertResumeMatchesMessage(run: RunRow): Promise<void> {
  const resumed = await api.reply('run.resume', { id: run.id });
  assert.equal(resumed.ok, false);
  if (!resumed.ok) assert.equal(resumed.error.code, 'run_not_resumable');
  assert.doesNotMatch(run.message ?? '', /\bresume\b/i, run.message ?? '');
}

test('a non-finite loss stops the run with a sentence and keeps the last good checkpoint', async () => {
  const { run, checkpoints } = await runWithFault({ nonFiniteAtStep: 4 });
  assertSentence(run, /non-finite|not finite|NaN/i);
  assert.equal(run.step, 3, 'steps after the bad one are not recorded');
  assertLastGoodCheckpoint(checkpoints, 3);
  await assertResumeMatchesMessage(run);
  assert.equal(integrityCheck(ws.db), 'ok');
});

test('an out-of-memory thrown inside a step stops the run resumable, with the last checkpoint', async () => {
  const { run, checkpoints } = await runWithFault({ outOfMemoryAtStep: 5 });
  // The machine ran short, not the run: it is interrupted, and the sentence says what to do.
  assertSentence(run, /out of memory at step 5/i, 'interrupted');
  assert.match(run.message!, /free memory.*then resume/i);
  assert.match(run.message!, new RegExp(`run resume ${run.id}`));
  assertLastGoodCheckpoint(checkpoints, 4);
  assert.match(run.message!, new RegExp(`checkpoint of step ${checkpoints.at(-1)!.step} is kept`));
  // With memory back (the fault gone), resume continues from that checkpoint and finishes.
  const resumed = await api.call<RunRow>('run.resume', { id: run.id });
  assert.equal(resumed.step, checkpoints.at(-1)!.step);
  const done = await api.call<RunRow>('run.wait', { id: run.id });
  assert.equal(done.status, 'completed', done.message ?? '');
  assert.equal(integrityCheck(ws.db), 'ok');
});

test('a backend that cannot be initialised fails the run with a sentence naming it', async () => {
  // No native TensorFlow is installed here (its install needs the network), so
  // forcing it must fail in set-up, before any step.
  const { run } = await runWithFault(null, { backend: 'tensorflow' });
  assertSentence(run, /tensorflow/);
  assert.equal(run.step, 0);
  assert.equal(integrityCheck(ws.db), 'ok');
});
