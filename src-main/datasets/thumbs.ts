/**
 * Thumbnails: one small image per item (longest side at most 96 px), named by
 * the item's content hash under `<workspace>/thumbs/<first two hex digits>/`,
 * written atomically (temporary file, then rename), so a thumbnail that exists
 * is always whole. Exact duplicates share one thumbnail. Usually a JPEG made
 * from the decoded pixels; an image that is already that small, upright, opaque
 * 8-bit PNG or JPEG is its own thumbnail (its bytes are copied: same pixels,
 * no second encode).
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
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

/** Same as writeFileAtomic, synchronously (for the import child process's many small files). */
export function writeFileAtomicSync(path: string, data: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${counter++}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function thumbRelPath(hash: string, ext: 'jpg' | 'png' = 'jpg'): string {
  return `thumbs/${hash.slice(0, 2)}/${hash}.${ext}`;
}

const madeDirs = new Set<string>();

/** Writes the item's thumbnail unless it exists; returns its path relative to the workspace. */
export async function writeThumbnail(
  workspace: string,
  hash: string,
  pixels: Buffer,
  info: {
    width: number;
    height: number;
    channels: number;
    original?: { bytes: Buffer; format: 'png' | 'jpeg' } | undefined;
  },
): Promise<string> {
  const rel = thumbRelPath(hash, info.original?.format === 'png' ? 'png' : 'jpg');
  const path = join(workspace, rel);
  if (existsSync(path)) return rel;
  const bytes =
    info.original?.bytes ??
    (await sharp(pixels, {
      raw: { width: info.width, height: info.height, channels: info.channels as 1 | 3 | 4 },
    })
      .jpeg({ quality: 80 })
      .toBuffer());
  const dir = join(workspace, 'thumbs', hash.slice(0, 2));
  if (!madeDirs.has(dir)) {
    mkdirSync(dir, { recursive: true });
    madeDirs.add(dir);
  }
  writeFileAtomicSync(path, bytes);
  return rel;
}
