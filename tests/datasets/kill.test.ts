/**
 * Killing the import at random moments: the catalog must stay whole, no
 * version may be half made, and running the import again must finish it
 * without duplicating anything.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { integrityCheck } from '../../src-main/catalog/db.ts';
import { createVersion } from '../../src-main/catalog/versions.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { Rng } from '../../src-main/engine/rng.ts';
import { runImportHost } from './cli.ts';
import { noise } from './corpus.ts';

const FILES = 300;
const KILLS = 10;

function checkWorkspace(wsDir: string): { items: number; files: number } {
  const ws = openWorkspace(wsDir);
  try {
    const db = ws.db;
    assert.equal(integrityCheck(db), 'ok');
    const half = db
      .prepare(
        `SELECT v.id FROM dataset_versions v
         WHERE v.item_count != (SELECT COUNT(*) FROM version_items vi WHERE vi.version_id = v.id)`,
      )
      .all();
    assert.deepEqual(half, [], 'no version is half made');
    const dupItems = db
      .prepare('SELECT hash FROM items GROUP BY dataset_id, hash HAVING COUNT(*) > 1')
      .all();
    assert.deepEqual(dupItems, []);
    const dupFiles = db
      .prepare('SELECT path FROM item_files GROUP BY dataset_id, path HAVING COUNT(*) > 1')
      .all();
    assert.deepEqual(dupFiles, []);
    const orphans = db
      .prepare(
        'SELECT COUNT(*) FROM items i WHERE NOT EXISTS (SELECT 1 FROM item_files f WHERE f.item_id = i.id)',
      )
      .pluck()
      .get();
    assert.equal(orphans, 0, 'an item is written with its file, in one transaction');
    return {
      items: db.prepare('SELECT COUNT(*) FROM items').pluck().get() as number,
      files: db.prepare('SELECT COUNT(*) FROM item_files').pluck().get() as number,
    };
  } finally {
    ws.close();
  }
}

test('an import killed at random points resumes without duplicates', async () => {
  const base = mkdtempSync(join(tmpdir(), 'lejepa-kill-'));
  const root = join(base, 'images');
  for (let i = 0; i < FILES; i++) {
    const dir = join(root, `class${i % 3}`);
    mkdirSync(dir, { recursive: true });
    await noise(80, 80, 1000 + i)
      .png()
      .toFile(join(dir, `${i}.png`));
  }
  const wsDir = join(base, 'ws');

  // One frozen version before the kills, so the check on versions has something to see.
  const first = await runImportHost(wsDir, 'v', [join(root, 'class0')]);
  assert.equal(first.code, 0, first.stderr);
  const ws0 = openWorkspace(wsDir);
  createVersion(ws0.db, 1, {});
  ws0.close();

  // How long the CLI takes to start and the import itself, to spread the kills over the import.
  const timing = mkdtempSync(join(tmpdir(), 'lejepa-kill-timing-'));
  const started = performance.now();
  const full = await runImportHost(timing, 'kill', [root]);
  assert.equal(full.code, 0, full.stderr);
  const work = (JSON.parse(full.stdout) as ImportSummary).seconds * 1000;
  const startup = performance.now() - started - work;

  const rng = new Rng(20251204);
  const partial: number[] = [];
  let files = checkWorkspace(wsDir).files;
  // At least 10 real kills (a round whose process finished first does not count), each at
  // a random moment between the end of start-up and the expected end of what is left to do.
  // Every third round kills right after a batch is committed instead, so that some kills
  // land mid-import however fast this machine decodes.
  for (let round = 0; partial.length < KILLS && round < 3 * KILLS; round++) {
    const left = (FILES + FILES / 3 - files) / FILES;
    const delay = startup * 0.8 + (startup * 0.2 + work * left) * rng.uniform();
    const afterBatch = round % 3 === 0;
    const run = await runImportHost(wsDir, 'kill', [root], {
      onSpawn: (child) => {
        if (!afterBatch) {
          setTimeout(() => child.kill('SIGKILL'), delay);
          return;
        }
        child.stderr?.on('data', (d: Buffer) => {
          if (d.toString().includes('committed ')) child.kill('SIGKILL');
        });
      },
    });
    files = checkWorkspace(wsDir).files;
    if (run.signal === 'SIGKILL') partial.push(files);
  }
  assert.equal(partial.length, KILLS, `${KILLS} imports killed mid-way (${partial.length})`);
  assert.ok(
    partial.some((files) => files > FILES / 3 && files < FILES + FILES / 3),
    `at least one kill should land between the first and the last batch (${partial.join(', ')})`,
  );

  const done = await runImportHost(wsDir, 'kill', [root]);
  assert.equal(done.code, 0, done.stderr);
  const summary = JSON.parse(done.stdout) as ImportSummary;
  assert.equal(summary.imported, FILES);
  assert.equal(summary.skippedTotal, 0);
  const state = checkWorkspace(wsDir);
  assert.equal(state.files, FILES + FILES / 3, 'both datasets, each file once');
  const ws = openWorkspace(wsDir, { readonly: true });
  try {
    const n = ws.db
      .prepare(
        "SELECT COUNT(*) FROM items i JOIN datasets d ON d.id = i.dataset_id WHERE d.name = 'kill'",
      )
      .pluck()
      .get();
    assert.equal(n, FILES);
    const imports = ws.db
      .prepare("SELECT status FROM dataset_imports WHERE status = 'running'")
      .all();
    assert.deepEqual(imports, [], 'killed imports are closed by the next one');
  } finally {
    ws.close();
  }
});
