/**
 * The tensor cache: a frozen dataset version decoded once, at one resolution
 * and channel count, into a single file that training reads without decoding
 * anything.
 *
 * `<workspace>/cache/v<versionId>_<size>x<size>x<channels>.u8` holds raw uint8
 * pixels, shape [count, size, size, channels], row-major (NHWC), in the
 * version's item order; `….u8.json` beside it describes them (TensorCacheMeta).
 * Both are written atomically (temporary file + rename), pixels first: a
 * sidecar that exists always describes a whole pixel file.
 *
 * Images are decoded from the ORIGINAL files (never from thumbnails) with the
 * import's normalisation (orientation, sRGB, alpha on white, first frame), then
 * resized with fit 'cover' at the centre: the shorter side is scaled to `size`
 * and the longer one cropped evenly. 28×28 data at size 28 passes unchanged.
 * Before decoding, each file's SHA-256 is compared with the one frozen in the
 * version: a file changed on disk after freezing stops the build with an error
 * naming it, unless another file in the catalog has the frozen content (then
 * that one is read: a moved folder imported again keeps old versions buildable).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';

import { cancelled, expected } from '../api/errors.ts';
import type { Split } from '../catalog/datasets.ts';
import { getVersion, versionItems, type VersionItem } from '../catalog/versions.ts';
import type { Workspace } from '../catalog/workspace.ts';
import { decodeFailure, openImage, readBytes, sha256, SkipError, type Header } from './decode.ts';

import { MosaicQueue, resizeAlone } from './mosaic.ts';
import { decodePlainPng, decodePlainPngInto } from './png-fast.ts';
import { sniffFormat } from './sniff.ts';
import { writeFileAtomic } from './thumbs.ts';

export interface TensorCacheMeta {
  format: 1;
  versionId: number;
  versionHash: string;
  count: number;
  size: number;
  channels: 1 | 3;
  classes: string[];
  itemIds: number[];
  /** Index into `classes`, -1 when the item has no label. */
  labels: number[];
  splits: Split[];
}

export interface TensorCacheInfo {
  path: string;
  metaPath: string;
  meta: TensorCacheMeta;
  /** True when an up-to-date cache was found and nothing was decoded. */
  reused: boolean;
  bytes: number;
  seconds: number;
  /** CPU time of this process while building (all threads; 0 when reused). */
  cpuSeconds: number;
}

export interface TensorCacheOptions {
  size: number;
  channels: 1 | 3;
  /** Decodes in flight at once (sharp runs them on its own threads). */
  concurrency?: number;
}

/** Large enough for any image we import, since the cache only resizes. */
const CACHE_MAX_PIXELS = 1_000_000_000;

export function tensorCachePath(
  ws: Pick<Workspace, 'path'>,
  versionId: number,
  size: number,
  channels: number,
): string {
  return ws.path('cache', `v${versionId}_${size}x${size}x${channels}.u8`);
}

/** Reads a cache and its sidecar; pure Node, no catalog needed. */
export function loadTensorCache(path: string): { meta: TensorCacheMeta; pixels: Uint8Array } {
  let meta: TensorCacheMeta;
  try {
    meta = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as TensorCacheMeta;
  } catch (err) {
    throw expected(
      'cache_missing',
      `The tensor cache description ${path}.json cannot be read (${(err as Error).message}). Build the cache again with \`lejepa-studio dataset cache\`.`,
    );
  }
  if (meta.format !== 1) {
    throw expected(
      'cache_format',
      `The tensor cache ${path} has an unknown format ${meta.format}.`,
    );
  }
  const pixels = readFileSync(path);
  const expectedBytes = meta.count * meta.size * meta.size * meta.channels;
  if (pixels.length !== expectedBytes) {
    throw expected(
      'cache_corrupt',
      `The tensor cache ${path} has ${pixels.length} bytes, expected ${expectedBytes} for ${meta.count} images of ${meta.size}×${meta.size}×${meta.channels}. Build it again.`,
    );
  }
  return { meta, pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length) };
}

