/** Cancelling an import: the error is `cancelled`, what was committed stays, a re-run finishes. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { noise } from './corpus.ts';
import { openApi, tempDir } from './helpers.ts';

test('an import cancelled during decoding stops, and the next run completes it', async () => {
  const root = join(tempDir('cancel'), 'many');
  mkdirSync(join(root, 'x'), { recursive: true });
  const FILES = 400;
  for (let i = 0; i < FILES; i++) {
    await noise(64, 64, 5000 + i)
      .png()
      .toFile(join(root, 'x', `${i}.png`));
  }
  const controller = new AbortController();
  const wsDir = tempDir('cancel-ws');
  const api = openApi(wsDir, controller.signal);
  let cancelledAt = -1;
  const watcher = setInterval(() => {
    const decoding = api.events.find(
      (e) => e.type === 'import.progress' && e.phase === 'decode' && e.done > 0,
    );
    if (decoding !== undefined && cancelledAt < 0) {
      cancelledAt = decoding.type === 'import.progress' ? decoding.done : -1;
      controller.abort();
    }
  }, 5);
  try {
    const error = await api.fail('dataset.import', { paths: [root] });
    assert.equal(error.code, 'cancelled');
    assert.equal(error.kind, 'cancelled');
  } finally {
    clearInterval(watcher);
  }
  const status = api.ws.db.prepare('SELECT status FROM dataset_imports').pluck().get();
  assert.equal(status, 'cancelled');
  const partial = api.ws.db.prepare('SELECT COUNT(*) FROM items').pluck().get() as number;
  assert.ok(partial >= cancelledAt && partial < FILES, `kept ${partial} of ${FILES}`);
  api.ws.close();

  const again = openApi(wsDir);
  try {
    const summary = await again.call<ImportSummary>('dataset.import', { paths: [root] });
    assert.equal(summary.imported, FILES);
    assert.equal(summary.unchanged, partial, 'what was committed is not decoded again');
  } finally {
    again.ws.close();
  }
});
