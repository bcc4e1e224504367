/**
 * Faults around the workspace and the lab's folders: the workspace moved or
 * renamed, a dataset folder renamed or unplugged, a file changed after its
 * version was frozen, a second studio process on the same workspace, and a
 * catalog written by a newer studio. Errors name the path; nothing in the
 * catalog is silently rewritten.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';

import Database from 'better-sqlite3';
import sharp from 'sharp';

import { integrityCheck, SCHEMA_VERSION } from '../../src-main/catalog/db.ts';
import type { RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { apiOf, importAndFreeze, runCli, tempDir, TINY_RUN, writeTinyFolder } from './helpers.ts';

let folder: string;
before(async () => {
  folder = await writeTinyFolder({ train: 12, test: 2 });
});

/** Every row of the dataset tables, to prove nothing was rewritten. */
function datasetSnapshot(ws: Workspace): string {
  const tables = [
    'datasets',
    'dataset_roots',
    'items',
    'item_files',
    'dataset_versions',
    'version_items',
  ];
  const out: Record<string, unknown[]> = {};
  for (const t of tables) {
    try {
      out[t] = ws.db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all();
    } catch {
      // A table this schema names differently is simply not compared.
    }
  }
  assert.ok(Object.keys(out).length >= 2, 'at least two dataset tables compared');
  return createHash('sha256')
    .update(JSON.stringify(out, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)))
    .digest('hex');
}

function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

test('a workspace moved to another folder keeps working: resume finds its checkpoints', async () => {
  const dir = tempDir('moved');
  let ws = openWorkspace(join(dir, 'before'));
  const version = await importAndFreeze(ws, folder);
  let api = apiOf(ws);
  const run = await api.call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: { ...TINY_RUN, epochs: 2, checkpointEvery: 2 },
  });
  // Pause once it has a checkpoint beyond the first epoch.
  for (;;) {
    const shown = await api.call<{ run: RunRow }>('run.show', { id: run.id });
    if (shown.run.step >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await api.call('run.pause', { id: run.id });
  const paused = await api.call<RunRow>('run.wait', { id: run.id });
  assert.equal(paused.status, 'paused');
  const pausedAt = paused.step;
  ws.close();

  renameSync(join(dir, 'before'), join(dir, 'after'));
  ws = openWorkspace(join(dir, 'after'));
  api = apiOf(ws);
  assert.equal(integrityCheck(ws.db), 'ok');
  const thumb = await api.reply('dataset.thumbnail', { item: 1 });
  assert.ok(thumb.ok, thumb.ok ? '' : thumb.error.message);
  const resumed = await api.call<RunRow>('run.resume', { id: run.id });
  assert.equal(resumed.step, pausedAt, 'resumed from the checkpoint in the moved folder');
  const done = await api.call<RunRow>('run.wait', { id: run.id });
  assert.equal(done.status, 'completed', done.message ?? '');
  ws.close();
});

test('a workspace moved after training: evaluation, embeddings and exports find its checkpoints', async () => {
  const dir = tempDir('moved-done');
  let ws = openWorkspace(join(dir, 'before'));
  const version = await importAndFreeze(ws, folder);
  let api = apiOf(ws);
  const started = await api.call<RunRow>('run.start', {
    datasetVersionId: version,
    preset: 'quick',
    config: { ...TINY_RUN, epochs: 1 },
  });
  const run = await api.call<RunRow>('run.wait', { id: started.id });
  assert.equal(run.status, 'completed', run.message ?? '');
  const recorded = ws.db
    .prepare('SELECT path FROM run_checkpoints WHERE run_id = ? ORDER BY step')
    .pluck()
    .all(run.id) as string[];
  ws.close();

  renameSync(join(dir, 'before'), join(dir, 'after'));
  ws = openWorkspace(join(dir, 'after'));
  api = apiOf(ws);
  const runDir = ws.path('runs', String(run.id));
  const evaluated = await api.reply('run.evaluate', {
    id: run.id,
    baselines: false,
    checkpoints: 'epochs',
  });
  assert.ok(evaluated.ok, evaluated.ok ? '' : evaluated.error.message);
  if (evaluated.ok) assert.equal((evaluated.result as { rows: unknown[] }).rows.length, 1);
  const shown = await api.call<{ checkpoints: { path: string }[] }>('run.show', { id: run.id });
  for (const c of shown.checkpoints) assert.ok(c.path.startsWith(runDir), c.path);
  const embedded = await api.reply('embedding.create', { runId: run.id });
  assert.ok(embedded.ok, embedded.ok ? '' : embedded.error.message);
  const exported = await api.reply('export.create', {
    runId: run.id,
    format: 'onnx',
    parityImages: 4,
  });
  assert.ok(exported.ok, exported.ok ? '' : exported.error.message);
  // The catalog's recorded paths are not rewritten.
  assert.deepEqual(
    ws.db
      .prepare('SELECT path FROM run_checkpoints WHERE run_id = ? ORDER BY step')
      .pluck()
      .all(run.id),
    recorded,
  );
  // A checkpoint gone from both places is named, with both paths.
  for (const name of readdirSync(runDir)) if (name.endsWith('.ljck')) rmSync(join(runDir, name));
  const lost = await api.reply('run.evaluate', { id: run.id, baselines: false });
  assert.equal(lost.ok, false);
  if (!lost.ok) {
    assert.equal(lost.error.code, 'checkpoint_not_found');
    assert.ok(lost.error.message.includes(recorded.at(-1)!), lost.error.message);
    assert.ok(lost.error.message.includes(runDir), lost.error.message);
  }
  ws.close();
});

