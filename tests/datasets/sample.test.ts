/**
 * The bundled sample (`resources/sample/fashion-mnist`): its notice is there,
 * every image is the Fashion-MNIST image its name says (checked against
 * Debian's dataset-fashion-mnist, which CI installs), and it imports with one
 * call: 10 classes, train/test from the folders, nothing skipped.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  readIdxImages,
  readIdxLabels,
} from '../../src-main/datasets/fashion-mnist.ts';
import { decodePlainPng } from '../../src-main/datasets/png-fast.ts';
import { REPO } from './cli.ts';
import { openApi } from './helpers.ts';

const SAMPLE = join(REPO, 'resources', 'sample', 'fashion-mnist');
const PER_CLASS = { train: 300, test: 100 } as const;

test('the sample carries the licence notice of its source', () => {
  const notice = readFileSync(join(SAMPLE, 'NOTICE'), 'utf8');
  assert.match(notice, /Fashion-MNIST by Zalando Research/);
  assert.match(notice, /Copyright \(c\) 2017 Zalando SE/);
  assert.match(notice, /The MIT License/);
  assert.match(notice, /Permission is hereby granted, free of charge/);
  assert.match(notice, /The above copyright notice and this permission notice shall be included/);
});

test(
  'every sample image is the Fashion-MNIST image its folder and name say',
  { skip: !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist is not installed' },
  () => {
    for (const [split, prefix] of [
      ['train', 'train'],
      ['test', 't10k'],
    ] as const) {
      const images = readIdxImages(join(FASHION_MNIST_DIR, `${prefix}-images-idx3-ubyte.gz`));
      const labels = readIdxLabels(join(FASHION_MNIST_DIR, `${prefix}-labels-idx1-ubyte.gz`));
      const frame = images.rows * images.cols;
      assert.deepEqual(readdirSync(join(SAMPLE, split)).sort(), [...FASHION_MNIST_CLASSES].sort());
      FASHION_MNIST_CLASSES.forEach((name, label) => {
        // The first N images of the class, in file order.
        const want: number[] = [];
        for (let i = 0; i < labels.length && want.length < PER_CLASS[split]; i++) {
          if (labels[i] === label) want.push(i);
        }
        const files = readdirSync(join(SAMPLE, split, name));
        assert.deepEqual(
          files.map((f) => Number(f.replace(/\.png$/, ''))).sort((a, b) => a - b),
          want,
          `${split}/${name}`,
        );
        for (const f of files) {
          const png = decodePlainPng(readFileSync(join(SAMPLE, split, name, f)));
          assert.ok(png !== undefined && png.channels === 1, `${split}/${name}/${f} is grey`);
          const i = Number(f.replace(/\.png$/, ''));
          assert.ok(
            png.data.equals(images.pixels.subarray(i * frame, (i + 1) * frame)),
            `${split}/${name}/${f} has the pixels of image ${i}`,
          );
        }
      });
    }
  },
);

test('the sample imports with one call: 10 classes, train/test from its folders', async () => {
  // Identical pictures are one item: count the distinct files to know how many items to expect.
  const distinct = new Set<string>();
  let files = 0;
  for (const split of ['train', 'test']) {
    for (const c of FASHION_MNIST_CLASSES) {
      for (const f of readdirSync(join(SAMPLE, split, c))) {
        files++;
        distinct.add(
          createHash('sha256')
            .update(readFileSync(join(SAMPLE, split, c, f)))
            .digest('hex'),
        );
      }
    }
  }
  assert.equal(files, 10 * (PER_CLASS.train + PER_CLASS.test));

  const api = openApi();
  try {
    const s = await api.call<ImportSummary>('dataset.import', { paths: [SAMPLE] });
    assert.equal(s.name, 'fashion-mnist');
    assert.equal(s.imported, files);
    assert.equal(s.skippedTotal, 0);
    assert.equal(s.warned, 0);
    assert.equal(s.ignored.notes, 1, 'NOTICE is a note, not a skipped file');
    assert.equal(s.items, distinct.size);
    const show = await api.call<{
      roots: Array<{ splitLayout: boolean }>;
      classes: Array<{ label: string; train: number; val: number; test: number }>;
    }>('dataset.show', { dataset: 'fashion-mnist' });
    assert.equal(show.roots[0]!.splitLayout, true);
    assert.deepEqual(
      show.classes.map((c) => c.label),
      [...FASHION_MNIST_CLASSES].sort(),
    );
    const total = (k: 'train' | 'val' | 'test') => show.classes.reduce((n, c) => n + c[k], 0);
    assert.equal(total('val'), 0);
    assert.equal(total('train') + total('test'), distinct.size);
    for (const c of show.classes) {
      assert.ok(c.train >= PER_CLASS.train - 5 && c.test >= PER_CLASS.test - 5, c.label);
    }
  } finally {
    api.ws.close();
  }
});