function upToDate(
  path: string,
  versionHash: string,
  opts: TensorCacheOptions,
): TensorCacheMeta | undefined {
  if (!existsSync(path) || !existsSync(`${path}.json`)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as TensorCacheMeta;
    const bytes = meta.count * meta.size * meta.size * meta.channels;
    if (
      meta.format === 1 &&
      meta.versionHash === versionHash &&
      meta.size === opts.size &&
      meta.channels === opts.channels &&
      statSync(path).size === bytes
    ) {
      return meta;
    }
  } catch {
    // An unreadable sidecar means the cache is rebuilt.
  }
  return undefined;
}

/** Other present files in the catalog with a given content hash, besides `path`. */
type Alternates = (hash: string, path: string) => string[];

/**
 * The frozen bytes of a version item: its recorded file, or, when that is gone
 * or changed, another file in the catalog with the same content hash (an exact
 * copy, or the same folder imported again from where it was moved). The hash
 * decides, so the version's pixels are the frozen ones either way.
 */
function frozenBytes(item: VersionItem, versionNumber: number, alternates: Alternates): Buffer {
  let failure: Error;
  try {
    const buf = readBytes(item.path);
    if (sha256(buf) === item.hash) return buf;
    failure = expected(
      'file_changed',
      `${item.path} changed on disk after version ${versionNumber} was frozen (its content hash differs). Restore the original file, or import the folder again and freeze a new version.`,
    );
  } catch (err) {
    const why = err instanceof SkipError ? err.message : String(err);
    failure = expected(
      'file_missing',
      `${item.path} (in version ${versionNumber}) cannot be read: ${why} Restore the file, or import the folder from where it is now (the version then finds its files by content).`,
    );
  }
  for (const other of alternates(item.hash, item.path)) {
    try {
      const buf = readBytes(other);
      if (sha256(buf) === item.hash) return buf;
    } catch {
      // Not readable either: try the next one.
    }
  }
  throw failure;
}

/**
 * Decodes item `index` into `out`, or hands it to `mosaics` when it is a small
 * plain PNG that can be resized together with others of its size (then true:
 * the queue writes it later).
 */
async function decodeInto(
  item: VersionItem,
  versionNumber: number,
  opts: TensorCacheOptions,
  out: Buffer,
  index: number,
  alternates: Alternates,
  mosaics: MosaicQueue,
): Promise<boolean> {
  const frame = opts.size * opts.size * opts.channels;
  const buf = frozenBytes(item, versionNumber, alternates);
  if (decodePlainPngInto(buf, opts.size, opts.channels, out, index * frame)) return false;
  const png = decodePlainPng(buf, PLAIN_PNG_MAX_SIDE);
  if (png !== undefined && mosaics.accepts(png)) {
    await mosaics.add(png, index);
    return true;
  }
  let pixels: Buffer;
  try {
    pixels =
      png !== undefined
        ? await resizeAlone(png, opts.size, opts.channels)
        : await viaSharp(buf, opts);
  } catch (err) {
    const skip = err instanceof SkipError ? err : decodeFailure('image', err);
    throw expected('decode_failed', `${item.path} cannot be decoded: ${skip.message}`);
  }
  if (pixels.length !== frame) {
    throw expected(
      'decode_failed',
      `${item.path} decoded to ${pixels.length} bytes, expected ${frame} (${opts.size}×${opts.size}×${opts.channels}).`,
    );
  }
  pixels.copy(out, index * frame);
  return false;
}

