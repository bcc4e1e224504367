/** An import into a workspace whose catalog is empty, not SQLite or damaged is refused untouched. */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { openCatalog } from '../../src-main/catalog/db.ts';
import { runImportHost } from './cli.ts';
import { noise } from './corpus.ts';
import { tempDir } from './helpers.ts';

async function damaged(): Promise<Buffer> {
  const path = join(tempDir('damaged'), 'catalog.sqlite');
  const db = openCatalog(path);
  db.exec('CREATE TABLE filler (x TEXT)');
  const insert = db.prepare('INSERT INTO filler VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run('x'.repeat(200));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const bytes = readFileSync(path);
  bytes.fill(0xab, 4096, 4096 * 6);
  return bytes;
}

test('import refuses a catalog that is empty, not SQLite or damaged, and leaves it as it was', async () => {
  const folder = join(tempDir('refuse-src'), 'imgs');
  mkdirSync(join(folder, 'a'), { recursive: true });
  await noise(8, 8, 1)
    .png()
    .toFile(join(folder, 'a', '1.png'));
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /empty file/],
    ['text', Buffer.from('not a database\n'.repeat(20)), /not an SQLite database/],
    ['damaged', await damaged(), /damaged|could not be opened/],
  ];
  for (const [name, bytes, message] of cases) {
    const ws = tempDir(`refuse-${name}`);
    writeFileSync(join(ws, 'catalog.sqlite'), bytes);
    const run = await runImportHost(ws, 'x', [folder]);
    assert.notEqual(run.code, 0, `${name}: the import must fail`);
    assert.match(run.stderr, message, name);
    assert.match(run.stderr, /catalog\.sqlite/, `${name}: the message names the file`);
    assert.deepEqual(readFileSync(join(ws, 'catalog.sqlite')), bytes, `${name}: untouched`);
    assert.deepEqual(readdirSync(join(ws, 'thumbs')), [], `${name}: nothing imported`);
  }
});
