// Deterministic pseudo-random numbers that are bit-identical on every machine, for sampling plans and permutation nulls.
// Core: xoshiro128** (Blackman & Vigna 2018) on 32-bit integers; seeds are strings/numbers hashed with FNV-1a + murmur3 fmix32.

/** A seeded stream. Every method consumes the stream; the same seed and call sequence give the same values everywhere. */
export interface Prng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform in [0, 1) with 53-bit resolution (multiples of 2^-53); consumes two uint32 draws. */
  nextFloat(): number;
  /** Uniform integer in [0, maxExclusive), no modulo bias; maxExclusive is an integer in [1, 2^53]. */
  nextInt(maxExclusive: number): number;
  /** Standard normal deviate (Marsaglia polar method; the second deviate of each pair is cached). */
  gaussian(): number;
  /** Fisher–Yates shuffle in place (Durstenfeld 1964); returns the same array. */
  shuffle<A extends MutableArrayLike>(array: A): A;
  /** k distinct integers from [0, n), sorted ascending (Floyd's algorithm, Bentley & Floyd 1987). */
  sampleWithoutReplacement(n: number, k: number): number[];
}

/** Anything indexable and writable: plain arrays and typed arrays. */
export interface MutableArrayLike {
  length: number;
  [index: number]: unknown;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_26 = 67108864;
const GOLDEN_RATIO_32 = 0x9e3779b9;
import { fmix32 } from './hash';

const utf8 = new TextEncoder();


/**
 * 32-bit hash of a list of seed parts (FNV-1a over a tagged UTF-8 encoding, then fmix32).
 * Each part is prefixed by its type ('s' string, 'n' number) and followed by 0xFF, a byte that never occurs in UTF-8,
 * so ("ab", "c"), ("a", "bc") and (12) vs ("12") all hash differently. Numbers are encoded by String(n) (-0 as "0").
 */
export function hashSeed(...parts: Array<string | number>): number {
  let hash = 0x811c9dc5;
  const mixByte = (byte: number): void => {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  };
  for (const part of parts) {
    const isNumber = typeof part === 'number';
    mixByte(isNumber ? 0x6e : 0x73);
    const text = isNumber ? (Object.is(part, -0) ? '0' : String(part)) : part;
    for (const byte of utf8.encode(text)) mixByte(byte);
    mixByte(0xff);
  }
  return fmix32(hash);
}

class Xoshiro128StarStar implements Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareGaussian = 0;
  private hasSpareGaussian = false;

  constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    // The all-zero state is the one fixed point of xoshiro; it would emit zeros forever.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = GOLDEN_RATIO_32;
  }

  nextUint32(): number {
    // Reference: https://prng.di.unimi.it/xoshiro128starstar.c; Math.imul and >>> keep it exact 32-bit integer arithmetic.
    const s1 = this.s1;
    const scrambled = Math.imul(s1, 5);
    const result = Math.imul((scrambled << 7) | (scrambled >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform integer in [0, 2^53): 27 high bits of one draw and 26 of the next (the high bits of xoshiro are the best). */
  private nextUint53(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return high * TWO_POW_26 + low;
  }

  nextFloat(): number {
    return this.nextUint53() / TWO_POW_53;
  }

  nextInt(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > TWO_POW_53) {
      throw new RangeError(`nextInt: maxExclusive must be an integer in [1, 2^53], got ${maxExclusive}`);
    }
    if (maxExclusive <= TWO_POW_32) {
      // Rejection of the lowest (2^32 mod max) values makes every residue equally likely (OpenBSD arc4random_uniform).
      const threshold = (TWO_POW_32 - maxExclusive) % maxExclusive;
      for (;;) {
        const draw = this.nextUint32();
        if (draw >= threshold) return draw % maxExclusive;
      }
    }
    // Same idea on 53 bits; all doubles below 2^53 are exact integers, and % on doubles is exact.
    const limit = TWO_POW_53 - (TWO_POW_53 % maxExclusive);
    for (;;) {
      const draw = this.nextUint53();
      if (draw < limit) return draw % maxExclusive;
    }
  }

  gaussian(): number {
    if (this.hasSpareGaussian) {
      this.hasSpareGaussian = false;
      return this.spareGaussian;
    }
    // Marsaglia & Bray 1964 polar method: no trigonometry, only Math.log/Math.sqrt, which V8 computes in software
    // (fdlibm port) and IEEE-exactly respectively, so Node gives the same deviates on every platform.
    for (;;) {
      const u = 2 * this.nextFloat() - 1;
      const v = 2 * this.nextFloat() - 1;
      const radiusSquared = u * u + v * v;
      if (radiusSquared >= 1 || radiusSquared === 0) continue;
      const scale = Math.sqrt((-2 * Math.log(radiusSquared)) / radiusSquared);
      this.spareGaussian = v * scale;
      this.hasSpareGaussian = true;
      return u * scale;
    }
  }

  shuffle<A extends MutableArrayLike>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const held = array[i];
      array[i] = array[j];
      array[j] = held;
    }
    return array;
  }

  sampleWithoutReplacement(n: number, k: number): number[] {
    if (!Number.isInteger(n) || n < 0 || n > TWO_POW_53) throw new RangeError(`sampleWithoutReplacement: bad n ${n}`);
    if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`sampleWithoutReplacement: need 0 <= k <= n, got k=${k}, n=${n}`);
    // Floyd: after step j the chosen set is a uniform k-subset of [0, j]; k draws, O(k) memory, no O(n) array.
    const chosen = new Set<number>();
    for (let j = n - k; j < n; j++) {
      const candidate = this.nextInt(j + 1);
      chosen.add(chosen.has(candidate) ? j : candidate);
    }
    return [...chosen].sort((a, b) => a - b);
  }
}

/** A stream seeded by hashSeed(seed): the state words are fmix32(hash + (k+1)·0x9E3779B9), k = 0..3. */
export function createPrng(seed: string | number): Prng {
  const hash = hashSeed(seed);
  return new Xoshiro128StarStar(
    fmix32(hash + GOLDEN_RATIO_32),
    fmix32(hash + 2 * GOLDEN_RATIO_32),
    fmix32(hash + 3 * GOLDEN_RATIO_32),
    fmix32(hash + 4 * GOLDEN_RATIO_32),
  );
}

/** A stream from an explicit xoshiro128** state (s[0..3] as uint32), to reproduce the reference C implementation. */
export function createPrngFromState(s0: number, s1: number, s2: number, s3: number): Prng {
  return new Xoshiro128StarStar(s0, s1, s2, s3);
}
