/**
 * Writes the bundled sample dataset: the first 300 images of each class of the
 * Fashion-MNIST training set and the first 100 of each class of its test set,
 * in file order, as 28×28 greyscale PNGs under resources/sample/fashion-mnist/,
 * with the data set's licence notice beside them.
 *
 * Reads Debian's `dataset-fashion-mnist` package (/usr/share/datasets/fashion-mnist).
 * Run: node --import tsx scripts/make-sample.ts
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  exportFashionMnist,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
} from '../src-main/datasets/fashion-mnist.ts';

const out = join(import.meta.dirname, '..', 'resources', 'sample', 'fashion-mnist');
const TRAIN_PER_CLASS = 300;
const TEST_PER_CLASS = 100;

rmSync(out, { recursive: true, force: true });
const counts = await exportFashionMnist(out, {
  perClass: { train: TRAIN_PER_CLASS, test: TEST_PER_CLASS },
});

// The licence text is taken from the Debian package's copyright file, so the notice
// matches the files the images came from.
const copyright = readFileSync('/usr/share/doc/dataset-fashion-mnist/copyright', 'utf8');
const licence = copyright
  .slice(copyright.indexOf('License: Expat\n Permission'))
  .split('\n')
  .slice(1)
  .map((l) => (l.trim() === '.' ? '' : l.replace(/^ /, '')))
  .join('\n')
  .trim();

writeFileSync(
  join(out, 'NOTICE'),
  `Fashion-MNIST sample

These images are a subset of Fashion-MNIST by Zalando Research
(https://github.com/zalandoresearch/fashion-mnist): the first ${TRAIN_PER_CLASS} images of each
class of the training set (train/) and the first ${TEST_PER_CLASS} of each class of the test set
(test/), in file order, written as 28x28 greyscale PNG files named <class>/<index>.png,
where <index> is the image's position in its original IDX file.

Source: the Debian package dataset-fashion-mnist (${FASHION_MNIST_DIR}/*.gz),
converted by scripts/make-sample.ts. Class folders, in label order 0-9:
${FASHION_MNIST_CLASSES.join(', ')}.

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

The MIT License (MIT), as given in the Debian package's copyright file (Expat):

${licence}
`,
);
console.log(`wrote ${counts.train} train and ${counts.test} test images to ${out}`);
