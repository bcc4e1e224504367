/**
 * Decoding one file, once. The bytes are read once; from them come the content
 * hash, the format (sniffed from the content), the header (oriented size, pixel
 * count checked before any pixel is decoded), and one decode through sharp that
 * gives the thumbnail and the perceptual hash.
 *
 * How pixels are normalised, everywhere in the studio (import and tensor cache):
 * EXIF orientation applied once (`rotate()`), CMYK and other colour spaces
 * converted to sRGB, 16-bit samples reduced to 8-bit, palettes expanded, and
 * alpha composited on WHITE (#ffffff). Animations and multi-page files use
 * their first frame, with a warning.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';

import sharp, { type OutputInfo, type Sharp } from 'sharp';

import { BmpError, decodeBmp, readBmpHeader } from './bmp.ts';
import { dhashFromRgb, fingerprintFromRgb } from './dhash.ts';
import { decodePlainPng, type PlainPng } from './png-fast.ts';
import { EXTENSIONS, sniffFormat, type Sniffed } from './sniff.ts';
import { writeThumbnail } from './thumbs.ts';

export const BACKGROUND = '#ffffff';
/** Default pixel limit per image (frame): 100 megapixels. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export type SkipCode =
  | 'empty_file'
  | 'truncated'
  | 'corrupt'
  | 'not_an_image'
  | 'unsupported_format'
  | 'too_many_pixels'
  | 'permission_denied'
  | 'unreadable_name'
  | 'read_error';

/**
 * What the user can do about each kind of skipped file, appended to the
 * message stored with the file (the message says what is wrong with it).
 */
export const SKIP_ADVICE: Record<SkipCode, string> = {
  empty_file: 'Copy the file again from its source, or delete it.',
  truncated:
    'The file was probably cut short by an interrupted copy or download: copy it again from its source.',
  corrupt: 'Copy the file again from its source, or open and re-save it in an image editor.',
  not_an_image:
    'The studio reads PNG, JPEG, GIF, WebP, TIFF, AVIF and BMP, recognised by content whatever the name. Move this file out of the image folder, or convert it to PNG or JPEG.',
  unsupported_format: 'Convert the file to PNG or JPEG and import again.',
  too_many_pixels:
    'Downscale the image, or raise the pixel limit (`--max-pixels N` on the command line) and import again.',
  permission_denied:
    'Give your user read access (for a folder, read and list access: `chmod a+rX`) and import again.',
  unreadable_name: 'Rename it with a UTF-8 name and import again.',
  read_error: 'Check the disk, share or link, then import again.',
};

/** The stored message of a skipped file: what is wrong, then what to do. */
export function withAdvice(code: SkipCode, message: string): string {
  const advice = SKIP_ADVICE[code];
  return message.endsWith(advice) ? message : `${message} ${advice}`;
}

export class SkipError extends Error {
  constructor(
    readonly code: SkipCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Warning {
  code: 'animated' | 'extension_mismatch';
  message: string;
}

export interface DecodedFacts {
  hash: string;
  format: string;
  width: number;
  height: number;
  channels: 1 | 3;
  bytes: number;
  dhash: string;
  fingerprint: Uint8Array;
  thumb: string;
  warnings: Warning[];
}

export interface DecodeOptions {
  /** Workspace root: thumbnails go to `<root>/thumbs/`. */
  workspace: string;
  maxPixels: number;
  thumbSize: number;
}

const EOF_WORDS = /premature|truncat|end of (file|data|image|stream)|unexpected end|eof|cut short/i;

/**
 * Whether the file stops before its format's end marker: PNG's IEND chunk,
 * JPEG's EOI marker, GIF's trailer byte, WebP's declared RIFF size. Decoder
 * messages alone are not a reliable signal (libvips may report a truncation as
 * a generic warning), so the bytes decide when they can.
 */
export function looksTruncated(buf: Buffer, format: string): boolean | undefined {
  const tail = buf.subarray(Math.max(0, buf.length - 64));
  switch (format) {
    case 'png':
      return tail.lastIndexOf('IEND', undefined, 'latin1') === -1;
    case 'jpeg':
      return tail.lastIndexOf(Buffer.from([0xff, 0xd9])) === -1;
    case 'gif':
      return tail.lastIndexOf(0x3b) === -1;
    case 'webp':
      return buf.length >= 8 && buf.readUInt32LE(4) + 8 > buf.length;
    default:
      return undefined;
  }
}

/**
 * The decoder's own words, when they can be trusted to be about this file:
 * libvips keeps one error buffer per process, so under concurrent decodes a
 * message may name another file's format; the generic failOn sentence says
 * nothing. Returns '' when there is nothing useful to add.
 */
function decoderDetail(format: string, text: string): string {
  const first = text
    .split('\n')[0]!
    .replace(/^Input (buffer|file) has corrupt header: /, '')
    .trim();
  if (first === '' || /warning treated as error/i.test(first)) return '';
  const other = /vipsjpeg|vipspng|gifload|webp|tiff|heif/i.exec(first)?.[0]?.toLowerCase();
  const mine: Record<string, string[]> = {
    jpeg: ['vipsjpeg'],
    png: ['vipspng'],
    gif: ['gifload'],
    webp: ['webp'],
    tiff: ['tiff'],
    avif: ['heif'],
  };
  if (other !== undefined && !(mine[format] ?? []).includes(other)) return '';
  return ` (${first})`;
}

/** Maps a decoder failure on a recognised format to `truncated` or `corrupt`. */
export function decodeFailure(format: string, err: unknown, buf?: Buffer): SkipError {
  if (err instanceof BmpError) return new SkipError(err.code, err.message);
  const text = (err as Error).message ?? String(err);
  if (/pixel limit/i.test(text)) {
    return new SkipError('too_many_pixels', 'The image is larger than the pixel limit.');
  }
  const truncated =
    (buf === undefined ? undefined : looksTruncated(buf, format)) ?? EOF_WORDS.test(text);
  const name = format === 'image' ? 'image' : `${format.toUpperCase()} file`;
  return new SkipError(
    truncated ? 'truncated' : 'corrupt',
    truncated
      ? `The ${name} ends before its image data does.`
      : `The ${name} is damaged${decoderDetail(format, text)}.`,
  );
}

export function readFailure(err: unknown): SkipError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new SkipError('permission_denied', 'The file cannot be read (permission denied).');
  }
  return new SkipError('read_error', `The file cannot be read (${code ?? String(err)}).`);
}

