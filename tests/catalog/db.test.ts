import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import Database from 'better-sqlite3';

import { integrityCheck, openCatalog, SCHEMA_VERSION } from '../../src-main/catalog/db.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'lejepa-db-'));

test('a new catalog is created in WAL mode at the current schema version', () => {
  const path = join(tmp(), 'catalog.sqlite');
  const db = openCatalog(path);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(integrityCheck(db), 'ok');
  db.close();
});

for (const [name, bytes, code] of [
  ['an empty file', Buffer.alloc(0), 'catalog_empty'],
  ['a text file', Buffer.from('hello, this is not a database\n'.repeat(10)), 'catalog_not_sqlite'],
] as const) {
  test(`${name} is refused and left untouched`, () => {
    const path = join(tmp(), 'catalog.sqlite');
    writeFileSync(path, bytes);
    assert.throws(
      () => openCatalog(path),
      (err: { code: string; message: string }) => {
        assert.equal(err.code, code);
        assert.match(err.message, /catalog\.sqlite/);
        return true;
      },
    );
    assert.deepEqual(readFileSync(path), bytes);
  });
}

test('a corrupt catalog is refused and never overwritten', () => {
  const path = join(tmp(), 'catalog.sqlite');
  const db = openCatalog(path);
  db.exec('CREATE TABLE filler (x TEXT); ');
  const insert = db.prepare('INSERT INTO filler VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run('x'.repeat(200));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const bytes = readFileSync(path);
  bytes.fill(0xab, 4096, 4096 * 6);
  writeFileSync(path, bytes);
  assert.throws(() => openCatalog(path), /damaged|not an SQLite|could not be opened/);
  assert.deepEqual(readFileSync(path), bytes);
});

test('a catalog from a newer studio is refused, not migrated backwards', () => {
  const path = join(tmp(), 'catalog.sqlite');
  const raw = new Database(path);
  raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  raw.close();
  assert.throws(
    () => openCatalog(path),
    (err: { code: string }) => err.code === 'catalog_too_new',
  );
  const again = new Database(path);
  assert.equal(again.pragma('user_version', { simple: true }), SCHEMA_VERSION + 5);
  again.close();
});

test('a second process-level open of a locked workspace is refused', () => {
  const dir = tmp();
  const first = openWorkspace(dir);
  writeFileSync(join(dir, 'workspace.lock'), `${process.ppid}\n`);
  assert.throws(
    () => openWorkspace(dir),
    (err: { code: string }) => err.code === 'workspace_locked',
  );
  const readonly = openWorkspace(dir, { readonly: true });
  assert.equal(readonly.readonly, true);
  readonly.close();
  first.close();
});
