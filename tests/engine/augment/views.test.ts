import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';

import {
  defaultViewsConfig,
  makeViews,
  type ViewsConfig,
} from '../../../src-main/engine/augment/index.ts';
import { initBackend } from '../../../src-main/engine/backend.ts';
import { Rng } from '../../../src-main/engine/rng.ts';

await initBackend({ prefer: 'wasm' });

function batch(seed: number, shape: [number, number, number, number]): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(shape.reduce((a, b) => a * b, 1)), shape);
}

/** Every augmentation on, so that the tests exercise each of them. */
function everything(size: number, channels: number): ViewsConfig {
  return {
    ...defaultViewsConfig(size, channels),
    blur: 0.5,
    solarize: 0.3,
    grayscale: channels === 3 ? 0.3 : 0,
  };
}

test('defaults follow the reference recipe at 28 px and scale for larger images', () => {
  const small = defaultViewsConfig(28, 1);
  assert.deepEqual(
    [
      small.globalViews,
      small.localViews,
      small.globalSize,
      small.localSize,
      small.globalScale,
      small.localScale,
    ],
    [2, 4, 28, 14, [0.3, 1], [0.05, 0.3]],
  );
  assert.deepEqual(
    [small.jitter.p, small.jitter.brightness, small.jitter.contrast, small.jitter.saturation],
    [0.8, 0.4, 0.4, 0],
  );
  assert.equal(small.blur + small.solarize + small.grayscale, 0);
  const large = defaultViewsConfig(224, 3);
  assert.equal(large.localSize, 96);
  assert.ok(large.blur > 0 && large.grayscale > 0 && large.jitter.hue > 0);
  assert.throws(() => defaultViewsConfig(28, 2), /channels/);
});

test('views have the configured shapes, view-major, and leave no tensor behind', () => {
  for (const [size, ch] of [
    [28, 1],
    [32, 3],
  ] as const) {
    const images = batch(1, [5, size, size, ch]);
    const cfg = everything(size, ch);
    const before = tf.memory().numTensors;
    const views = makeViews(images, new Rng(9), cfg);
    assert.equal(tf.memory().numTensors, before + 2, 'only the two view tensors are new');
    assert.deepEqual(views.global.shape, [10, size, size, ch]);
    assert.deepEqual(views.local!.shape, [20, size / 2, size / 2, ch]);
    assert.ok(views.global.dataSync().every(Number.isFinite));
    tf.dispose([images, views.global, views.local!]);
  }
  const images = batch(1, [3, 28, 28, 1]);
  const none = makeViews(images, new Rng(1), { ...defaultViewsConfig(28, 1), localViews: 0 });
  assert.equal(none.local, null);
  tf.dispose([images, none.global]);
});

test('the same seed replays the same views; another seed gives other views', () => {
  const images = batch(2, [4, 32, 32, 3]);
  const cfg = everything(32, 3);
  const a = makeViews(images, new Rng(5), cfg);
  const b = makeViews(images, new Rng(5), cfg);
  const c = makeViews(images, new Rng(6), cfg);
  assert.deepEqual(a.global.dataSync(), b.global.dataSync());
  assert.deepEqual(a.local!.dataSync(), b.local!.dataSync());
  assert.notDeepEqual(a.global.dataSync(), c.global.dataSync());
  // The generator moved on by the same number of draws whatever the probabilities.
  const r1 = new Rng(5);
  const r2 = new Rng(5);
  tf.dispose(Object.values(makeViews(images, r1, cfg)));
  tf.dispose(Object.values(makeViews(images, r2, { ...cfg, blur: 0, solarize: 0, flip: 0 })));
  assert.equal(r1.uniform(), r2.uniform());
  tf.dispose([images, a.global, a.local!, b.global, b.local!, c.global, c.local!]);
});

test('a full-image crop without jitter is the image, normalised; flipping mirrors it', () => {
  const images = batch(3, [2, 12, 12, 1]);
  // An area of 1.4 with any aspect in [3/4, 4/3] makes both sides √(1.4·r), √(1.4/r) ≥ 1, which
  // are clipped to 1: the box is the whole image whatever the aspect draw.
  const plain: ViewsConfig = {
    ...defaultViewsConfig(12, 1),
    globalViews: 1,
    localViews: 0,
    globalScale: [1.4, 1.4],
    flip: 0,
    jitter: { p: 0, brightness: 0, contrast: 0, saturation: 0, hue: 0 },
    mean: [0.25],
    std: [0.5],
  };
  const same = makeViews(images, new Rng(1), plain).global;
  const want = tf.div(tf.sub(images, 0.25), 0.5);
  assert.ok(tf.max(tf.abs(tf.sub(same, want))).dataSync()[0]! < 1e-5);
  const flipped = makeViews(images, new Rng(1), { ...plain, flip: 1 }).global;
  const mirrored = tf.reverse(want, 2);
  assert.ok(tf.max(tf.abs(tf.sub(flipped, mirrored))).dataSync()[0]! < 1e-5);
  tf.dispose([images, same, want, flipped, mirrored]);
});

test('jitter keeps pixels in range before normalisation and changes the views it is applied to', () => {
  const images = batch(4, [6, 16, 16, 3]);
  const cfg: ViewsConfig = {
    ...everything(16, 3),
    mean: [0, 0, 0],
    std: [1, 1, 1],
    globalScale: [1.4, 1.4],
    flip: 0,
  };
  const jittered = makeViews(images, new Rng(2), {
    ...cfg,
    jitter: { ...cfg.jitter, p: 1 },
    blur: 0,
    solarize: 0,
    grayscale: 0,
  }).global;
  const plain = makeViews(images, new Rng(2), {
    ...cfg,
    jitter: { ...cfg.jitter, p: 0 },
    blur: 0,
    solarize: 0,
    grayscale: 0,
  }).global;
  const v = jittered.dataSync();
  assert.ok(v.every((x) => x >= 0 && x <= 1));
  assert.ok(tf.max(tf.abs(tf.sub(jittered, plain))).dataSync()[0]! > 0.05);
  const grey = makeViews(images, new Rng(2), {
    ...cfg,
    jitter: { ...cfg.jitter, p: 0 },
    blur: 0,
    solarize: 0,
    grayscale: 1,
  }).global;
  const [r, g, b] = tf.split(grey, 3, -1);
  assert.ok(
    tf.max(tf.abs(tf.sub(r!, g!))).dataSync()[0]! < 1e-6 &&
      tf.max(tf.abs(tf.sub(g!, b!))).dataSync()[0]! < 1e-6,
  );
  const solar = makeViews(images, new Rng(2), {
    ...cfg,
    jitter: { ...cfg.jitter, p: 0 },
    blur: 0,
    solarize: 1,
    grayscale: 0,
  }).global;
  assert.ok(tf.max(solar).dataSync()[0]! <= 0.5 + 1e-6, 'solarised values never exceed one half');
  const blurred = makeViews(images, new Rng(2), {
    ...cfg,
    jitter: { ...cfg.jitter, p: 0 },
    blur: 1,
    solarize: 0,
    grayscale: 0,
  }).global;
  const energy = (t: tf.Tensor) =>
    tf.mean(tf.square(tf.sub(t, tf.mean(t, [1, 2], true)))).dataSync()[0]!;
  assert.ok(energy(blurred) < energy(plain), 'blur removes high frequencies');
  tf.dispose([images, jittered, plain, grey, r!, g!, b!, solar, blurred]);
});
