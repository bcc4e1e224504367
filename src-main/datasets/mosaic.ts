/**
 * Many small square images of one size resized by one sharp call.
 *
 * A sharp pipeline costs about 0.4 ms of CPU before it touches a pixel, which
 * for a 28×28 image is nearly all of its cost. Here the images are laid out as
 * tiles of one large raw image, each tile surrounded by a margin that repeats
 * its edge pixels, and the whole mosaic is resized once. Every output pixel of
 * libvips' resize depends only on a small neighbourhood of input pixels, and
 * libvips extends a lone image by copying its edges, so a tile's output is the
 * same bytes as that image resized alone when:
 *
 * - the margin covers the resampling kernel (three input pixels at the output
 *   scale, and more when shrinking);
 * - the margin and the tile pitch scale to whole output pixels, so that each
 *   tile is sampled at the same sub-pixel phase as a lone image;
 * - the image shrinks by less than 4×: from there libvips first shrinks by
 *   whole blocks, and blocks straddle tile borders.
 *
 * `mosaicPlan` returns undefined outside these conditions, and the tensor cache
 * compares one tile of every mosaic with the image resized alone, falling back
 * to one call per image if they ever differ.
 */
import sharp from 'sharp';

export interface MosaicPlan {
  /** Side of the square input images, pixels. */
  side: number;
  inChannels: 1 | 3;
  /** Side of the square output images. */
  size: number;
  outChannels: 1 | 3;
  /** Input pixels of repeated edge around each tile. */
  margin: number;
  /** Tiles in one mosaic (a square grid, the last row possibly short). */
  capacity: number;
}

/** Pixels of one mosaic's input, all channels counted once. */
const MOSAIC_PIXELS = 4_000_000;
/** Fewer tiles than this per mosaic save too little to be worth it. */
const MIN_TILES = 16;
const MAX_TILES = 1024;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The mosaic layout for `side`-pixel squares resized to `size`, or undefined. */
export function mosaicPlan(
  side: number,
  inChannels: 1 | 3,
  size: number,
  outChannels: 1 | 3,
): MosaicPlan | undefined {
  if (side === size || side >= 4 * size) return undefined;

  // The margin is a whole multiple of side/gcd, so margin × size / side is whole.
  const unit = side / gcd(side, size);
  const needed = Math.ceil(3 * Math.max(1, side / size)) + 2;
  const margin = unit * Math.ceil(needed / unit);
  if (margin > side) return undefined;
  const pitch = side + 2 * margin;
  const capacity = Math.min(MAX_TILES, Math.floor(MOSAIC_PIXELS / (pitch * pitch)));
  if (capacity < MIN_TILES) return undefined;
  return { side, inChannels, size, outChannels, margin, capacity };
}

/**
 * Resizes `images` (each side×side×inChannels, row-major) with fit 'cover' at
 * the centre, as sharp does alone, and returns them one after another, each
 * size×size×outChannels.
 */