/**
 * Reads a file's bytes, with read failures turned into skip codes. Synchronous
 * on purpose: for the many small files of a dataset it is several times faster
 * than a thread-pool round trip, and it runs in the import child process (or,
 * for the tensor cache, one file at a time between awaits).
 */
export function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw readFailure(err);
  }
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * The frame count of an animated PNG (its `acTL` chunk, before the image data),
 * or 1. libvips reads only the default image of an APNG, which is its first
 * frame, so the count is only needed for the `animated` warning.
 */
export function apngFrames(buf: Buffer): number {
  let at = 8;
  while (at + 12 <= buf.length) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (type === 'acTL' && length >= 8 && at + 12 <= buf.length) return buf.readUInt32BE(at + 8);
    if (type === 'IDAT' || type === 'IEND') return 1;
    at += 12 + length;
  }
  return 1;
}

export interface Header {
  sniffed: Sniffed & { decoder: 'sharp' | 'bmp' };
  width: number;
  height: number;
  pages: number;
  grey: boolean;
  /** True when the file's own bytes can serve as its thumbnail (see thumbs.ts). */
  plain: boolean;
}

/** Sniffs the format and reads the header only; throws SkipError for files we cannot use. */
export async function readHeader(buf: Buffer, maxPixels: number): Promise<Header> {
  if (buf.length === 0) throw new SkipError('empty_file', 'The file is empty (0 bytes).');
  const sniffed = sniffFormat(buf.subarray(0, 512));
  if (sniffed === undefined) {
    throw new SkipError('not_an_image', 'The content is not an image format the studio knows.');
  }
  if (sniffed.decoder === 'unsupported') {
    throw new SkipError(
      'unsupported_format',
      `The content is ${sniffed.format.toUpperCase()}, a format the studio does not decode.`,
    );
  }
  let header: Omit<Header, 'sniffed'>;
  if (sniffed.decoder === 'bmp') {
    let h;
    try {
      h = readBmpHeader(buf);
    } catch (err) {
      throw decodeFailure('bmp', err);
    }
    header = { width: h.width, height: h.height, pages: 1, grey: false, plain: false };
  } else {
    let m;
    try {
      m = await sharp(buf, { limitInputPixels: false }).metadata();
    } catch (err) {
      throw decodeFailure(sniffed.format, err, buf);
    }
    const oriented = m.autoOrient ?? { width: m.width, height: m.height };
    header = {
      width: oriented.width,
      height: oriented.height,
      pages: Math.max(m.pages ?? 1, sniffed.format === 'png' ? apngFrames(buf) : 1),
      grey: m.space === 'b-w' || m.space === 'grey16',
      // Already small, upright, 8-bit sRGB or grey, opaque PNG or JPEG: shown as it is.
      plain:
        (sniffed.format === 'png' || sniffed.format === 'jpeg') &&
        (m.orientation ?? 1) === 1 &&
        (m.space === 'srgb' || m.space === 'b-w') &&
        m.depth === 'uchar' &&
        m.hasAlpha !== true &&
        m.isPalette !== true &&
        (m.pages ?? 1) === 1,
    };
  }
  if (header.width * header.height > maxPixels) {
    throw new SkipError(
      'too_many_pixels',
      `The image is ${header.width}×${header.height} (${((header.width * header.height) / 1e6).toFixed(0)} megapixels), above the limit of ${(maxPixels / 1e6).toFixed(0)} megapixels.`,
    );
  }
  return { sniffed: sniffed as Header['sniffed'], ...header };
}

