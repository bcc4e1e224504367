/** The tensor cache's PNG fast path gives exactly the pixels of the sharp path. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import sharp from 'sharp';

import { openImage, readHeader } from '../../src-main/datasets/decode.ts';
import { decodePlainPngInto } from '../../src-main/datasets/png-fast.ts';
import { resizePlainPng } from '../../src-main/datasets/tensor-cache.ts';
import { REPO } from './cli.ts';
import { noise } from './corpus.ts';

async function viaSharp(buf: Buffer, size: number, channels: 1 | 3): Promise<Buffer> {
  const header = await readHeader(buf, 1e9);
  return openImage(buf, header, 1e9)
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer();
}

test('sample PNGs decode identically through the fast path and through sharp', async () => {
  const dir = join(REPO, 'resources', 'sample', 'fashion-mnist', 'train', 'coat');
  const files = readdirSync(dir).slice(0, 60);
  assert.ok(files.length > 0);
  for (const name of files) {
    const buf = readFileSync(join(dir, name));
    for (const channels of [1, 3] as const) {
      const out = Buffer.alloc(28 * 28 * channels);
      assert.equal(decodePlainPngInto(buf, 28, channels, out, 0), true, name);
      assert.deepEqual(out, await viaSharp(buf, 28, channels), `${name} × ${channels}`);
    }
  }
});

test('RGB PNGs with every row filter match sharp; other PNGs are declined', async () => {
  // Compression level 9 with adaptive filtering uses several filter types across rows.
  const rgb = await noise(16, 16, 42)
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toBuffer();
  const out = Buffer.alloc(16 * 16 * 3);
  assert.equal(decodePlainPngInto(rgb, 16, 3, out, 0), true);
  assert.deepEqual(out, await viaSharp(rgb, 16, 3));
  assert.equal(decodePlainPngInto(rgb, 16, 1, Buffer.alloc(256), 0), false, 'RGB to grey: sharp');
  assert.equal(decodePlainPngInto(rgb, 8, 3, Buffer.alloc(192), 0), false, 'another size');
  const alpha = await noise(16, 16, 1, 4).png().toBuffer();
  assert.equal(decodePlainPngInto(alpha, 16, 3, out, 0), false, 'alpha');
  const palette = await noise(16, 16, 2).png({ palette: true }).toBuffer();
  assert.equal(decodePlainPngInto(palette, 16, 3, out, 0), false, 'palette');
  const deep = await sharp(await noise(16, 16, 3).png().toBuffer())
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  assert.equal(decodePlainPngInto(deep, 16, 3, out, 0), false, '16-bit');
});

test('plain PNGs of another size resize from their raw pixels to the same bytes as through sharp', async () => {
  const dir = join(REPO, 'resources', 'sample', 'fashion-mnist', 'train', 'bag');
  const files = readdirSync(dir).slice(0, 20);
  assert.ok(files.length > 0);
  const rgb = await noise(20, 12, 7)
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toBuffer();
  const inputs = [...files.map((name) => readFileSync(join(dir, name))), rgb];
  for (const [i, buf] of inputs.entries()) {
    for (const [size, channels] of [
      [32, 3],
      [32, 1],
      [20, 3],
      [64, 1],
    ] as const) {
      const fast = await resizePlainPng(buf, size, channels);
      assert.ok(fast !== undefined, `input ${i}`);
      assert.deepEqual(
        fast,
        await viaSharp(buf, size, channels),
        `input ${i} at ${size}×${channels}`,
      );
    }
  }
  const alpha = await noise(16, 16, 1, 4).png().toBuffer();
  assert.equal(await resizePlainPng(alpha, 32, 3), undefined, 'alpha goes through sharp');
});