export async function resizeMosaic(plan: MosaicPlan, images: Uint8Array[]): Promise<Buffer> {
  const { side, inChannels: cin, size, outChannels: cout, margin } = plan;
  const pitch = side + 2 * margin;
  const outPitch = (pitch * size) / side;
  const outMargin = (margin * size) / side;
  const cols = Math.ceil(Math.sqrt(images.length));
  const rows = Math.ceil(images.length / cols);

  // Lay out the tiles, each padded with copies of its edge pixels.
  const width = cols * pitch;
  const mosaic = Buffer.alloc(width * rows * pitch * cin);
  for (const [k, image] of images.entries()) {
    const x0 = (k % cols) * pitch;
    const y0 = Math.floor(k / cols) * pitch;
    for (let y = 0; y < pitch; y++) {
      const sy = Math.min(side - 1, Math.max(0, y - margin));
      const src = sy * side * cin;
      const dst = ((y0 + y) * width + x0) * cin;
      const left = image.subarray(src, src + cin);
      const right = image.subarray(src + (side - 1) * cin, src + side * cin);
      for (let x = 0; x < margin; x++) {
        mosaic.set(left, dst + x * cin);
        mosaic.set(right, dst + (margin + side + x) * cin);
      }
      mosaic.set(image.subarray(src, src + side * cin), dst + margin * cin);
    }
  }

  const resized = await sharp(mosaic, { raw: { width, height: rows * pitch, channels: cin } })
    .resize(cols * outPitch, rows * outPitch, { fit: 'cover', position: 'centre' })
    .toColourspace(cout === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const outWidth = resized.info.width;
  if (resized.info.channels !== cout || outWidth !== cols * outPitch) {
    throw new Error(
      `mosaic resize gave ${outWidth} pixels × ${resized.info.channels} channels, expected ${cols * outPitch} × ${cout}`,
    );
  }

  // Cut each tile's centre out.
  const frame = size * size * cout;
  const out = Buffer.allocUnsafe(images.length * frame);
  for (let k = 0; k < images.length; k++) {
    const x0 = (k % cols) * outPitch + outMargin;
    const y0 = Math.floor(k / cols) * outPitch + outMargin;
    for (let y = 0; y < size; y++) {
      const src = ((y0 + y) * outWidth + x0) * cout;
      resized.data.copy(out, k * frame + y * size * cout, src, src + size * cout);
    }
  }
  return out;
}

/** A decoded image: `data` is side×side×channels (or width×height), row-major. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** One image resized alone by sharp from its raw pixels (the reference for mosaics). */
export function resizeAlone(image: RawImage, size: number, channels: 1 | 3): Promise<Buffer> {
  const { width, height } = image;
  return sharp(image.data, { raw: { width, height, channels: image.channels } })
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer();
}

interface Group {
  plan: MosaicPlan;
  images: RawImage[];
  indices: number[];
  /** Set when a mosaic's tile differed from the image alone: resize one by one. */
  alone: boolean;
}

/**
 * Collects images by size and resizes them a mosaic at a time, writing each
 * result with `write(index, pixels)`. A tile of every mosaic is checked against
 * the image resized alone; on any difference (or failure) that mosaic's images
 * are resized one by one, and so is the rest of their group.
 */
export class MosaicQueue {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly size: number,
    private readonly channels: 1 | 3,
    private readonly write: (index: number, pixels: Buffer) => void,
    /** The mosaic resize; replaceable so that tests can show the check at work. */
    private readonly resize = resizeMosaic,
  ) {}

  /** False when the image does not fit a mosaic (resize it alone); otherwise queued. */
  accepts(image: RawImage): boolean {
    if (image.width !== image.height) return false;
    const group = this.group(image);
    return group !== undefined && !group.alone;
  }

  /** Queues an accepted image; resolves once its mosaic, if full now, is written. */
  async add(image: RawImage, index: number): Promise<void> {
    const group = this.group(image)!;
    group.images.push(image);
    group.indices.push(index);
    if (group.images.length >= group.plan.capacity) await this.flush(group);
  }

  /** Resizes whatever is still queued. */
  async finish(): Promise<void> {
    for (const group of this.groups.values()) await this.flush(group);
  }

  private group(image: RawImage): Group | undefined {
    const key = `${image.width}x${image.channels}`;
    let group = this.groups.get(key);
    if (group === undefined) {
      const plan = mosaicPlan(image.width, image.channels, this.size, this.channels);
      if (plan === undefined) return undefined;
      group = { plan, images: [], indices: [], alone: false };
      this.groups.set(key, group);
    }
    return group;
  }

  private async flush(group: Group): Promise<void> {
    // Taken synchronously, so images added while this resizes start a new mosaic.
    const images = group.images.splice(0);
    const indices = group.indices.splice(0);
    if (images.length === 0) return;
    const frame = this.size * this.size * this.channels;
    if (!group.alone) {
      let tiles: Buffer | undefined;
      try {
        tiles = await this.resize(
          group.plan,
          images.map((image) => image.data),
        );
      } catch {
        tiles = undefined;
      }
      const last = images.length - 1;
      if (tiles !== undefined) {
        const check = await resizeAlone(images[last]!, this.size, this.channels);
        if (check.equals(tiles.subarray(last * frame, (last + 1) * frame))) {
          for (const [k, index] of indices.entries()) {
            this.write(index, tiles.subarray(k * frame, (k + 1) * frame));
          }
          return;
        }
      }
      group.alone = true;
    }
    for (const [k, index] of indices.entries()) {
      this.write(index, await resizeAlone(images[k]!, this.size, this.channels));
    }
  }
}
