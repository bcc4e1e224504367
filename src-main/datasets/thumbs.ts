/**
 * Thumbnails: one small JPEG per item (longest side at most 96 px), named by
 * the item's content hash under `<workspace>/thumbs/<first two hex digits>/`,
 * written atomically (temporary file, then rename), so a thumbnail that exists
 * is always whole. Exact duplicates share one thumbnail.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';

export const THUMB_SIZE = 96;

let counter = 0;

/** Writes `data` (or any bytes) to `path` through a temporary file in the same folder. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${counter++}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function thumbRelPath(hash: string): string {
  return `thumbs/${hash.slice(0, 2)}/${hash}.jpg`;
}

/** Encodes raw 8-bit pixels as the item's thumbnail unless it exists; returns its relative path. */
export async function writeThumbnail(
  workspace: string,
  hash: string,
  pixels: Buffer,
  info: { width: number; height: number; channels: number },
): Promise<string> {
  const rel = thumbRelPath(hash);
  const path = join(workspace, rel);
  if (existsSync(path)) return rel;
  const jpeg = await sharp(pixels, {
    raw: { width: info.width, height: info.height, channels: info.channels as 1 | 3 | 4 },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
  await mkdir(join(workspace, 'thumbs', hash.slice(0, 2)), { recursive: true });
  await writeFileAtomic(path, jpeg);
  return rel;
}
