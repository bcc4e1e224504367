/** What the scan leaves out: the studio's own workspace inside an imported folder. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
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
