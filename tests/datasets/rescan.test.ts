/**
 * Re-scans: files that disappear are marked missing (and only in the folders
 * scanned), files that return are present again, and the duplicate and
 * conflict counts follow.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { noise } from './corpus.ts';
import { openApi, tempDir } from './helpers.ts';

test('a re-scan marks gone files missing in its own folders only, and counts follow', async () => {
  const top = tempDir('rescan');
  const root = join(top, 'shapes');
  const other = join(top, 'more');
  for (const d of ['circle', 'square']) mkdirSync(join(root, d), { recursive: true });
  mkdirSync(join(other, 'circle'), { recursive: true });
  for (let i = 0; i < 3; i++) {
    await noise(12, 12, 10 + i)
      .png()
      .toFile(join(root, 'circle', `${i}.png`));
  }
  // The same bytes under another class: an exact duplicate with a label conflict.
  const copy = join(root, 'square', 'copy.png');
  writeFileSync(copy, readFileSync(join(root, 'circle', '0.png')));
  await noise(12, 12, 20)
    .png()
    .toFile(join(other, 'circle', 'o.png'));

  const api = openApi();
  const importRoot = (path: string) =>
    api.call<ImportSummary>('dataset.import', { paths: [path], name: 'shapes' });
  const first = await importRoot(root);
  assert.equal(first.exactDuplicates, 1);
  assert.equal(first.labelConflicts, 1);
  assert.equal(first.missing, 0);
  const withOther = await importRoot(other);
  assert.equal(withOther.items, 4);

  const bytes = readFileSync(copy);
  rmSync(copy);
  rmSync(join(root, 'circle', '2.png'));
  const gone = await importRoot(root);
  assert.equal(gone.decoded, 0);
  assert.equal(gone.missing, 2);
  assert.equal(gone.exactDuplicates, 0);
  assert.equal(gone.labelConflicts, 0);
  assert.equal(gone.items, 3, 'the other folder was not scanned, and its item stays');
  const present = (path: string) =>
    api.ws.db.prepare('SELECT present FROM item_files WHERE path = ?').pluck().get(path);
  assert.equal(present(copy), 0);
  assert.equal(present(join(other, 'circle', 'o.png')), 1);

  writeFileSync(copy, bytes);
  const back = await importRoot(root);
  assert.equal(back.missing, 1);
  assert.equal(back.exactDuplicates, 1);
  assert.equal(back.labelConflicts, 1);
  assert.equal(present(copy), 1);
  const unchanged = await importRoot(root);
  assert.equal(unchanged.decoded, 0);
  assert.equal(unchanged.missing, 1);
  assert.equal(unchanged.exactDuplicates, 1);
});
