/**
 * The studio's one source of randomness: xoshiro128** (Blackman & Vigna), seeded through
 * splitmix32, in plain 32-bit integer JavaScript so that the same seed gives the same
 * stream on every backend and platform. Its whole state (four words plus the spare normal
 * of Box–Muller) is JSON-able, which lets a checkpoint resume a run on the exact next draw.
 */

/** What `getState()` returns and `Rng.fromState()` accepts. */
export interface RngState {
  algorithm: 'xoshiro128**';
  s: [number, number, number, number];
  /** The second normal of the last Box–Muller pair, not yet handed out. */
  spare: number | null;
}

const TWO_POW_32 = 4294967296;

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private s: Uint32Array;
  private spare: number | null = null;

  /** Any integer seed; seeds that differ in any bit give unrelated streams. */
  constructor(seed: number) {
    if (!Number.isFinite(seed))
      throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
    // Fold the high part of seeds above 2^32 into the low word so they still count.
    const hi = Math.floor(seed / TWO_POW_32);
    const next = splitmix32((seed >>> 0) ^ Math.imul(hi >>> 0, 0x27d4eb2d));
    this.s = new Uint32Array([next(), next(), next(), next()]);
    if (this.s.every((w) => w === 0)) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform(); // log(0) would be -Infinity
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** `n` uniforms in [0, 1) as float32 (ready for a tensor). */
  uniformArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform();
    return out;
  }

  /** `n` standard normals as float32. */
  normalArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** Uniform integer in [0, n), without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int needs an integer bound in [1, 2^32], got ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i]!;
      array[i] = array[j]!;
      array[j] = tmp;
    }
    return array;
  }

  /** The full state, JSON-able. */
  getState(): RngState {
    const s = this.s;
    return { algorithm: 'xoshiro128**', s: [s[0]!, s[1]!, s[2]!, s[3]!], spare: this.spare };
  }

  /** A generator that continues exactly where the one that produced `state` was. */
  static fromState(state: RngState): Rng {
    const ok =
      state !== null &&
      typeof state === 'object' &&
      state.algorithm === 'xoshiro128**' &&
      Array.isArray(state.s) &&
      state.s.length === 4 &&
      state.s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
      state.s.some((w) => w !== 0) &&
      (state.spare === null || typeof state.spare === 'number');
    if (!ok) throw new RangeError('Rng.fromState: not a saved xoshiro128** generator state');
    const rng = new Rng(0);
    rng.s = new Uint32Array(state.s);
    rng.spare = state.spare;
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
