/**
 * Builds awkward image folders for the dataset tests, with sharp and raw bytes
 * (nothing downloaded). Each file's expected outcome is returned beside it.
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

import sharp, { type Sharp } from 'sharp';

export type Expected =
  | { outcome: 'imported'; label: string | null; warnings?: string[] }
  | { outcome: 'skipped'; code: string };

/** A noise image that differs with `seed` (so files are distinct). */
export function noise(width: number, height: number, seed: number, channels: 3 | 4 = 3): Sharp {
  const data = Buffer.alloc(width * height * channels);
  let x = seed * 2654435761;
  for (let i = 0; i < data.length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    data[i] = x & 0xff;
  }
  return sharp(data, { raw: { width, height, channels } });
}

/** A smooth picture (gradient + disc) that survives re-encoding, so near duplicates are found. */
export function picture(width: number, height: number, seed: number): Sharp {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const inDisc = (x - width / 3) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2;
      data[o] = inDisc ? 230 : (x * 255) / width;
      data[o + 1] = (y * 255) / height;
      data[o + 2] = (seed * 40) % 256;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

/** A 24-bit bottom-up BMP of the given RGB pixels, rows padded to 4 bytes. */
export function bmp24(width: number, height: number, rgb: Uint8Array): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + stride * height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      buf[row + x * 3] = rgb[i + 2]!;
      buf[row + x * 3 + 1] = rgb[i + 1]!;
      buf[row + x * 3 + 2] = rgb[i]!;
    }
  }
  return buf;
}

/** A PNG whose header claims `width`×`height` (CRC fixed), with a tiny body: for the pixel limit. */
export async function hugePngHeader(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await noise(1, 1, 1).png().toBuffer());
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/** The start of an HEIC file: an `ftyp` box with the heic brand, then filler. */
export function heicBytes(): Buffer {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypheic', 4, 'latin1');
  ftyp.write('mif1heic', 16, 'latin1');
  return Buffer.concat([ftyp, Buffer.alloc(200, 7)]);
}

export interface Corpus {
  root: string;
  /** Expected outcome by path relative to the root. */
  expected: Map<string, Expected>;
  /** Paths (relative) of the locked file, when the test can make one. */
  lockedRel: string;
  ignored: Record<string, number>;
}