/**
 * Opens the image for decoding, already normalised (orientation, sRGB, 8-bit,
 * alpha on white, first frame). The caller adds resizing and the output.
 */
export function openImage(buf: Buffer, header: Header, maxPixels: number): Sharp {
  let img: Sharp;
  if (header.sniffed.decoder === 'bmp') {
    const raw = decodeBmp(buf);
    img = sharp(raw.data, {
      raw: { width: raw.width, height: raw.height, channels: raw.channels },
    });
  } else {
    img = sharp(buf, { failOn: 'warning', limitInputPixels: maxPixels, pages: 1, page: 0 });
  }
  return img.rotate().flatten({ background: BACKGROUND }).toColourspace('srgb');
}

function warningsFor(path: string, header: Header): Warning[] {
  const warnings: Warning[] = [];
  if (header.pages > 1) {
    warnings.push({
      code: 'animated',
      message: `The file has ${header.pages} frames or pages; only the first one is used.`,
    });
  }
  const ext = extname(path).slice(1).toLowerCase();
  const usual = EXTENSIONS[header.sniffed.format] ?? [];
  if (ext !== '' && !usual.includes(ext)) {
    warnings.push({
      code: 'extension_mismatch',
      message: `The content is ${header.sniffed.format.toUpperCase()} but the name ends in .${ext}; it was read as ${header.sniffed.format.toUpperCase()}. Rename it to .${usual[0] ?? ext} to avoid confusing other programs.`,
    });
  }
  return warnings;
}

/**
 * A small plain PNG (png-fast.ts), decoded without sharp: it is already upright,
 * opaque, 8-bit and within the thumbnail size, so it is its own thumbnail.
 */
async function plainSmallPng(
  path: string,
  buf: Buffer,
  png: PlainPng,
  opts: DecodeOptions,
): Promise<DecodedFacts> {
  const hash = sha256(buf);
  const { data, width, height, channels } = png;
  const thumb = await writeThumbnail(opts.workspace, hash, data, {
    width,
    height,
    channels,
    original: { bytes: buf, format: 'png' },
  });
  const header: Header = {
    sniffed: { format: 'png', decoder: 'sharp' },
    width,
    height,
    pages: 1,
    grey: channels === 1,
    plain: true,
  };
  return {
    hash,
    format: 'png',
    width,
    height,
    channels,
    bytes: buf.length,
    dhash: dhashFromRgb(data, width, height, channels),
    fingerprint: fingerprintFromRgb(data, width, height, channels),
    thumb,
    warnings: warningsFor(path, header),
  };
}

/** Processes one file for import; throws SkipError with the reason when it cannot be used. */
export async function decodeForImport(
  path: string,
  size: number,
  opts: DecodeOptions,
): Promise<DecodedFacts> {
  if (size === 0) throw new SkipError('empty_file', 'The file is empty (0 bytes).');
  const buf = readBytes(path);
  const plainPng = decodePlainPng(buf, opts.thumbSize);
  if (plainPng !== undefined) return plainSmallPng(path, buf, plainPng, opts);
  const header = await readHeader(buf, opts.maxPixels);
  const hash = sha256(buf);

  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await openImage(buf, header, opts.maxPixels)
      .resize(opts.thumbSize, opts.thumbSize, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw decodeFailure(header.sniffed.format, err, buf);
  }
  const { width, height, channels } = raw.info;
  const dhash = dhashFromRgb(raw.data, width, height, channels);
  const fingerprint = fingerprintFromRgb(raw.data, width, height, channels);
  const small = header.plain && header.width <= opts.thumbSize && header.height <= opts.thumbSize;
  const thumb = await writeThumbnail(opts.workspace, hash, raw.data, {
    width,
    height,
    channels,
    original: small ? { bytes: buf, format: header.sniffed.format as 'png' | 'jpeg' } : undefined,
  });
  return {
    hash,
    format: header.sniffed.format,
    width: header.width,
    height: header.height,
    channels: header.grey ? 1 : 3,
    bytes: buf.length,
    dhash,
    fingerprint,
    thumb,
    warnings: warningsFor(path, header),
  };
}
