/** What the scan leaves out: the studio's own workspace, OS and NAS debris. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { noise } from './corpus.ts';
import { openApi, tempDir } from './helpers.ts';

test('a workspace inside the imported folder is not scanned: no thumbnails as images', async () => {
  const root = join(tempDir('inside'), 'photos');
  mkdirSync(join(root, 'cat'), { recursive: true });
  await noise(16, 16, 1)
    .png()
    .toFile(join(root, 'cat', 'a.png'));
  await noise(50, 40, 2)
    .jpeg()
    .toFile(join(root, 'cat', 'b.jpg'));
  const api = openApi(join(root, 'my workspace'));
  try {
    const first = await api.call<ImportSummary>('dataset.import', { paths: [root] });
    // The second import would find the thumbnails and the catalog written by the first.
    const again = await api.call<ImportSummary>('dataset.import', { paths: [root] });
    for (const s of [first, again]) {
      assert.equal(s.imported, 2, JSON.stringify(s));
      assert.equal(s.skippedTotal, 0, JSON.stringify(s.skipped));
      assert.equal(s.ignored.workspace, 1);
      assert.equal(s.items, 2);
    }
    const labels = api.ws.db.prepare('SELECT DISTINCT label FROM items').pluck().all();
    assert.deepEqual(labels, ['cat']);
  } finally {
    api.ws.close();
  }
});

test('NAS, macOS and drive debris folders are ignored as OS debris, not imported as classes', async () => {
  const root = join(tempDir('debris'), 'drive');
  mkdirSync(join(root, 'cat'), { recursive: true });
  await noise(16, 16, 3)
    .png()
    .toFile(join(root, 'cat', 'a.png'));
  // Synology keeps real JPEG thumbnails of each photo in @eaDir.
  mkdirSync(join(root, 'cat', '@eaDir', 'a.png'), { recursive: true });
  await noise(16, 16, 3)
    .jpeg()
    .toFile(join(root, 'cat', '@eaDir', 'a.png', 'SYNOPHOTO_THUMB_M.jpg'));
  mkdirSync(join(root, '__MACOSX', 'cat'), { recursive: true });
  writeFileSync(join(root, '__MACOSX', 'cat', 'a.png'), 'resource fork');
  for (const d of ['$RECYCLE.BIN', 'System Volume Information', 'lost+found']) {
    mkdirSync(join(root, d));
    await noise(8, 8, 4)
      .png()
      .toFile(join(root, d, 'x.png'));
  }
  writeFileSync(join(root, 'cat', 'Icon\r'), Buffer.alloc(0));
  const api = openApi();
  try {
    const s = await api.call<ImportSummary>('dataset.import', { paths: [root] });
    assert.equal(s.imported, 1, JSON.stringify(s));
    assert.equal(s.skippedTotal, 0, JSON.stringify(s.skipped));
    assert.equal(s.ignored.os_debris, 6);
    const labels = api.ws.db.prepare('SELECT DISTINCT label FROM items').pluck().all();
    assert.deepEqual(labels, ['cat']);
  } finally {
    api.ws.close();
  }
});
