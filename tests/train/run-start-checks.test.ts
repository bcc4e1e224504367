/**
 * `run.start` refuses what the train job would refuse at its first step (a
 * missing or empty version, a batch larger than the training images) before any
 * run is recorded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createVersion } from '../../src-main/catalog/versions.ts';
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import {
  apiOf,
  importAndFreeze,
  tempDir,
  TINY_RUN,
  writeTinyFolder,
} from '../reliability/helpers.ts';

test('run.start refuses a missing version, an empty one and a batch above the images, with no run row', async () => {
  const ws = openWorkspace(tempDir('start-checks'));
  try {
    const version = await importAndFreeze(ws, await writeTinyFolder({ train: 2, test: 1 }));
    // Every item excluded, then frozen: a version of 0 items (the catalog keeps it).
    ws.db.prepare('UPDATE items SET excluded = 1').run();
    const empty = createVersion(ws.db, 1, {}).version;
    assert.equal(empty.itemCount, 0);

    const api = apiOf(ws);
    const start = (datasetVersionId: number, config: object) =>
      api.reply('run.start', { datasetVersionId, preset: 'quick', config });

    const missing = await start(99, TINY_RUN);
    assert.ok(!missing.ok);
    assert.equal(missing.error.code, 'version_not_found');
    assert.match(missing.error.message, /There is no dataset version 99\./);

    const none = await start(empty.id, TINY_RUN);
    assert.ok(!none.ok);
    assert.equal(none.error.code, 'version_empty');
    assert.doesNotMatch(none.error.message, /Lower batch/);

    // 6 training images (2 per class, 3 classes); batch 12 is too large.
    const big = await start(version, TINY_RUN);
    assert.ok(!big.ok);
    assert.equal(big.error.code, 'batch_too_large');
    assert.match(big.error.message, /batch \(12\) is larger than the 6 training images/);
    const limited = await start(version, { ...TINY_RUN, batch: 4, trainLimit: 3 });
    assert.ok(!limited.ok);
    assert.match(limited.error.message, /larger than the 3 training images/);

    const count = ws.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number };
    assert.equal(count.n, 0);
  } finally {
    ws.close();
  }
});