test('a dataset folder renamed (unplugged) after freezing: a clear error naming the path', async () => {
  const copy = await writeTinyFolder({ train: 2, test: 1 });
  const ws = openWorkspace(tempDir('unplugged'));
  const api = apiOf(ws);
  const imported = await api.call<unknown>('dataset.import', { paths: [copy], name: 'lab' });
  assert.ok(imported);
  const frozen = await api.call<{ version: { id: number } }>('dataset.version.create', {
    dataset: 'lab',
  });
  const before = datasetSnapshot(ws);
  renameSync(copy, `${copy}-unplugged`);
  const reply = await api.reply('dataset.cache.build', {
    version: frozen.version.id,
    size: 28,
    channels: 1,
  });
  assert.equal(reply.ok, false);
  if (!reply.ok) {
    assert.equal(reply.error.code, 'file_missing');
    assert.ok(reply.error.message.includes(copy), reply.error.message);
  }
  // The run that needs it fails the same way, with the path.
  const run = await api.call<RunRow>('run.start', {
    datasetVersionId: frozen.version.id,
    preset: 'quick',
    config: { ...TINY_RUN, batch: 2 },
  });
  const failed = await api.call<RunRow>('run.wait', { id: run.id });
  assert.equal(failed.status, 'failed');
  assert.ok((failed.message ?? '').includes(copy), failed.message ?? '');
  assert.equal(datasetSnapshot(ws), before, 'dataset rows untouched');
  assert.equal(integrityCheck(ws.db), 'ok');
  ws.close();
});

test('a file changed after its version was frozen: refused, naming the file; catalog unchanged', async () => {
  const copy = await writeTinyFolder({ train: 2, test: 1 });
  const ws = openWorkspace(tempDir('changed'));
  const api = apiOf(ws);
  await api.call('dataset.import', { paths: [copy], name: 'lab' });
  const frozen = await api.call<{ version: { id: number } }>('dataset.version.create', {
    dataset: 'lab',
  });
  const before = datasetSnapshot(ws);
  const victim = join(copy, 'train', 'class-1', '0.png');
  await sharp({ create: { width: 28, height: 28, channels: 3, background: '#ff0000' } })
    .png()
    .toFile(`${victim}.new`);
  renameSync(`${victim}.new`, victim);
  const reply = await api.reply('dataset.cache.build', {
    version: frozen.version.id,
    size: 28,
    channels: 1,
  });
  assert.equal(reply.ok, false);
  if (!reply.ok) {
    assert.equal(reply.error.code, 'file_changed');
    assert.ok(reply.error.message.includes(victim), reply.error.message);
  }
  assert.equal(datasetSnapshot(ws), before, 'dataset rows untouched');
  assert.deepEqual(
    readdirSync(ws.path('cache')).filter((f) => f.includes('28x28')),
    [],
    'no cache file for the changed version',
  );
  ws.close();
});

test('a second studio process that writes is refused on an open workspace; reading works', async () => {
  const dir = tempDir('two');
  const ws = openWorkspace(dir);
  await importAndFreeze(ws, folder);
  const before = fileHash(join(dir, 'catalog.sqlite'));
  // A command that only reads opens the held workspace read-only instead.
  const listed = await runCli(['datasets', '--workspace', dir, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  for (const args of [
    ['import', folder],
    ['train', '--dataset', '1', '--preset', 'quick'],
  ]) {
    const out = await runCli([...args, '--workspace', dir, '--json']);
    assert.notEqual(out.code, 0, `${args[0]} ran on a locked workspace`);
    const reply = JSON.parse(out.stdout.trim()) as {
      ok: false;
      error: { code: string; message: string };
    };
    assert.equal(reply.error.code, 'workspace_locked');
    assert.ok(reply.error.message.includes(dir) && /pid \d+/.test(reply.error.message));
  }
  const ro = openWorkspace(dir, { readonly: true });
  const roApi = apiOf(ro);
  assert.ok((await roApi.reply('dataset.list', {})).ok);
  const write = await roApi.reply('dataset.version.create', { dataset: 'tiny' });
  assert.equal(write.ok, false);
  if (!write.ok) assert.equal(write.error.code, 'workspace_readonly');
  ro.close();
  ws.db.pragma('wal_checkpoint(TRUNCATE)');
  assert.equal(integrityCheck(ws.db), 'ok');
  ws.close();
  assert.notEqual(before, '');
  // Once the first process is gone the workspace opens normally.
  const out = await runCli(['datasets', '--workspace', dir, '--json']);
  assert.equal(out.code, 0, out.stderr);
});

test('a catalog written by a newer studio is refused and left byte for byte as it was', async () => {
  const dir = tempDir('newer');
  openWorkspace(dir).close();
  const path = join(dir, 'catalog.sqlite');
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.pragma('journal_mode = DELETE');
  db.close();
  const before = fileHash(path);
  assert.throws(
    () => openWorkspace(dir),
    (err: Error & { code?: string }) =>
      err.code === 'catalog_too_new' &&
      err.message.includes(path) &&
      /newer version/.test(err.message),
  );
  assert.throws(() => openWorkspace(dir, { readonly: true }), /newer version/);
  const out = await runCli(['datasets', '--workspace', dir, '--json']);
  assert.equal(out.code, 1);
  assert.equal(
    (JSON.parse(out.stdout) as { error: { code: string } }).error.code,
    'catalog_too_new',
  );
  assert.equal(fileHash(path), before, 'the newer catalog was not touched');
  // Nor was its schema version lowered.
  const check = new Database(path, { readonly: true });
  assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
  check.close();
});
