/**
 * How pixels are normalised, seen where they are used: the thumbnail written at
 * import and the tensor cache that training reads. EXIF orientation is applied
 * exactly once, animations give their first frame, alpha is composited on
 * white, 16-bit samples become 8-bit, CMYK becomes sRGB; both places agree.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';

import sharp from 'sharp';

import type { Version } from '../../src-main/catalog/versions.ts';
import { BACKGROUND } from '../../src-main/datasets/decode.ts';
import type { ImportSummary } from '../../src-main/datasets/importer.ts';
import { loadTensorCache, type TensorCacheInfo } from '../../src-main/datasets/tensor-cache.ts';
import { openApi, tempDir } from './helpers.ts';

type Rgb = [number, number, number];
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const GREEN: Rgb = [0, 255, 0];

/** width×height RGBA pixels from a function of (x, y). */
function rgba(width: number, height: number, at: (x: number, y: number) => number[]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(at(x, y), (y * width + x) * 4);
  }
  return data;
}

function near(actual: Rgb, want: Rgb, tolerance: number, what: string): void {
  assert.ok(
    actual.every((v, i) => Math.abs(v - want[i]!) <= tolerance),
    `${what}: got ${actual.join(',')}, expected about ${want.join(',')}`,
  );
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An animated PNG of two 16×16 frames, red then blue (acTL, fcTL + IDAT, fcTL + fdAT). */
async function apng(): Promise<Buffer> {
  const frame = async (rgb: Rgb) => {
    const png = await sharp({
      create: {
        width: 16,
        height: 16,
        channels: 3,
        background: { r: rgb[0], g: rgb[1], b: rgb[2] },
      },
    })
      .png()
      .toBuffer();
    const parts: Buffer[] = [];
    for (let at = 8; at < png.length;) {
      const length = png.readUInt32BE(at);
      if (png.toString('latin1', at + 4, at + 8) === 'IDAT')
        parts.push(png.subarray(at + 8, at + 8 + length));
      at += 12 + length;
    }
    return { ihdr: png.subarray(8, 33), data: Buffer.concat(parts) };
  };
  const red = await frame(RED);
  const blue = await frame(BLUE);
  const fctl = (seq: number) => {
    const d = Buffer.alloc(26);
    d.writeUInt32BE(seq, 0);
    d.writeUInt32BE(16, 4);
    d.writeUInt32BE(16, 8);
    d.writeUInt16BE(1, 20);
    d.writeUInt16BE(10, 22);
    return chunk('fcTL', d);
  };
  const actl = Buffer.alloc(8);
  actl.writeUInt32BE(2, 0);
  const seq = Buffer.alloc(4);
  seq.writeUInt32BE(2, 0);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    red.ihdr,
    chunk('acTL', actl),
    fctl(0),
    chunk('IDAT', red.data),
    fctl(1),
    chunk('fdAT', Buffer.concat([seq, blue.data])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function writeFolder(root: string): Promise<void> {
  mkdirSync(root, { recursive: true });
  // Stored 40×20, left half red and right half blue, EXIF orientation 6 (rotate 90° clockwise
  // to display): seen upright it is 20×40, red on top, blue below.
  const wide = rgba(40, 20, (x) => (x < 20 ? [...RED, 255] : [...BLUE, 255]));
  writeFileSync(
    join(root, 'oriented.jpg'),
    await sharp(wide, { raw: { width: 40, height: 20, channels: 4 } })
      .removeAlpha()
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
  );
  // Two frames, red then blue.
  const frames = Buffer.concat([
    rgba(16, 16, () => [...RED, 255]),
    rgba(16, 16, () => [...BLUE, 255]),
  ]);
  writeFileSync(
    join(root, 'anim.gif'),
    await sharp(frames, { raw: { width: 16, height: 32, channels: 4, pageHeight: 16 } })
      .gif()
      .toBuffer(),
  );
  writeFileSync(join(root, 'anim.png'), await apng());
  // Vertical thirds: transparent, black at half opacity, opaque green.
  const alpha = rgba(48, 48, (x) =>
    x < 16 ? [0, 0, 0, 0] : x < 32 ? [0, 0, 0, 128] : [...GREEN, 255],
  );
  writeFileSync(
    join(root, 'alpha.png'),
    await sharp(alpha, { raw: { width: 48, height: 48, channels: 4 } })
      .png()
      .toBuffer(),
  );
  // 16-bit grey 0xC0C0 = 192 × 257.
  const grey16 = new Uint16Array(12 * 12).fill(0xc0c0);
  const deep = await sharp(grey16, { raw: { width: 12, height: 12, channels: 1 } })
    .toColourspace('grey16')
    .png()
    .toBuffer();
  assert.equal((await sharp(deep).metadata()).depth, 'ushort', 'the test file is 16-bit');
  writeFileSync(join(root, 'grey16.png'), deep);
  writeFileSync(
    join(root, 'cmyk.jpg'),
    await sharp({ create: { width: 16, height: 16, channels: 3, background: '#3080c0' } })
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toBuffer(),
  );
}

test('orientation once, first frame, alpha on white, 16-bit and CMYK: thumbnails and cache agree', async () => {
  assert.equal(BACKGROUND, '#ffffff', 'the documented background is white');
  const root = join(tempDir('pixels'), 'pixels');
  await writeFolder(root);
  const api = openApi();
  try {
    const summary = await api.call<ImportSummary>('dataset.import', {
      paths: [root],
      labels: 'none',
    });
    assert.equal(summary.imported, 6, JSON.stringify(summary.skipped));
    assert.equal(summary.warned, 2, 'each animation is imported with a warning');
    const warnings = api.ws.db
      .prepare("SELECT path, code FROM file_issues WHERE kind = 'warning' ORDER BY path")
      .all();
    assert.deepEqual(warnings, [
      { path: join(root, 'anim.gif'), code: 'animated' },
      { path: join(root, 'anim.png'), code: 'animated' },
    ]);

    const item = (name: string) =>
      api.ws.db
        .prepare('SELECT i.* FROM items i JOIN item_files f ON f.item_id = i.id WHERE f.path = ? ')
        .get(join(root, name)) as {
        width: number;
        height: number;
        channels: number;
        thumb: string;
      };
    const thumb = async (name: string) => {
      const { data, info } = await sharp(api.ws.path(item(name).thumb))
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      return {
        width: info.width,
        height: info.height,
        px: (x: number, y: number): Rgb => {
          const o = (y * info.width + x) * info.channels;
          return [data[o]!, data[o + 1]!, data[o + 2]!];
        },
      };
    };

    // Orientation: the oriented size, and the thumbnail upright (red on top), not turned twice.
    assert.deepEqual([item('oriented.jpg').width, item('oriented.jpg').height], [20, 40]);
    const o = await thumb('oriented.jpg');
    assert.deepEqual([o.width, o.height], [20, 40]);
    near(o.px(10, 5), RED, 40, 'oriented thumbnail, top');
    near(o.px(10, 34), BLUE, 40, 'oriented thumbnail, bottom');
    // Animation: one frame's size, the first frame's colour.
    assert.deepEqual([item('anim.gif').width, item('anim.gif').height], [16, 16]);
    near((await thumb('anim.gif')).px(8, 8), RED, 10, 'animation thumbnail');
    near((await thumb('anim.png')).px(8, 8), RED, 10, 'animated PNG thumbnail');
    // Alpha on white.
    const a = await thumb('alpha.png');
    near(a.px(4, 24), [255, 255, 255], 6, 'transparent → white');
    near(a.px(24, 24), [127, 127, 127], 8, 'half-transparent black → mid grey');
    near(a.px(44, 24), GREEN, 30, 'opaque green');
    // 16-bit grey → 8-bit grey 192, one channel.
    assert.equal(item('grey16.png').channels, 1);
    near((await thumb('grey16.png')).px(6, 6), [192, 192, 192], 2, '16-bit grey');
    near((await thumb('cmyk.jpg')).px(8, 8), [48, 128, 192], 24, 'CMYK → sRGB');

    // The tensor cache of a version, 8×8×3, centre crop.
    const { version } = await api.call<{ version: Version }>('dataset.version.create', {
      dataset: 'pixels',
    });
    const built = await api.call<TensorCacheInfo>('dataset.cache.build', {
      version: version.id,
      size: 8,
      channels: 3,
    });
    const { pixels } = loadTensorCache(built.path);
    const rows = await api.call<{ items: Array<{ path: string }> }>('dataset.version.show', {
      version: version.id,
      limit: 10,
    });
    const cache = (name: string) => {
      const n = rows.items.findIndex((r) => r.path === join(root, name));
      assert.ok(n >= 0, name);
      return (x: number, y: number): Rgb => {
        const at = ((n * 8 + y) * 8 + x) * 3;
        return [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!];
      };
    };
    const oc = cache('oriented.jpg');
    for (const x of [1, 6]) {
      near(oc(x, 1), RED, 40, `cache, oriented, top (${x}, 1)`);
      near(oc(x, 6), BLUE, 40, `cache, oriented, bottom (${x}, 6)`);
    }
    near(cache('anim.gif')(4, 4), RED, 10, 'cache, animation: first frame');
    near(cache('anim.png')(4, 4), RED, 10, 'cache, animated PNG: first frame');
    const ac = cache('alpha.png');
    near(ac(0, 4), [255, 255, 255], 6, 'cache, transparent → white');
    near(ac(4, 4), [127, 127, 127], 10, 'cache, half-transparent black');
    near(ac(7, 4), GREEN, 30, 'cache, opaque green');
    near(cache('grey16.png')(4, 4), [192, 192, 192], 2, 'cache, 16-bit grey');
    near(cache('cmyk.jpg')(4, 4), [48, 128, 192], 24, 'cache, CMYK → sRGB');
  } finally {
    api.ws.close();
  }
});
