/**
 * A fast path for the tensor cache: plain 8-bit greyscale or RGB PNG files
 * that are already the cache's size (Fashion-MNIST at 28×28 is the common
 * case) are inflated and unfiltered here, which costs a few microseconds where
 * a sharp pipeline costs half a millisecond. Anything else (other bit depths,
 * palettes, alpha or tRNS transparency, interlacing, colour profiles, gamma,
 * EXIF, another size) returns undefined and goes through sharp as usual, so
 * the pixels are the same either way (a test compares both paths).
 */
import { inflateSync } from 'node:zlib';

const SIGNATURE = 0x89504e47;
/** Chunks that change how pixels should be read: their presence sends the file to sharp. */
const DECLINE = new Set(['tRNS', 'iCCP', 'gAMA', 'cHRM', 'eXIf', 'sBIT', 'PLTE']);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes `buf` into `out` at `offset` as size×size×channels uint8 when it is a
 * plain PNG of exactly that size whose colour type matches (grey for 1
 * channel; grey or RGB for 3). Returns false when it does not apply.
 */
export function decodePlainPngInto(
  buf: Buffer,
  size: number,
  channels: 1 | 3,
  out: Buffer,
  offset: number,
): boolean {
  if (buf.length < 33 || buf.readUInt32BE(0) !== SIGNATURE) return false;
  if (buf.toString('latin1', 12, 16) !== 'IHDR') return false;
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const depth = buf[24];
  const colour = buf[25];
  const interlace = buf[28];
  if (width !== size || height !== size || depth !== 8 || interlace !== 0) return false;
  const srcChannels = colour === 0 ? 1 : colour === 2 ? 3 : 0;
  if (srcChannels === 0 || (channels === 1 && srcChannels === 3)) return false;

  const idat: Buffer[] = [];
  let at = 8;
  while (at + 12 <= buf.length) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (DECLINE.has(type)) return false;
    if (type === 'IDAT') idat.push(buf.subarray(at + 8, at + 8 + length));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    return false;
  }
  const stride = width * srcChannels;
  if (raw.length < (stride + 1) * height) return false;

  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= srcChannels ? rows[dst + x - srcChannels]! : 0;
      const b = y > 0 ? rows[dst - stride + x]! : 0;
      const c = x >= srcChannels && y > 0 ? rows[dst - stride + x - srcChannels]! : 0;
      const v = raw[src + x]!;
      let value: number;
      if (filter === 0) value = v;
      else if (filter === 1) value = v + a;
      else if (filter === 2) value = v + b;
      else if (filter === 3) value = v + ((a + b) >> 1);
      else if (filter === 4) value = v + paeth(a, b, c);
      else return false;
      rows[dst + x] = value & 0xff;
    }
  }
  if (channels === srcChannels) {
    rows.copy(out, offset);
  } else {
    // Grey to RGB: the same value in the three channels.
    for (let i = 0; i < width * height; i++) {
      const g = rows[i]!;
      out[offset + i * 3] = g;
      out[offset + i * 3 + 1] = g;
      out[offset + i * 3 + 2] = g;
    }
  }
  return true;
}
