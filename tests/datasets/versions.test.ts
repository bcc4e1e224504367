/** Curation, frozen versions and the tensor cache, through the api. */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import sharp from 'sharp';

import type { Version } from '../../src-main/catalog/versions.ts';
import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { loadTensorCache, type TensorCacheInfo } from '../../src-main/datasets/tensor-cache.ts';
import { noise } from './corpus.ts';
import { openApi, tempDir } from './helpers.ts';

const solid = (w: number, h: number, colour: string) =>
  sharp({ create: { width: w, height: h, channels: 3, background: colour } }).png();

/** 16×8: left half red, right half blue; a centre 'cover' crop to 8×8 keeps both halves. */
async function twoTone(path: string): Promise<void> {
  const data = Buffer.alloc(16 * 8 * 3);
  for (let i = 0; i < 16 * 8; i++) data.set(i % 16 < 8 ? [255, 0, 0] : [0, 0, 255], i * 3);
  await sharp(data, { raw: { width: 16, height: 8, channels: 3 } })
    .png()
    .toFile(path);
}

async function makeFolder(root: string): Promise<void> {
  for (const d of ['train/apple', 'train/pear', 'val/apple', 'val/pear', 'test/pear']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  await twoTone(join(root, 'train/apple/two-tone.png'));
  await solid(10, 10, '#00ff00').toFile(join(root, 'train/apple/green.png'));
  for (let i = 0; i < 3; i++) {
    await noise(12, 12, 50 + i)
      .png()
      .toFile(join(root, `train/pear/${i}.png`));
  }
  await noise(12, 12, 60).png().toFile(join(root, 'val/apple/a.png'));
  await noise(12, 12, 61).png().toFile(join(root, 'test/pear/p.png'));
  // The same bytes in train and in val: one item, flagged.
  const twin = await noise(12, 12, 70).png().toBuffer();
  writeFileSync(join(root, 'train/pear/twin.png'), twin);
  writeFileSync(join(root, 'val/pear/twin.png'), twin);
}

test('curate, freeze, cache; a file changed after freezing is caught at use', async () => {
  const root = join(tempDir('versions'), 'fruit');
  await makeFolder(root);
  const api = openApi();
  try {
    const summary = await api.call<ImportSummary>('dataset.import', { paths: [root] });
    assert.equal(summary.items, 8);
    assert.equal(summary.imported, 9);
    assert.equal(summary.splitConflicts, 1, 'the twin sits in train and val');
    assert.ok(api.events.some((e) => e.type === 'import.progress' && e.phase === 'done'));

    const show = await api.call<{
      classes: Array<Record<string, unknown>>;
      roots: Array<Record<string, unknown>>;
    }>('dataset.show', { dataset: 'fruit' });
    assert.equal(show.roots[0]!.splitLayout, true);
    assert.deepEqual(
      show.classes.map((c) => [c.label, c.train, c.val, c.test]),
      [
        ['apple', 2, 1, 0],
        ['pear', 4, 0, 1],
      ],
    );

    // Tag, exclude, split by hand.
    const green = join(root, 'train/apple/green.png');
    assert.deepEqual(
      await api.call('dataset.tag', { dataset: 'fruit', paths: [green], tag: 'bright' }),
      {
        changed: 1,
      },
    );
    await api.call('dataset.exclude', {
      dataset: 'fruit',
      paths: ['train/pear/0.png'],
      reason: 'blurry',
    });
    await api.call('dataset.split.set', {
      dataset: 'fruit',
      paths: [join(root, 'val/apple/a.png')],
      split: 'test',
    });
    const tagged = await api.call<{ total: number }>('dataset.items', {
      dataset: 'fruit',
      tag: 'bright',
    });
    assert.equal(tagged.total, 1);
    const err = await api.fail('dataset.tag', { dataset: 'fruit', paths: ['nope.png'], tag: 'x' });
    assert.equal(err.code, 'item_not_found');

    // Freeze.
    const v1 = await api.call<{ version: Version; created: boolean }>('dataset.version.create', {
      dataset: 'fruit',
      name: 'first',
    });
    assert.equal(v1.created, true);
    assert.equal(v1.version.itemCount, 7, 'the excluded item is left out');
    assert.deepEqual(v1.version.classes, ['apple', 'pear']);
    // The twin takes the split of its first file (train); val/apple/a.png was moved to test.
    assert.deepEqual(v1.version.splitCounts, { train: 5, val: 0, test: 2 });
    assert.match(v1.version.contentHash, /^[0-9a-f]{64}$/);
    const again = await api.call<{ version: Version; created: boolean }>('dataset.version.create', {
      dataset: 'fruit',
    });
    assert.equal(again.created, false);
    assert.equal(again.version.id, v1.version.id);
    assert.throws(
      () => api.ws.db.prepare("UPDATE version_items SET split = 'val'").run(),
      /immutable/,
    );
    assert.throws(() => api.ws.db.prepare('DELETE FROM version_items').run(), /immutable/);

    // Tensor cache: NHWC uint8, labels and splits in version order, centre 'cover' crop.
    const built = await api.call<TensorCacheInfo>('dataset.cache.build', {
      version: v1.version.id,
      size: 8,
      channels: 3,
    });
    assert.equal(built.reused, false);
    assert.equal(built.path, api.ws.path('cache', `v${v1.version.id}_8x8x3.u8`));
    const { meta, pixels } = loadTensorCache(built.path);
    assert.equal(pixels.length, 7 * 8 * 8 * 3);
    assert.equal(meta.count, 7);
    assert.deepEqual(meta.classes, ['apple', 'pear']);
    assert.equal(meta.versionHash, v1.version.contentHash);
    const rows = await api.call<{ items: Array<{ path: string; label: string; split: string }> }>(
      'dataset.version.show',
      { version: `fruit@1`, limit: 100 },
    );
    const twoToneAt = rows.items.findIndex((r) => r.path.endsWith('two-tone.png'));
    assert.equal(meta.labels[twoToneAt], 0);
    assert.equal(meta.splits[twoToneAt], 'train');
    const px = (n: number, x: number, y: number) => {
      const o = ((n * 8 + y) * 8 + x) * 3;
      return [pixels[o], pixels[o + 1], pixels[o + 2]];
    };
    assert.deepEqual(px(twoToneAt, 0, 4), [255, 0, 0]);
    assert.deepEqual(px(twoToneAt, 7, 4), [0, 0, 255]);
    const greenAt = rows.items.findIndex((r) => r.path === green);
    assert.deepEqual(px(greenAt, 3, 3), [0, 255, 0]);
    const grey = loadTensorCache(
      (
        await api.call<TensorCacheInfo>('dataset.cache.build', {
          version: 'fruit',
          size: 8,
          channels: 1,
        })
      ).path,
    );
    assert.equal(grey.pixels.length, 7 * 64);
    // Grey is libvips' b-w conversion (CIE L* lightness): pure green comes out near 220.
    const g = grey.pixels[greenAt * 64]!;
    assert.ok(Math.abs(g - 220) <= 4, `green → grey ${g}`);
    const reused = await api.call<TensorCacheInfo>('dataset.cache.build', {
      version: v1.version.id,
      size: 8,
      channels: 3,
    });
    assert.equal(reused.reused, true);

    // Change a file after freezing: the next build of that version names it.
    await solid(10, 10, '#ff00ff').toFile(green);
    utimesSync(green, new Date(), new Date(Date.now() + 5000));
    rmSync(built.path);
    const changed = await api.fail('dataset.cache.build', {
      version: v1.version.id,
      size: 8,
      channels: 3,
    });
    assert.equal(changed.code, 'file_changed');
    assert.ok(changed.message.includes(green), changed.message);

    // Re-import: the changed file becomes a new item; a new version can be frozen and cached;
    // the old version's rows are as they were.
    const re = await api.call<ImportSummary>('dataset.import', { paths: [root] });
    assert.equal(re.decoded, 1);
    const v2 = await api.call<{ version: Version; created: boolean }>('dataset.version.create', {
      dataset: 'fruit',
    });
    assert.equal(v2.created, true);
    assert.equal(v2.version.number, 2);
    assert.notEqual(v2.version.contentHash, v1.version.contentHash);
    const old = await api.call<{ contentHash: string; items: unknown[] }>('dataset.version.show', {
      version: `v${v1.version.id}`,
      limit: 100,
    });
    assert.equal(old.contentHash, v1.version.contentHash);
    assert.deepEqual(old.items, rows.items);
    const fresh = await api.call<TensorCacheInfo>('dataset.cache.build', {
      version: 'fruit@2',
      size: 8,
      channels: 3,
    });
    const v2Pixels = loadTensorCache(fresh.path);
    const tagIndex = (
      await api.call<{ items: Array<{ path: string }> }>('dataset.version.show', {
        version: 'fruit@2',
        limit: 100,
      })
    ).items.findIndex((r) => r.path === green);
    assert.deepEqual(
      [...v2Pixels.pixels.subarray(tagIndex * 192, tagIndex * 192 + 3)],
      [255, 0, 255],
    );
  } finally {
    api.ws.close();
  }
});

test('random splits are seeded and stratified by label; CSV splits name their errors', async () => {
  const root = join(tempDir('split'), 'pics');
  for (let i = 0; i < 60; i++) {
    const dir = join(root, i < 40 ? 'big' : 'small');
    mkdirSync(dir, { recursive: true });
    await noise(8, 8, 300 + i)
      .png()
      .toFile(join(dir, `${i}.png`));
  }
  const api = openApi();
  try {
    await api.call('dataset.import', { paths: [root] });
    const splitOf = () =>
      api.ws.db.prepare('SELECT id, label, split FROM items ORDER BY id').all() as Array<{
        id: number;
        label: string;
        split: string;
      }>;
    const counts = await api.call<Record<string, number>>('dataset.split.random', {
      dataset: 'pics',
      train: 0.5,
      val: 0.25,
      test: 0.25,
      seed: 7,
    });
    assert.deepEqual(counts, { train: 30, val: 15, test: 15 });
    const first = splitOf();
    for (const [label, n] of [
      ['big', 40],
      ['small', 20],
    ] as const) {
      const mine = first.filter((r) => r.label === label);
      assert.equal(mine.filter((r) => r.split === 'val').length, n / 4, `${label} is stratified`);
    }
    await api.call('dataset.split.random', {
      dataset: 'pics',
      train: 0.5,
      val: 0.25,
      test: 0.25,
      seed: 7,
    });
    assert.deepEqual(splitOf(), first, 'same seed, same splits');
    await api.call('dataset.split.random', {
      dataset: 'pics',
      train: 0.5,
      val: 0.25,
      test: 0.25,
      seed: 8,
    });
    assert.notDeepEqual(splitOf(), first, 'another seed, other splits');

    const csv = join(root, '..', 'splits.csv');
    writeFileSync(csv, 'path,split\nbig/0.png,test\nbig/1.png,val\n');
    const r = await api.call<{ updated: number; unknown: string[] }>('dataset.split.csv', {
      dataset: 'pics',
      file: csv,
    });
    assert.deepEqual(r, { updated: 2, unknown: [] });
    const bad = join(root, '..', 'bad.csv');
    writeFileSync(bad, 'path,split\nbig/0.png,test\nbig/1.png,trian\n');
    const e = await api.fail('dataset.split.csv', { dataset: 'pics', file: bad });
    assert.match(e.message, /line 3: the field 'split' is "trian"/);
  } finally {
    api.ws.close();
  }
});

test('a version finds its files by content after its folder is moved and imported again', async () => {
  const base = tempDir('moved');
  const root = join(base, 'shelf');
  mkdirSync(join(root, 'a'), { recursive: true });
  mkdirSync(join(root, 'b'), { recursive: true });
  for (let i = 0; i < 4; i++) {
    await noise(12, 10, 500 + i)
      .jpeg()
      .toFile(join(root, i < 2 ? 'a' : 'b', `${i}.jpg`));
  }
  const api = openApi();
  try {
    await api.call('dataset.import', { paths: [root] });
    const { version } = await api.call<{ version: Version }>('dataset.version.create', {
      dataset: 'shelf',
    });
    const build = () =>
      api.call<TensorCacheInfo>('dataset.cache.build', {
        version: version.id,
        size: 8,
        channels: 3,
      });
    const first = await build();
    const pixels = loadTensorCache(first.path).pixels.slice();
    rmSync(first.path);

    renameSync(root, join(base, 'shelf-2024'));
    const lost = await api.fail('dataset.cache.build', {
      version: version.id,
      size: 8,
      channels: 3,
    });
    assert.equal(lost.code, 'file_missing');
    // Files are read in parallel: the first one found missing is named, whichever it is.
    const named = ['a/0.jpg', 'a/1.jpg', 'b/2.jpg', 'b/3.jpg'].map((f) => join(root, f));
    assert.ok(
      named.some((path) => lost.message.includes(path)),
      lost.message,
    );

    // Imported from its new place (here as another dataset), the old version builds again,
    // with the same pixels, and its frozen rows still name the old paths.
    await api.call('dataset.import', { paths: [join(base, 'shelf-2024')] });
    const again = await build();
    assert.equal(again.reused, false);
    assert.deepEqual(loadTensorCache(again.path).pixels, pixels);
    const rows = await api.call<{ items: Array<{ path: string }> }>('dataset.version.show', {
      version: version.id,
      limit: 10,
    });
    assert.ok(rows.items.every((r) => r.path.startsWith(root + '/')));

    // A file whose content changed and has no copy anywhere is still refused.
    rmSync(again.path);
    await noise(12, 10, 999)
      .jpeg()
      .toFile(join(base, 'shelf-2024', 'a', '0.jpg'));
    await api.call('dataset.import', { paths: [join(base, 'shelf-2024')] });
    const changed = await api.fail('dataset.cache.build', {
      version: version.id,
      size: 8,
      channels: 3,
    });
    assert.equal(changed.code, 'file_missing');
  } finally {
    api.ws.close();
  }
});