/** Writes the awkward corpus under `root` (see the list in dataset import tests). */
export async function writeAwkwardCorpus(root: string): Promise<Corpus> {
  const expected = new Map<string, Expected>();
  const put = async (rel: string, bytes: Buffer | Uint8Array, e: Expected) => {
    const path = join(root, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, bytes);
    expected.set(rel, e);
  };
  const cat = (warnings?: string[]): Expected => ({ outcome: 'imported', label: 'cat', warnings });

  const plain = await picture(64, 48, 1).png().toBuffer();
  await put('cat/plain.png', plain, cat());
  await put('cat/photo.jpg', await noise(50, 40, 2).jpeg().toBuffer(), cat());
  await put('cat/naïve café ünïcode 猫.png', await noise(20, 20, 3).png().toBuffer(), cat());
  await put('cat/with space +#%&.png', await noise(21, 20, 4).png().toBuffer(), cat());
  await put(
    'cat/png-named.jpg',
    await noise(22, 20, 5).png().toBuffer(),
    cat(['extension_mismatch']),
  );
  await put(
    'cat/rotated.jpg',
    await noise(60, 40, 6).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    cat(),
  );
  await put(
    'cat/cmyk.jpg',
    await sharp({ create: { width: 30, height: 30, channels: 3, background: '#3080c0' } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer(),
    cat(),
  );
  await put(
    'cat/deep16.png',
    await sharp({ create: { width: 24, height: 24, channels: 3, background: '#808080' } })
      .toColourspace('rgb16')
      .png()
      .toBuffer(),
    cat(),
  );
  // Left half fully transparent, right half opaque blue, stored with a palette.
  const rgba = Buffer.alloc(32 * 32 * 4);
  for (let i = 0; i < 32 * 32; i++) {
    if (i % 32 >= 16) rgba.set([0, 0, 255, 255], i * 4);
  }
  await put(
    'cat/palette-alpha.png',
    await sharp(rgba, { raw: { width: 32, height: 32, channels: 4 } })
      .png({ palette: true })
      .toBuffer(),
    cat(),
  );
  const frames = Buffer.concat([Buffer.alloc(16 * 16 * 4, 255), Buffer.alloc(16 * 16 * 4, 80)]);
  await put(
    'cat/anim.gif',
    await sharp(frames, { raw: { width: 16, height: 32, channels: 4, pageHeight: 16 } })
      .gif()
      .toBuffer(),
    cat(['animated']),
  );
  const bmpPixels = new Uint8Array(5 * 3 * 3).map((_, i) => (i * 17) % 256);
  await put('cat/image.bmp', bmp24(5, 3, bmpPixels), cat());
  const rle = bmp24(4, 4, new Uint8Array(48));
  rle.writeUInt32LE(1, 30);
  await put('cat/rle.bmp', rle, { outcome: 'skipped', code: 'unsupported_format' });
  await put('cat/photo.heic', heicBytes(), { outcome: 'skipped', code: 'unsupported_format' });
  await put('cat/empty.png', Buffer.alloc(0), { outcome: 'skipped', code: 'empty_file' });
  const jpg = await noise(64, 64, 8).jpeg().toBuffer();
  await put('cat/truncated.jpg', jpg.subarray(0, jpg.length >> 1), {
    outcome: 'skipped',
    code: 'truncated',
  });
  const png = await noise(64, 64, 9).png().toBuffer();
  await put('cat/truncated.png', png.subarray(0, png.length >> 1), {
    outcome: 'skipped',
    code: 'truncated',
  });
  await put('cat/notes.jpg', Buffer.from('these are not pixels\n'), {
    outcome: 'skipped',
    code: 'not_an_image',
  });
  await put('cat/huge.png', await hugePngHeader(20000, 20000), {
    outcome: 'skipped',
    code: 'too_many_pixels',
  });
  await put('cat/locked.png', await noise(10, 10, 10).png().toBuffer(), {
    outcome: 'skipped',
    code: 'permission_denied',
  });
  chmodSync(join(root, 'cat/locked.png'), 0o000);
  // A name that is not valid UTF-8 (byte 0xff), written through a Buffer path.
  writeFileSync(
    Buffer.concat([
      Buffer.from(join(root, 'cat', 'bad-')),
      Buffer.from([0xff]),
      Buffer.from('.png'),
    ]),
    await noise(10, 10, 11).png().toBuffer(),
  );
  expected.set('cat/bad-\ufffd.png', { outcome: 'skipped', code: 'unreadable_name' });

  // An exact copy under another class (label conflict) and a re-encoded copy (near duplicate).
  await put('dog/copy-of-plain.png', plain, { outcome: 'imported', label: 'dog' });
  await put('dog/reencoded.jpg', await sharp(plain).jpeg({ quality: 92 }).toBuffer(), {
    outcome: 'imported',
    label: 'dog',
  });
  await put('dog/other.png', await noise(30, 30, 12).png().toBuffer(), {
    outcome: 'imported',
    label: 'dog',
  });
  mkdirSync(join(root, 'empty-class'));

  // Ignored: OS debris, hidden things, symlink loops, notes.
  for (const name of ['._photo.jpg', '.DS_Store', 'Thumbs.db', 'desktop.ini']) {
    writeFileSync(join(root, 'cat', name), 'debris');
  }
  mkdirSync(join(root, '.hidden'));
  writeFileSync(join(root, '.hidden', 'x.png'), await noise(10, 10, 13).png().toBuffer());
  writeFileSync(join(root, 'dog', '.secret.png'), await noise(10, 10, 14).png().toBuffer());
  symlinkSync('..', join(root, 'dog', 'loop'));
  symlinkSync('self', join(root, 'dog', 'self'));
  writeFileSync(join(root, 'README.md'), '# my images\n');
  return {
    root,
    expected,
    lockedRel: 'cat/locked.png',
    ignored: { os_debris: 4, hidden: 2, symlink_loop: 2, not_a_file: 0, notes: 1, workspace: 0 },
  };
}
