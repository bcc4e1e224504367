/**
 * Temporary files of checkpoint writes whose process was killed
 * (`step-N.ljck.<pid>.tmp`) are removed when the job host starts on a workspace
 * and when a run resumes, but only once their writer is gone: a write still
 * going on, and any other file, are left alone. (The kill suite checks the same
 * after real kills inside checkpoint writes.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { listCheckpoints, type RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { removeStaleTemporaries } from '../../src-main/jobs/atomic-file.ts';
import { apiOf, importAndFreeze, tempDir, TINY_RUN, until, writeTinyFolder } from './helpers.ts';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test('only temporaries of the atomic writer whose process is gone are removed', () => {
  const dir = tempDir('stale-unit');
  const names = [
    'step-0000004.ljck.123.tmp',
    'step-0000006.ljck.456.tmp',
    'step-0000004.ljck',
    'notes.tmp',
    'step.ljck.tmp',
    'config.json',
  ];
  for (const n of names) writeFileSync(join(dir, n), 'x');
  mkdirSync(join(dir, 'sub.7.tmp'));
  const removed = removeStaleTemporaries(dir, (pid) => pid === 456);
  assert.deepEqual(removed, ['step-0000004.ljck.123.tmp']);
  assert.deepEqual(
    readdirSync(dir).sort(),
    [...names.filter((n) => n !== 'step-0000004.ljck.123.tmp'), 'sub.7.tmp'].sort(),
  );
  assert.deepEqual(removeStaleTemporaries(join(dir, 'no-such-folder')), []);
});

test('a reopened workspace and a resume clear the temporaries of killed checkpoint writes', async () => {
  const dir = tempDir('stale');
  let ws = openWorkspace(dir);
  const version = await importAndFreeze(ws, await writeTinyFolder({ train: 12, test: 2 }));
  let api = apiOf(ws);
  const run = await api.call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: { ...TINY_RUN, epochs: 3, checkpointEvery: 1 },
  });
  await until(
    () => (listCheckpoints(ws.db, run.id).length > 0 ? true : undefined),
    120_000,
    'a checkpoint',
  );
  await api.call('run.pause', { id: run.id });
  const paused = await api.call<RunRow>('run.wait', { id: run.id });
  assert.equal(paused.status, 'paused', paused.message ?? '');
  ws.close();

  const runDir = join(dir, 'runs', String(run.id));
  const before = readdirSync(runDir).sort();
  const gone = deadPid();
  const stale = `step-0000099.ljck.${gone}.tmp`;
  // This process is alive: its "write" must survive every sweep.
  const live = `step-0000098.ljck.${process.pid}.tmp`;
  writeFileSync(join(runDir, stale), Buffer.alloc(1000, 7));
  writeFileSync(join(runDir, live), Buffer.alloc(1000, 7));

  // Host start on the reopened workspace.
  ws = openWorkspace(dir);
  api = apiOf(ws);
  await api.call('run.list', {});
  assert.equal(existsSync(join(runDir, stale)), false, 'the dead writer’s file is removed');
  assert.equal(existsSync(join(runDir, live)), true, 'a live writer’s file is kept');
  assert.deepEqual(
    readdirSync(runDir)
      .filter((n) => n !== live)
      .sort(),
    before,
    'nothing else touched',
  );

  // Resume clears those left since the host started.
  const later = `step-0000097.ljck.${deadPid()}.tmp`;
  writeFileSync(join(runDir, later), Buffer.alloc(10));
  await api.call<RunRow>('run.resume', { id: run.id });
  assert.equal(existsSync(join(runDir, later)), false);
  const done = await api.call<RunRow>('run.wait', { id: run.id });
  assert.equal(done.status, 'completed', done.message ?? '');
  assert.equal(existsSync(join(runDir, live)), true);
  ws.close();
});