/** Any image through the import's sharp pipeline, resized for the cache. */
async function viaSharp(buf: Buffer, opts: TensorCacheOptions): Promise<Buffer> {
  // The file was checked at import and its hash matches: no header pass needed.
  const sniffed = sniffFormat(buf.subarray(0, 512));
  if (sniffed === undefined || sniffed.decoder === 'unsupported') {
    throw new SkipError('not_an_image', 'The content is not a supported image.');
  }
  const header: Header = { sniffed, width: 0, height: 0, pages: 1, grey: false, plain: false };
  return openImage(buf, header, CACHE_MAX_PIXELS)
    .resize(opts.size, opts.size, { fit: 'cover', position: 'centre' })
    .toColourspace(opts.channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer();
}

/** Plain PNGs up to this side are decoded by png-fast.ts; larger ones by sharp. */
const PLAIN_PNG_MAX_SIDE = 512;

/**
 * A small plain PNG (png-fast.ts) of another size than the cache's, decoded here and
 * resized by sharp from its raw pixels: the same bytes as the whole sharp pipeline (a
 * plain PNG needs no rotation, flattening or colour conversion), without libvips
 * opening the file, which is most of the cost for images this small. Undefined when
 * the file is not such a PNG.
 */
export async function resizePlainPng(
  buf: Buffer,
  size: number,
  channels: 1 | 3,
): Promise<Buffer | undefined> {
  const png = decodePlainPng(buf, PLAIN_PNG_MAX_SIDE);
  return png === undefined ? undefined : resizeAlone(png, size, channels);
}

/**
 * Builds (or reuses, when up to date) the tensor cache of a version.
 * `onProgress(done, total)` is called every few hundred images.
 */
export async function buildTensorCache(
  ws: Workspace,
  versionId: number,
  opts: TensorCacheOptions,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<TensorCacheInfo> {
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  if (!Number.isInteger(opts.size) || opts.size < 8 || opts.size > 1024) {
    throw expected(
      'invalid_size',
      `The cache size must be a whole number from 8 to 1024, got ${opts.size}.`,
    );
  }
  const version = getVersion(ws.db, versionId);
  if (version === undefined) {
    throw expected('version_not_found', `There is no dataset version with id ${versionId}.`);
  }
  const path = tensorCachePath(ws, versionId, opts.size, opts.channels);
  const metaPath = `${path}.json`;
  const reusable = upToDate(path, version.contentHash, opts);
  if (reusable !== undefined) {
    return {
      path,
      metaPath,
      meta: reusable,
      reused: true,
      bytes: statSync(path).size,
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: 0,
    };
  }

  const items = versionItems(ws.db, versionId);
  const others = ws.db
    .prepare(
      `SELECT DISTINCT f.path FROM item_files f JOIN items i ON i.id = f.item_id
       WHERE i.hash = ? AND f.present = 1 AND f.path != ?`,
    )
    .pluck();
  const alternates: Alternates = (hash, path) => others.all(hash, path) as string[];
  const frame = opts.size * opts.size * opts.channels;
  const out = Buffer.allocUnsafe(items.length * frame);
  let next = 0;
  let done = 0;
  let reported = 0;
  const progress = (count: number) => {
    done += count;
    if (onProgress !== undefined && (done - reported >= 500 || done === items.length)) {
      reported = done;
      onProgress(done, items.length);
    }
  };
  const mosaics = new MosaicQueue(opts.size, opts.channels, (index, pixels) => {
    pixels.copy(out, index * frame);
    progress(1);
  });
  const lane = async () => {
    while (next < items.length) {
      if (signal?.aborted === true) throw cancelled('Building the tensor cache');
      const i = next++;
      const queued = await decodeInto(items[i]!, version.number, opts, out, i, alternates, mosaics);
      if (!queued) progress(1);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, lane));
  await mosaics.finish();

  const classIndex = new Map(version.classes.map((c, i) => [c, i]));
  const meta: TensorCacheMeta = {
    format: 1,
    versionId,
    versionHash: version.contentHash,
    count: items.length,
    size: opts.size,
    channels: opts.channels,
    classes: version.classes,
    itemIds: items.map((it) => it.itemId),
    labels: items.map((it) => (it.label === null ? -1 : classIndex.get(it.label)!)),
    splits: items.map((it) => it.split),
  };
  // The old sidecar goes first, so a crash between the two renames never pairs
  // new pixels with an old description.
  await rm(metaPath, { force: true });
  await writeFileAtomic(path, out);
  await writeFileAtomic(metaPath, Buffer.from(JSON.stringify(meta)));
  return {
    path,
    metaPath,
    meta,
    reused: false,
    bytes: out.length,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (() => {
      const cpu = process.cpuUsage(cpuStart);
      return (cpu.user + cpu.system) / 1e6;
    })(),
  };
}
