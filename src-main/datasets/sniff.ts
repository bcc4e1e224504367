/**
 * Recognises an image format from the first bytes of a file (its magic
 * number), never from the file name. `decoder` says who decodes it: sharp, our
 * own BMP decoder, or nobody (`unsupported`: a known image format we refuse).
 */
export type Sniffed =
  | { format: 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif'; decoder: 'sharp' }
  | { format: 'bmp'; decoder: 'bmp' }
  | { format: string; decoder: 'unsupported' };

/** The extensions each format is usually saved with, to warn when the name disagrees. */
export const EXTENSIONS: Record<string, readonly string[]> = {
  jpeg: ['jpg', 'jpeg', 'jpe', 'jfif'],
  png: ['png'],
  gif: ['gif'],
  webp: ['webp'],
  tiff: ['tif', 'tiff'],
  avif: ['avif'],
  bmp: ['bmp', 'dib'],
};

function ascii(buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, Math.min(end, buf.length));
}

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

/** ISO base media `ftyp` box: AVIF is decoded, HEIC (HEVC inside) is refused. */
function sniffFtyp(buf: Buffer): Sniffed | undefined {
  if (buf.length < 16 || ascii(buf, 4, 8) !== 'ftyp') return undefined;
  const boxSize = Math.min(buf.readUInt32BE(0), buf.length);
  const brands = [ascii(buf, 8, 12)];
  for (let at = 16; at + 4 <= boxSize; at += 4) brands.push(ascii(buf, at, at + 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return { format: 'avif', decoder: 'sharp' };
  if (brands.some((b) => HEIF_BRANDS.has(b))) return { format: 'heic', decoder: 'unsupported' };
  return undefined;
}

/** Returns the format of `head` (at least the first 64 bytes of a file), or undefined. */
export function sniffFormat(head: Buffer): Sniffed | undefined {
  const b = head;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    return { format: 'jpeg', decoder: 'sharp' };
  }
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) {
    return { format: 'png', decoder: 'sharp' };
  }
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') {
    return { format: 'gif', decoder: 'sharp' };
  }
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') {
    return { format: 'webp', decoder: 'sharp' };
  }
  if (ascii(b, 0, 4) === 'II*\u0000' || ascii(b, 0, 4) === 'MM\u0000*') {
    return { format: 'tiff', decoder: 'sharp' };
  }
  if (ascii(b, 0, 2) === 'BM' && b.length >= 26) return { format: 'bmp', decoder: 'bmp' };
  const ftyp = sniffFtyp(b);
  if (ftyp !== undefined) return ftyp;
  // Image formats we recognise but do not decode: refused as unsupported, not "not an image".
  if (ascii(b, 0, 4) === '8BPS') return { format: 'psd', decoder: 'unsupported' };
  if (b.length >= 4 && b.readUInt32BE(0) === 0x00000100) {
    return { format: 'ico', decoder: 'unsupported' };
  }
  if (ascii(b, 4, 12) === 'jP  \r\n\u0087\n' || ascii(b, 0, 4) === '\u00ffO\u00ffQ') {
    return { format: 'jpeg2000', decoder: 'unsupported' };
  }
  if (ascii(b, 0, 2) === '\u00ff\n' || ascii(b, 4, 8) === 'JXL ') {
    return { format: 'jxl', decoder: 'unsupported' };
  }
  if (/^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/i.test(ascii(b, 0, 256))) {
    return { format: 'svg', decoder: 'unsupported' };
  }
  return undefined;
}
