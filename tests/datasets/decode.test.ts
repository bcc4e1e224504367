/** Format sniffing, the BMP decoder, and the perceptual hash. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import sharp, { type Sharp } from 'sharp';

import { decodeBmp } from '../../src-main/datasets/bmp.ts';
import {
  dhashFromRgb,
  fingerprintFromRgb,
  hammingDistance,
  nearDuplicatePairs,
} from '../../src-main/datasets/dhash.ts';
import { sniffFormat } from '../../src-main/datasets/sniff.ts';
import { bmp24, heicBytes, noise, picture } from './corpus.ts';

test('formats are recognised from their bytes', async () => {
  const cases: Array<[Buffer, string | undefined]> = [
    [await noise(4, 4, 1).png().toBuffer(), 'png'],
    [await noise(4, 4, 1).jpeg().toBuffer(), 'jpeg'],
    [await noise(4, 4, 1).webp().toBuffer(), 'webp'],
    [await noise(4, 4, 1).gif().toBuffer(), 'gif'],
    [await noise(4, 4, 1).tiff().toBuffer(), 'tiff'],
    [await noise(8, 8, 1).avif().toBuffer(), 'avif'],
    [bmp24(2, 2, new Uint8Array(12)), 'bmp'],
    [heicBytes(), 'heic'],
    [Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'), 'svg'],
    [Buffer.from('just some text, long enough to look at'), undefined],
  ];
  for (const [bytes, format] of cases) assert.equal(sniffFormat(bytes)?.format, format);
  assert.equal(sniffFormat(heicBytes())?.decoder, 'unsupported');
});

test('the BMP decoder reads 24-bit rows bottom-up with padding, and 8-bit palettes', () => {
  const rgb = new Uint8Array(3 * 2 * 3).map((_, i) => i * 10);
  const img = decodeBmp(bmp24(3, 2, rgb));
  assert.equal(img.channels, 3);
  assert.deepEqual([...img.data], [...rgb]);

  // 2×2, 8 bits per pixel, palette of two colours, top-down (negative height).
  const buf = Buffer.alloc(54 + 8 + 8);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(54 + 8, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(2, 18);
  buf.writeInt32LE(-2, 22);
  buf.writeUInt16LE(8, 28);
  buf.set([0, 0, 255, 0, 255, 0, 0, 0], 54); // palette: red, blue (stored B, G, R, x)
  buf.set([0, 1, 0, 0, 1, 0, 0, 0], 62); // rows padded to 4 bytes
  const pal = decodeBmp(buf);
  assert.deepEqual([...pal.data], [255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0]);
});

async function hashOf(img: Sharp) {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return {
    dhash: dhashFromRgb(data, info.width, info.height, info.channels),
    fingerprint: fingerprintFromRgb(data, info.width, info.height, info.channels),
  };
}

test('re-encoded and resized copies are near duplicates; different pictures are not', async () => {
  const png = await picture(96, 64, 1).png().toBuffer();
  const a = await hashOf(sharp(png));
  const jpeg = await hashOf(sharp(await sharp(png).jpeg({ quality: 70 }).toBuffer()));
  const small = await hashOf(sharp(png).resize(48, 32));
  const other = await hashOf(picture(96, 64, 4));
  const flat = await hashOf(
    sharp({ create: { width: 9, height: 8, channels: 3, background: '#777' } }),
  );
  assert.equal(flat.dhash, '0000000000000000', 'a flat image has no edges');
  assert.ok(hammingDistance(a.dhash, jpeg.dhash) <= 4);
  const pairs = nearDuplicatePairs([
    { id: 1, ...a },
    { id: 2, ...jpeg },
    { id: 3, ...small },
    { id: 4, ...(await hashOf(noise(96, 64, 3))) },
    { id: 5, ...other },
  ]);
  assert.deepEqual(pairs.map((p) => [p.a, p.b]).sort(), [
    [1, 2],
    [1, 3],
    [2, 3],
  ]);
});
