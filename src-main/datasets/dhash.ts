/**
 * Perceptual hash for near duplicates: the difference hash (dHash). The image
 * is reduced to a 9×8 grey grid by box averaging, and each of the 64 bits says
 * whether a cell is brighter than its right neighbour. Re-encoding, resizing
 * and mild compression keep most bits; different images differ in many.
 */

/** Box-averaged grey grid (sums and pixel counts) of an interleaved 8-bit image. */
function greyGrid(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
  gw: number,
  gh: number,
): { sums: Float64Array; counts: Float64Array } {
  // Integer sums and counts: flat areas compare as exact ties.
  const sums = new Float64Array(gw * gh);
  const counts = new Float64Array(gw * gh);
  for (let cy = 0; cy < gh; cy++) {
    const y0 = Math.min(height - 1, Math.floor((cy * height) / gh));
    const y1 = Math.max(y0 + 1, Math.floor(((cy + 1) * height) / gh));
    for (let cx = 0; cx < gw; cx++) {
      const x0 = Math.min(width - 1, Math.floor((cx * width) / gw));
      const x1 = Math.max(x0 + 1, Math.floor(((cx + 1) * width) / gw));
      let sum = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const o = (y * width + x) * channels;
          sum +=
            channels >= 3
              ? Math.round((299 * data[o]! + 587 * data[o + 1]! + 114 * data[o + 2]!) / 1000)
              : data[o]!;
        }
      }
      sums[cy * gw + cx] = sum;
      counts[cy * gw + cx] = (y1 - y0) * (x1 - x0);
    }
  }
  return { sums, counts };
}

/** dHash of an interleaved 8-bit image (1–4 channels), as 16 hex digits. */
export function dhashFromRgb(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
): string {
  const { sums, counts } = greyGrid(data, width, height, channels, 9, 8);
  let hex = '';
  for (let cy = 0; cy < 8; cy++) {
    let byte = 0;
    for (let cx = 0; cx < 8; cx++) {
      const l = cy * 9 + cx;
      byte = (byte << 1) | (sums[l]! * counts[l + 1]! > sums[l + 1]! * counts[l]! ? 1 : 0);
    }
    hex += byte.toString(16).padStart(2, '0');
  }
  return hex;
}

/** Side of the grey fingerprint that confirms a near duplicate found by dHash. */
export const FINGERPRINT_SIDE = 16;

/** A 16×16 grey thumbnail (256 bytes): compared pixel by pixel to confirm near duplicates. */
export function fingerprintFromRgb(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
): Uint8Array {
  const { sums, counts } = greyGrid(
    data,
    width,
    height,
    channels,
    FINGERPRINT_SIDE,
    FINGERPRINT_SIDE,
  );
  const out = new Uint8Array(FINGERPRINT_SIDE * FINGERPRINT_SIDE);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(sums[i]! / counts[i]!);
  return out;
}

/** Mean absolute difference of two fingerprints, in grey levels (0–255). */
export function fingerprintDistance(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Number of differing bits between two dHashes. */
export function hammingDistance(a: string, b: string): number {
  return (
    popcount32((parseInt(a.slice(0, 8), 16) ^ parseInt(b.slice(0, 8), 16)) >>> 0) +
    popcount32((parseInt(a.slice(8), 16) ^ parseInt(b.slice(8), 16)) >>> 0)
  );
}

/**
 * Two items are near duplicates when their dHashes differ in at most 4 bits AND
 * their 16×16 grey fingerprints differ by at most 6 grey levels on average. The
 * dHash alone is too coarse for small, similar images (every trouser of
 * Fashion-MNIST looks alike at 9×8); the fingerprint check keeps re-encoded,
 * resized or slightly recompressed copies and drops look-alikes.
 */
export const NEAR_DUPLICATE_DISTANCE = 4;
export const NEAR_DUPLICATE_GREY_LEVELS = 6;

// Five bands of the 16 hex digits: two hashes within 4 bits agree on at least one band
// (pigeonhole), so only items sharing a band value are compared.
const BANDS: Array<[number, number]> = [
  [0, 3],
  [3, 6],
  [6, 9],
  [9, 12],
  [12, 16],
];

export interface NearPair {
  a: number;
  b: number;
  distance: number;
}

/**
 * Every pair of items within `maxDistance` bits (at most 4), each pair once,
 * with `a < b`. A band value shared by more than `maxBucket` items (flat or
 * blank images all hash alike) is not expanded pair by pair: those images are
 * near duplicates of nearly everything and flagging them would bury the rest.
 */
export function nearDuplicatePairs(
  items: ReadonlyArray<{ id: number; dhash: string; fingerprint: Uint8Array }>,
  maxDistance = NEAR_DUPLICATE_DISTANCE,
  maxBucket = 500,
): NearPair[] {
  const pairs: NearPair[] = [];
  const words = items.map((it) => [
    parseInt(it.dhash.slice(0, 8), 16) >>> 0,
    parseInt(it.dhash.slice(8), 16) >>> 0,
  ]);
  for (let band = 0; band < BANDS.length; band++) {
    const [from, to] = BANDS[band]!;
    const buckets = new Map<string, number[]>();
    items.forEach((it, i) => {
      const key = it.dhash.slice(from, to);
      const list = buckets.get(key);
      if (list === undefined) buckets.set(key, [i]);
      else list.push(i);
    });
    for (const members of buckets.values()) {
      if (members.length < 2 || members.length > maxBucket) continue;
      for (let x = 0; x < members.length; x++) {
        for (let y = x + 1; y < members.length; y++) {
          const i = members[x]!;
          const j = members[y]!;
          const d =
            popcount32((words[i]![0]! ^ words[j]![0]!) >>> 0) +
            popcount32((words[i]![1]! ^ words[j]![1]!) >>> 0);
          if (d > maxDistance) continue;
          // Report the pair only from the first band on which the two agree.
          const hi = items[i]!.dhash;
          const hj = items[j]!.dhash;
          let earlier = false;
          for (let k = 0; k < band && !earlier; k++) {
            earlier = hi.slice(BANDS[k]![0], BANDS[k]![1]) === hj.slice(BANDS[k]![0], BANDS[k]![1]);
          }
          if (earlier) continue;
          const grey = fingerprintDistance(items[i]!.fingerprint, items[j]!.fingerprint);
          if (grey > NEAR_DUPLICATE_GREY_LEVELS) continue;
          const a = Math.min(items[i]!.id, items[j]!.id);
          const b = Math.max(items[i]!.id, items[j]!.id);
          pairs.push({ a, b, distance: d });
        }
      }
    }
  }
  return pairs;
}
