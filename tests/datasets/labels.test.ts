/** Labels from a CSV (with errors that name the line and field) and from split folders. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { detectSplitLayout, labelFromFolders } from '../../src-main/datasets/labels.ts';
import { noise } from './corpus.ts';
import { openApi, tempDir } from './helpers.ts';

test('split folders: train/val/test at the top give splits, the next level the class', () => {
  assert.equal(detectSplitLayout(['train/cat/1.png', 'Val/dog/2.png', 'test/x.png']), true);
  assert.equal(detectSplitLayout(['train/cat/1.png', 'extra/dog/2.png']), false);
  assert.equal(detectSplitLayout(['a.png']), false);
  assert.deepEqual(labelFromFolders('Val/dog/2.png', true), { split: 'val', label: 'dog' });
  assert.deepEqual(labelFromFolders('train/x.png', true), { split: 'train', label: null });
  assert.deepEqual(labelFromFolders('cat/sub/1.png', false), { split: null, label: 'cat' });
  assert.deepEqual(labelFromFolders('1.png', false), { split: null, label: null });
});

test('labels from a CSV; a bad row is refused with its line and field', async () => {
  const root = join(tempDir('csv'), 'flat');
  mkdirSync(join(root, 'sub'), { recursive: true });
  for (const [i, name] of ['a.png', 'b.png', 'sub/c d.png', 'unlisted.png'].entries()) {
    await noise(8, 8, 900 + i)
      .png()
      .toFile(join(root, name));
  }
  const csv = join(root, '..', 'labels.csv');
  writeFileSync(
    csv,
    'path,label,split\na.png,cat,train\r\n"sub/c d.png","dog, big",val\nb.png,cat\nflat/b.png,cat\n',
  );
  const api = openApi();
  try {
    const s = await api.call<ImportSummary>('dataset.import', {
      paths: [root],
      labels: 'csv',
      csv,
    });
    assert.equal(s.imported, 4);
    assert.equal(s.csvUnmatched, 1);
    // A row naming no file (here with the folder's own name as a prefix) is reported.
    assert.equal(s.csvUnused, 1);
    assert.equal(s.csvUnusedExample, 'flat/b.png (line 5)');
    const rows = api.ws.db
      .prepare('SELECT rel_path, label, split FROM item_files ORDER BY rel_path')
      .all();
    assert.deepEqual(rows, [
      { rel_path: 'a.png', label: 'cat', split: 'train' },
      { rel_path: 'b.png', label: 'cat', split: null },
      { rel_path: 'sub/c d.png', label: 'dog, big', split: 'val' },
      { rel_path: 'unlisted.png', label: null, split: null },
    ]);

    // A new CSV relabels the unchanged files without decoding them again.
    writeFileSync(csv, 'a.png,bird\n');
    const again = await api.call<ImportSummary>('dataset.import', {
      paths: [root],
      labels: 'csv',
      csv,
    });
    assert.equal(again.decoded, 0);
    assert.equal(again.csvUnused, 0);
    const a = api.ws.db
      .prepare(
        "SELECT i.label FROM items i JOIN item_files f ON f.item_id = i.id WHERE f.rel_path = 'a.png'",
      )
      .pluck()
      .get();
    assert.equal(a, 'bird');

    for (const [body, pattern] of [
      ['a.png,cat\nb.png\n', /line 2: expected 2 or 3 fields/],
      ['a.png,cat\n\nb.png,,train\n', /line 3: the field 'label' is empty/],
      ['a.png,cat,training\n', /line 1: the field 'split' is "training"; use train, val or test/],
      [',cat\n', /line 1: the field 'path' is empty/],
    ] as const) {
      writeFileSync(csv, body);
      const e = await api.fail('dataset.import', { paths: [root], labels: 'csv', csv });
      assert.equal(e.code, 'csv_invalid');
      assert.match(e.message, pattern);
      assert.ok(e.message.includes(csv), 'the message names the file');
    }
    const noCsv = join(root, 'no-such.csv');
    const absent = await api.fail('dataset.import', { paths: [root], labels: 'csv', csv: noCsv });
    assert.equal(absent.code, 'csv_unreadable');
    assert.equal(
      absent.message,
      `The label file ${noCsv} does not exist. Check the path given after "csv:".`,
    );
    const missing = await api.fail('dataset.import', { paths: [join(root, 'nope')] });
    assert.equal(missing.code, 'folder_not_found');
  } finally {
    api.ws.close();
  }
});
