/**
 * A full disk during checkpoint, thumbnail and tensor-cache writes: a real
 * size-limited file system (tmpfs) is mounted over the workspace folder that
 * receives the writes, and filled. Each time: a clear `disk_full` error, the
 * catalog intact, earlier files intact, and no half-written file left under a
 * name a reader would take (only whole files, no `.tmp` left over).
 * Mounting needs root (or CAP_SYS_ADMIN); where it is refused the tests say so
 * and are skipped.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { integrityCheck } from '../../src-main/catalog/db.ts';
import { listCheckpoints, type RunRow } from '../../src-main/catalog/runs.ts';
import { openWorkspace, type Workspace } from '../../src-main/catalog/workspace.ts';
import { loadTensorCache } from '../../src-main/datasets/tensor-cache.ts';
import { decodeCheckpoint } from '../../src-main/engine/train/checkpoint.ts';
import {
  apiOf,
  canMount,
  importAndFreeze,
  mountSmallFs,
  tempDir,
  TINY_RUN,
  until,
  writeTinyFolder,
} from './helpers.ts';

const skip = canMount ? false : 'mounting a size-limited file system is not permitted here';

/** Fills the file system holding `dir` to the last byte. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler.bin'), 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // Smaller writes until not even one byte fits.
  const fd2 = openSync(join(dir, 'filler2.bin'), 'w');
  try {
    for (;;) writeSync(fd2, Buffer.alloc(1));
  } catch {
    // Full.
  } finally {
    closeSync(fd2);
  }
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

let folder: string;
const mounts: { unmount(): void }[] = [];
before(async () => {
  folder = await writeTinyFolder({ train: 12, test: 2 });
});
after(() => {
  for (const m of mounts) m.unmount();
});

/** A workspace whose `sub` folder is a fresh tmpfs of `kib` KiB. */
async function workspaceWithSmallFs(
  sub: string,
  kib: number,
): Promise<{ ws: Workspace; version: number; fsDir: string }> {
  const ws = openWorkspace(tempDir(`full-${sub}`));
  const version = await importAndFreeze(ws, folder);
  const m = mountSmallFs(kib)!;
  mounts.push(m);
  // Bind the tmpfs over the workspace's folder (a symlink would be resolved by realpath).
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('mount', ['--bind', m.dir, ws.path(sub)]);
  assert.equal(r.status, 0, String(r.stderr));
  mounts.push({ unmount: () => spawnSync('umount', ['-l', ws.path(sub)]) });
  return { ws, version, fsDir: ws.path(sub) };
}

test(
  'disk full during checkpoint writes: the run stops resumable, earlier checkpoint whole; resumes once space is freed',
  { skip },
  async () => {
    const { ws, version, fsDir } = await workspaceWithSmallFs('runs', 512);
    const api = apiOf(ws);
    const started = await api.call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: { ...TINY_RUN, epochs: 10, checkpointEvery: 1 },
    });
    await until(
      () => (listCheckpoints(ws.db, started.id).length > 0 ? true : undefined),
      120_000,
      'a first checkpoint',
    );
    fill(fsDir);
    const done = await api.call<RunRow>('run.wait', { id: started.id });
    // Not `failed`: the machine ran short, the newest checkpoint is whole.
    assert.equal(done.status, 'interrupted', done.message ?? '');
    assert.match(done.message ?? '', /disk is full/i);
    assert.match(done.message ?? '', /free space, then resume/i);
    assert.match(done.message ?? '', new RegExp(`run resume ${started.id}`));
    assert.ok(done.message!.includes(join(fsDir, String(started.id))), done.message!);
    assert.equal(integrityCheck(ws.db), 'ok');
    const kept = listCheckpoints(ws.db, started.id);
    assert.ok(kept.length > 0);
    for (const c of kept)
      assert.equal(decodeCheckpoint(new Uint8Array(readFileSync(c.path))).step, c.step);
    const files = allFiles(join(fsDir, String(started.id)));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );
    for (const f of files.filter((n) => n.endsWith('.ljck')))
      decodeCheckpoint(new Uint8Array(readFileSync(join(fsDir, String(started.id), f))));
    // Space freed: resume continues from the newest whole checkpoint and finishes.
    const newest = kept[kept.length - 1]!;
    assert.match(done.message!, new RegExp(`checkpoint of step ${newest.step} is kept`));
    rmSync(join(fsDir, 'filler.bin'));
    rmSync(join(fsDir, 'filler2.bin'));
    const resumed = await api.call<RunRow>('run.resume', { id: started.id });
    assert.equal(resumed.step, newest.step, 'resumed from the newest whole checkpoint');
    const finished = await api.call<RunRow>('run.wait', { id: started.id });
    assert.equal(finished.status, 'completed', finished.message ?? '');
    assert.equal(integrityCheck(ws.db), 'ok');
    ws.close();
  },
);

