/**
 * Fashion-MNIST (Zalando SE, MIT licence) from the IDX files that Debian's
 * `dataset-fashion-mnist` package installs, written out as an image folder
 * `<dir>/{train,test}/<class>/<index>.png` (28×28 greyscale PNG), which the
 * studio then imports like any lab folder. `<index>` is the image's position
 * in its IDX file, so a file can be traced back to the original data.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import sharp from 'sharp';

import { expected } from '../api/errors.ts';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Folder names for the ten classes, in label order ("T-shirt/top" has no slash here). */
export const FASHION_MNIST_CLASSES = [
  't-shirt-top',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle-boot',
] as const;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Buffer;
}

function readGz(path: string): Buffer {
  if (!existsSync(path)) {
    throw expected(
      'fashion_mnist_missing',
      `${path} is missing. Install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist).`,
    );
  }
  return gunzipSync(readFileSync(path));
}

/** Reads an IDX3 image file (magic 0x00000803): [count, rows, cols] uint8. */
export function readIdxImages(path: string): IdxImages {
  const buf = readGz(path);
  if (buf.readUInt32BE(0) !== 0x803)
    throw expected('idx_invalid', `${path} is not an IDX image file.`);
  const count = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  return { count, rows, cols, pixels: buf.subarray(16, 16 + count * rows * cols) };
}

/** Reads an IDX1 label file (magic 0x00000801). */
export function readIdxLabels(path: string): Uint8Array {
  const buf = readGz(path);
  if (buf.readUInt32BE(0) !== 0x801)
    throw expected('idx_invalid', `${path} is not an IDX label file.`);
  return buf.subarray(8, 8 + buf.readUInt32BE(4));
}

export interface ExportOptions {
  /** Source folder of the IDX .gz files. */
  source?: string;
  /** Keep only the first N images of each class in file order (default: all). */
  perClass?: { train?: number; test?: number };
  onProgress?: (done: number, total: number) => void;
}

/** Writes Fashion-MNIST as PNG files under `dir`; returns the number of files per split. */
export async function exportFashionMnist(
  dir: string,
  options: ExportOptions = {},
): Promise<{ train: number; test: number }> {
  const source = options.source ?? FASHION_MNIST_DIR;
  const parts = [
    { split: 'train' as const, prefix: 'train', limit: options.perClass?.train },
    { split: 'test' as const, prefix: 't10k', limit: options.perClass?.test },
  ];
  const chosen: Array<{
    split: 'train' | 'test';
    images: IdxImages;
    picks: Array<[number, number]>;
  }> = [];
  for (const p of parts) {
    const images = readIdxImages(join(source, `${p.prefix}-images-idx3-ubyte.gz`));
    const labels = readIdxLabels(join(source, `${p.prefix}-labels-idx1-ubyte.gz`));
    const taken = new Array<number>(FASHION_MNIST_CLASSES.length).fill(0);
    const picks: Array<[number, number]> = [];
    for (let i = 0; i < images.count; i++) {
      const label = labels[i]!;
      if (p.limit !== undefined && taken[label]! >= p.limit) continue;
      taken[label]!++;
      picks.push([i, label]);
    }
    for (const c of FASHION_MNIST_CLASSES) mkdirSync(join(dir, p.split, c), { recursive: true });
    chosen.push({ split: p.split, images, picks });
  }
  const total = chosen.reduce((n, c) => n + c.picks.length, 0);
  let done = 0;
  for (const { split, images, picks } of chosen) {
    const frame = images.rows * images.cols;
    let next = 0;
    const lane = async () => {
      while (next < picks.length) {
        const [i, label] = picks[next++]!;
        const raw = images.pixels.subarray(i * frame, (i + 1) * frame);
        await sharp(raw, { raw: { width: images.cols, height: images.rows, channels: 1 } })
          .toColourspace('b-w')
          .png({ compressionLevel: 9 })
          .toFile(join(dir, split, FASHION_MNIST_CLASSES[label]!, `${i}.png`));
        done++;
        if (options.onProgress !== undefined && done % 1000 === 0) options.onProgress(done, total);
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
  }
  return {
    train: chosen[0]!.picks.length,
    test: chosen[1]!.picks.length,
  };
}
