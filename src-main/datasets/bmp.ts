/**
 * A small decoder for Windows BMP files, which sharp does not read. It handles
 * the uncompressed variants (1, 4, 8 bits with a palette; 16, 24, 32 bits,
 * with or without bit-field masks; bottom-up and top-down rows). Run-length
 * and embedded JPEG/PNG compression are refused as `unsupported_format`.
 */
export class BmpError extends Error {
  constructor(
    readonly code: 'truncated' | 'unsupported_format' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

export interface BmpHeader {
  width: number;
  height: number;
  topDown: boolean;
  bpp: number;
  compression: number;
  dataOffset: number;
  dibSize: number;
}

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Reads the dimensions and layout from the header only (for the pixel limit). */
export function readBmpHeader(buf: Buffer): BmpHeader {
  if (buf.length < 26) throw new BmpError('truncated', 'The BMP header is cut short.');
  const dataOffset = buf.readUInt32LE(10);
  const dibSize = buf.readUInt32LE(14);
  if (dibSize === 12) {
    return {
      width: buf.readUInt16LE(18),
      height: buf.readUInt16LE(20),
      topDown: false,
      bpp: buf.readUInt16LE(24),
      compression: 0,
      dataOffset,
      dibSize,
    };
  }
  if (dibSize < 40) throw new BmpError('corrupt', `Unknown BMP header size ${dibSize}.`);
  if (buf.length < 54) throw new BmpError('truncated', 'The BMP header is cut short.');
  const rawHeight = buf.readInt32LE(22);
  return {
    width: buf.readInt32LE(18),
    height: Math.abs(rawHeight),
    topDown: rawHeight < 0,
    bpp: buf.readUInt16LE(28),
    compression: buf.readUInt32LE(30),
    dataOffset,
    dibSize,
  };
}

/** Where a mask's bits sit and how wide they are, to scale any field to 0..255. */
function maskReader(mask: number): (v: number) => number {
  if (mask === 0) return () => 255;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return (v) => Math.round((((v & mask) >>> shift) * 255) / max);
}

function readMasks(buf: Buffer, h: BmpHeader): [number, number, number, number] {
  if (h.compression === 3 || h.compression === 6) {
    const at = 54;
    const alpha = h.dibSize >= 56 || h.compression === 6 ? buf.readUInt32LE(at + 12) : 0;
    return [buf.readUInt32LE(at), buf.readUInt32LE(at + 4), buf.readUInt32LE(at + 8), alpha];
  }
  if (h.bpp === 16) return [0x7c00, 0x03e0, 0x001f, 0];
  return [0x00ff0000, 0x0000ff00, 0x000000ff, 0];
}

/** Decodes the whole image to 8-bit RGB or RGBA, rows top to bottom. */
export function decodeBmp(buf: Buffer): RawImage {
  const h = readBmpHeader(buf);
  const { width, height, bpp } = h;
  if (width <= 0 || height <= 0) throw new BmpError('corrupt', 'The BMP has no pixels.');
  if (h.compression !== 0 && h.compression !== 3 && h.compression !== 6) {
    throw new BmpError(
      'unsupported_format',
      `BMP compression ${h.compression} (run-length or embedded) is not supported.`,
    );
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) {
    throw new BmpError('unsupported_format', `BMP with ${bpp} bits per pixel is not supported.`);
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (h.dataOffset + stride * height > buf.length) {
    throw new BmpError('truncated', 'The BMP pixel data is cut short.');
  }

  let palette: Buffer | undefined;
  if (bpp <= 8) {
    const entry = h.dibSize === 12 ? 3 : 4;
    const start = 14 + h.dibSize + (h.compression === 3 && h.dibSize === 40 ? 12 : 0);
    const colors = Math.min(1 << bpp, Math.floor((h.dataOffset - start) / entry));
    palette = Buffer.alloc((1 << bpp) * 3);
    for (let i = 0; i < colors; i++) {
      palette[i * 3] = buf[start + i * entry + 2]!;
      palette[i * 3 + 1] = buf[start + i * entry + 1]!;
      palette[i * 3 + 2] = buf[start + i * entry]!;
    }
  }
  const [rm, gm, bm, am] = readMasks(buf, h);
  const [r, g, b, a] = [maskReader(rm), maskReader(gm), maskReader(bm), maskReader(am)];
  const channels = am !== 0 ? 4 : 3;
  const out = Buffer.alloc(width * height * channels);

  for (let y = 0; y < height; y++) {
    const row = h.dataOffset + (h.topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      if (palette !== undefined) {
        const bitPos = x * bpp;
        const byte = buf[row + (bitPos >> 3)]!;
        const index = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        out[o] = palette[index * 3]!;
        out[o + 1] = palette[index * 3 + 1]!;
        out[o + 2] = palette[index * 3 + 2]!;
      } else if (bpp === 24 && h.compression === 0) {
        out[o] = buf[row + x * 3 + 2]!;
        out[o + 1] = buf[row + x * 3 + 1]!;
        out[o + 2] = buf[row + x * 3]!;
      } else {
        const v = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4);
        out[o] = r(v);
        out[o + 1] = g(v);
        out[o + 2] = b(v);
      }
      if (channels === 4) {
        out[o + 3] = a(bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4));
      }
    }
  }
  return { data: out, width, height, channels };
}