test(
  'disk full during thumbnail writes: the import fails with disk_full, nothing half-written',
  { skip },
  async () => {
    const { ws, fsDir } = await workspaceWithSmallFs('thumbs', 256);
    writeFileSync(join(fsDir, 'earlier.jpg'), 'earlier thumbnail');
    fill(fsDir);
    const other = await writeTinyFolder({ train: 2, test: 1 }, 2, 40);
    const api = apiOf(ws);
    const before = ws.db.prepare('SELECT count(*) AS n FROM items').get() as { n: number };
    const reply = await api.reply('dataset.import', { paths: [other], name: 'more' });
    assert.equal(reply.ok, false, JSON.stringify(reply));
    if (!reply.ok) {
      assert.equal(reply.error.code, 'disk_full', reply.error.message);
      assert.equal(reply.error.kind, 'expected');
    }
    assert.equal(integrityCheck(ws.db), 'ok');
    assert.equal(readFileSync(join(fsDir, 'earlier.jpg'), 'utf8'), 'earlier thumbnail');
    const files = allFiles(fsDir);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );
    const after = ws.db.prepare('SELECT count(*) AS n FROM items').get() as { n: number };
    // Items recorded by the failed import must each have their thumbnail whole on disk.
    const rows = ws.db
      .prepare(
        "SELECT i.thumb FROM items i JOIN datasets d ON d.id = i.dataset_id WHERE d.name = 'more'",
      )
      .all() as { thumb: string }[];
    for (const r of rows) assert.ok(readFileSync(ws.path(r.thumb)).length > 0, r.thumb);
    assert.ok(after.n >= before.n);
    ws.close();
  },
);

test(
  'disk full during a tensor-cache build: disk_full, the earlier cache still loads',
  { skip },
  async () => {
    const { ws, version, fsDir } = await workspaceWithSmallFs('cache', 24);
    const api = apiOf(ws);
    // 42 images at 8×8 grey fit; at 28×28 (33 KB) they do not.
    const small = await api.call<{ path: string }>('dataset.cache.build', {
      version,
      size: 8,
      channels: 1,
    });
    const reply = await api.reply('dataset.cache.build', { version, size: 28, channels: 1 });
    assert.equal(reply.ok, false);
    if (!reply.ok) assert.equal(reply.error.code, 'disk_full', reply.error.message);
    assert.equal(integrityCheck(ws.db), 'ok');
    const files = allFiles(fsDir);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );
    assert.ok(!files.some((f) => f.includes('28x28')), `no 28×28 cache file: ${files.join(', ')}`);
    const loaded = loadTensorCache(
      small.path ??
        join(
          fsDir,
          files.find((f) => f.endsWith('.u8'))!,
        ),
    );
    assert.equal(loaded.meta.size, 8);
    assert.equal(loaded.pixels.length, loaded.meta.count * 64);
    // A run whose 28×28 cache cannot be written stops resumable, saying what to do.
    const run = await api.call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: TINY_RUN,
    });
    const stopped = await api.call<RunRow>('run.wait', { id: run.id });
    assert.equal(stopped.status, 'interrupted', stopped.message ?? '');
    assert.match(stopped.message ?? '', /disk is full.*free space, then resume/i);
    assert.equal(stopped.step, 0);
    ws.close();
  },
);

test(
  'disk full during an export: a clear error, the earlier export whole, no half file',
  { skip },
  async () => {
    const { ws, version, fsDir } = await workspaceWithSmallFs('exports', 48);
    const api = apiOf(ws);
    const run = await api.call<RunRow>('run.start', {
      datasetVersionId: version,
      preset: 'quick',
      config: { ...TINY_RUN, epochs: 1 },
    });
    const done = await api.call<RunRow>('run.wait', { id: run.id });
    assert.equal(done.status, 'completed', done.message ?? '');
    const first = await api.reply('export.create', {
      runId: run.id,
      format: 'onnx',
      parityImages: 4,
    });
    assert.ok(first.ok, first.ok ? '' : first.error.message);
    const before = allFiles(fsDir)
      .filter((f) => !f.endsWith('/') && f.includes('.'))
      .map((f) => [f, readFileSync(join(fsDir, f)).length] as const);
    fill(fsDir);
    const second = await api.reply('export.create', {
      runId: run.id,
      format: 'all',
      parityImages: 4,
    });
    assert.equal(second.ok, false, 'an export onto a full disk reported success');
    if (!second.ok) {
      assert.equal(second.error.kind, 'expected', second.error.message);
      assert.match(second.error.message, /disk is full/i);
    }
    assert.equal(integrityCheck(ws.db), 'ok');
    for (const [f, size] of before) assert.equal(readFileSync(join(fsDir, f)).length, size, f);
    assert.deepEqual(
      allFiles(fsDir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left',
    );
    const listed = await api.call<{ status: string }[]>('export.list', { runId: run.id });
    assert.equal(listed.length, 2);
    assert.ok(
      ['failed', 'error'].includes(listed[0]!.status),
      `newest export: ${listed[0]!.status}`,
    );
    assert.equal(listed[1]!.status, 'passed');
    ws.close();
  },
);
