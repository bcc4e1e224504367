/** Resizing many small images in one sharp call gives each image's own bytes. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { Version } from '../../src-main/catalog/versions.ts';
import { openImage, readHeader } from '../../src-main/datasets/decode.ts';
import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import {
  MosaicQueue,
  mosaicPlan,
  resizeAlone,
  resizeMosaic,
  type MosaicPlan,
  type RawImage,
} from '../../src-main/datasets/mosaic.ts';
import { loadTensorCache, type TensorCacheInfo } from '../../src-main/datasets/tensor-cache.ts';
import { REPO } from './cli.ts';
import { openApi } from './helpers.ts';

function noiseImage(side: number, channels: 1 | 3, seed: number): RawImage {
  const data = Buffer.alloc(side * side * channels);
  let x = (seed + 1) * 2654435761;
  for (let i = 0; i < data.length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    data[i] = x & 0xff;
  }
  return { data, width: side, height: side, channels };
}

async function assertSameAsAlone(plan: MosaicPlan, images: RawImage[], what: string) {
  const tiles = await resizeMosaic(
    plan,
    images.map((image) => image.data),
  );
  const frame = plan.size * plan.size * plan.outChannels;
  assert.equal(tiles.length, images.length * frame, what);
  for (const [k, image] of images.entries()) {
    const alone = await resizeAlone(image, plan.size, plan.outChannels);
    assert.ok(alone.equals(tiles.subarray(k * frame, (k + 1) * frame)), `${what}, image ${k}`);
  }
}

test('a mosaic gives every image the bytes of that image resized alone', async () => {
  // Noise is the hardest case: every pixel differs from its neighbours.
  for (const [side, cin, size, cout] of [
    [28, 1, 32, 3],
    [28, 1, 32, 1],
    [20, 3, 32, 3],
    [64, 3, 32, 1],
    [40, 1, 32, 3],
    [100, 3, 32, 3],
    [31, 3, 32, 3],
  ] as const) {
    const plan = mosaicPlan(side, cin, size, cout);
    assert.ok(plan !== undefined, `${side}→${size}`);
    // 37 images: a grid of 7 columns with a short last row.
    const images = Array.from({ length: 37 }, (_, k) => noiseImage(side, cin, k + side));
    await assertSameAsAlone(plan, images, `${side}×${cin} → ${size}×${cout}`);
  }
});

test('no mosaic for an unchanged size or a shrink of 4× or more, where tiles would differ', async () => {
  assert.equal(mosaicPlan(32, 3, 32, 3), undefined);
  assert.equal(mosaicPlan(128, 3, 32, 3), undefined);
  assert.equal(mosaicPlan(2000, 3, 32, 3), undefined, 'too large to gain');
  // Forced anyway at 4×, libvips shrinks the mosaic by whole blocks first and the bytes change.
  const forced: MosaicPlan = {
    side: 128,
    inChannels: 3,
    size: 32,
    outChannels: 3,
    margin: 16,
    capacity: 16,
  };
  const images = Array.from({ length: 4 }, (_, k) => noiseImage(128, 3, k));
  const tiles = await resizeMosaic(
    forced,
    images.map((image) => image.data),
  );
  const alone = await resizeAlone(images[0]!, 32, 3);
  assert.ok(!alone.equals(tiles.subarray(0, alone.length)));
});

test('a mosaic whose checked tile differs, or that fails, is redone image by image', async () => {
  const size = 32;
  const frame = size * size * 3;
  for (const fault of ['differs', 'throws'] as const) {
    const written = new Map<number, Buffer>();
    let mosaics = 0;
    const queue = new MosaicQueue(
      size,
      3,
      (index, pixels) => written.set(index, Buffer.from(pixels)),
      async (plan, images) => {
        mosaics++;
        if (fault === 'throws') throw new Error('no memory');
        const tiles = await resizeMosaic(plan, images);
        tiles[tiles.length - 1] = 255 - tiles[tiles.length - 1]!;
        return tiles;
      },
    );
    const images = Array.from({ length: 20 }, (_, k) => noiseImage(28, 1, k));
    for (const [k, image] of images.slice(0, 10).entries()) {
      assert.equal(queue.accepts(image), true);
      await queue.add(image, k);
    }
    await queue.finish();
    assert.equal(mosaics, 1);
    assert.equal(queue.accepts(images[10]!), false, `${fault}: the rest of the group goes alone`);
    for (let k = 0; k < 10; k++) {
      const alone = await resizeAlone(images[k]!, size, 3);
      assert.equal(written.get(k)?.length, frame);
      assert.ok(alone.equals(written.get(k)!), `${fault}: image ${k}`);
    }
  }
});

test('the tensor cache of the sample images at 32×32×3 is, image by image, the sharp pipeline', async () => {
  const api = openApi();
  const root = join(REPO, 'resources', 'sample', 'fashion-mnist', 'train');
  const summary = await api.call<ImportSummary>('dataset.import', { paths: [root] });
  assert.ok(summary.items > 1024, 'more than one full mosaic');
  const { version } = await api.call<{ version: Version }>('dataset.version.create', {
    dataset: summary.name,
  });
  const built = await api.call<TensorCacheInfo>('dataset.cache.build', {
    version: version.id,
    size: 32,
    channels: 3,
  });
  const { meta, pixels } = loadTensorCache(built.path);
  const paths = api.ws.db
    .prepare('SELECT path FROM version_items WHERE version_id = ? ORDER BY position')
    .pluck()
    .all(version.id) as string[];
  assert.equal(paths.length, meta.count);
  const frame = 32 * 32 * 3;
  for (const [i, path] of paths.entries()) {
    const buf = readFileSync(path);
    const header = await readHeader(buf, 1e9);
    const expected = await openImage(buf, header, 1e9)
      .resize(32, 32, { fit: 'cover', position: 'centre' })
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    assert.ok(expected.equals(pixels.subarray(i * frame, (i + 1) * frame)), path);
  }
});
