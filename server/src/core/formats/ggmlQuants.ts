// ggml block-quantized tensor types (GGUF): block layouts and dequantization to Float32.
// Layouts and bit packing follow ggml's `ggml-common.h` / `ggml-quants.c`; codecs decode whole blocks only.
import { f16ToNumber } from './floats';

/**
 * Every ggml block type a GGUF file can name. Types listed here but absent from
 * GGML_BLOCK_CODECS parse (their byte layout is known) but cannot be decoded.
 * `GGML_UNKNOWN` stands for a ggml type id this code does not know at all (no layout).
 */
export type BlockDType =
  | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q8_1'
  | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'Q8_K'
  | 'IQ2_XXS' | 'IQ2_XS' | 'IQ2_S' | 'IQ3_XXS' | 'IQ3_S' | 'IQ1_S' | 'IQ1_M' | 'IQ4_NL' | 'IQ4_XS'
  | 'TQ1_0' | 'TQ2_0' | 'MXFP4'
  // Interleaved repacks that older llama.cpp builds wrote into files (ids 31..33, 36..38).
  | 'Q4_0_4_4' | 'Q4_0_4_8' | 'Q4_0_8_8' | 'IQ4_NL_4_4' | 'IQ4_NL_4_8' | 'IQ4_NL_8_8'
  | 'GGML_UNKNOWN';

export interface BlockLayout {
  blockElements: number;
  blockBytes: number;
}

export interface BlockCodec extends BlockLayout {
  /** Decodes bytes (a whole number of blocks) into out (blockElements per block). */
  decode(bytes: Uint8Array, out: Float32Array): void;
}

/** QK_K: elements per K-quant super-block. */
const QK_K = 256;

/** Byte layout of every known block type (ggml's blck_size and type_size), decodable or not. */
export const GGML_BLOCK_LAYOUTS: Readonly<Record<Exclude<BlockDType, 'GGML_UNKNOWN'>, BlockLayout>> = {
  Q4_0: { blockElements: 32, blockBytes: 18 },
  Q4_1: { blockElements: 32, blockBytes: 20 },
  Q5_0: { blockElements: 32, blockBytes: 22 },
  Q5_1: { blockElements: 32, blockBytes: 24 },
  Q8_0: { blockElements: 32, blockBytes: 34 },
  Q8_1: { blockElements: 32, blockBytes: 36 },
  Q2_K: { blockElements: QK_K, blockBytes: 84 },
  Q3_K: { blockElements: QK_K, blockBytes: 110 },
  Q4_K: { blockElements: QK_K, blockBytes: 144 },
  Q5_K: { blockElements: QK_K, blockBytes: 176 },
  Q6_K: { blockElements: QK_K, blockBytes: 210 },
  Q8_K: { blockElements: QK_K, blockBytes: 292 },
  IQ2_XXS: { blockElements: QK_K, blockBytes: 66 },
  IQ2_XS: { blockElements: QK_K, blockBytes: 74 },
  IQ2_S: { blockElements: QK_K, blockBytes: 82 },
  IQ3_XXS: { blockElements: QK_K, blockBytes: 98 },
  IQ3_S: { blockElements: QK_K, blockBytes: 110 },
  IQ1_S: { blockElements: QK_K, blockBytes: 50 },
  IQ1_M: { blockElements: QK_K, blockBytes: 56 },
  IQ4_NL: { blockElements: 32, blockBytes: 18 },
  IQ4_XS: { blockElements: QK_K, blockBytes: 136 },
  TQ1_0: { blockElements: QK_K, blockBytes: 54 },
  TQ2_0: { blockElements: QK_K, blockBytes: 66 },
  MXFP4: { blockElements: 32, blockBytes: 17 },
  // The repacks store the same bytes per element as their base type, interleaved across rows.
  Q4_0_4_4: { blockElements: 32, blockBytes: 18 },
  Q4_0_4_8: { blockElements: 32, blockBytes: 18 },
  Q4_0_8_8: { blockElements: 32, blockBytes: 18 },
  IQ4_NL_4_4: { blockElements: 32, blockBytes: 18 },
  IQ4_NL_4_8: { blockElements: 32, blockBytes: 18 },
  IQ4_NL_8_8: { blockElements: 32, blockBytes: 18 },
};

function f16At(bytes: Uint8Array, offset: number): number {
  return f16ToNumber(bytes[offset]! | (bytes[offset + 1]! << 8));
}

function i8(byte: number): number {
  return (byte << 24) >> 24;
}

/** Builds a codec that runs `decodeBlock` over each block; `block` is the byte offset of the block. */
function blockCodec(
  type: keyof typeof GGML_BLOCK_LAYOUTS,
  decodeBlock: (bytes: Uint8Array, block: number, out: Float32Array, outBase: number) => void,
): BlockCodec {
  const { blockElements, blockBytes } = GGML_BLOCK_LAYOUTS[type];
  return {
    blockElements,
    blockBytes,
    decode(bytes, out) {
      const blocks = Math.floor(bytes.length / blockBytes);
      for (let b = 0; b < blocks; b++) decodeBlock(bytes, b * blockBytes, out, b * blockElements);
    },
  };
}

/** Q4_0 {f16 d; u8 qs[16]}: low nibbles are elements 0..15, high nibbles 16..31; x = (q - 8) * d. */
const Q4_0 = blockCodec('Q4_0', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  for (let j = 0; j < 16; j++) {
    const q = bytes[at + 2 + j]!;
    out[o + j] = ((q & 0x0f) - 8) * d;
    out[o + j + 16] = ((q >> 4) - 8) * d;
  }
});

/** Q4_1 {f16 d; f16 m; u8 qs[16]}: x = q * d + m. */
const Q4_1 = blockCodec('Q4_1', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  const m = f16At(bytes, at + 2);
  for (let j = 0; j < 16; j++) {
    const q = bytes[at + 4 + j]!;
    out[o + j] = (q & 0x0f) * d + m;
    out[o + j + 16] = (q >> 4) * d + m;
  }
});

/** Reads the little-endian u32 of fifth bits; bit j is element j's high bit. */
function u32At(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

/** Q5_0 {f16 d; u8 qh[4]; u8 qs[16]}: 5-bit q = nibble | (bit j of qh) << 4; x = (q - 16) * d. */
const Q5_0 = blockCodec('Q5_0', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  const qh = u32At(bytes, at + 2);
  for (let j = 0; j < 16; j++) {
    const q = bytes[at + 6 + j]!;
    out[o + j] = (((q & 0x0f) | (((qh >>> j) & 1) << 4)) - 16) * d;
    out[o + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
  }
});

/** Q5_1 {f16 d; f16 m; u8 qh[4]; u8 qs[16]}: x = q * d + m with the same 5-bit q as Q5_0. */
const Q5_1 = blockCodec('Q5_1', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  const m = f16At(bytes, at + 2);
  const qh = u32At(bytes, at + 4);
  for (let j = 0; j < 16; j++) {
    const q = bytes[at + 8 + j]!;
    out[o + j] = ((q & 0x0f) | (((qh >>> j) & 1) << 4)) * d + m;
    out[o + j + 16] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
  }
});

/** Q8_0 {f16 d; i8 qs[32]}: x = q * d. */
const Q8_0 = blockCodec('Q8_0', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  for (let j = 0; j < 32; j++) out[o + j] = i8(bytes[at + 2 + j]!) * d;
});

/** Q8_1 {f16 d; f16 s (= d * sum q, redundant); i8 qs[32]}: x = q * d. */
const Q8_1 = blockCodec('Q8_1', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  for (let j = 0; j < 32; j++) out[o + j] = i8(bytes[at + 4 + j]!) * d;
});

/**
 * Q2_K {u8 scales[16]; u8 qs[64]; f16 d; f16 dmin}: 16 sub-blocks of 16; scale byte = min << 4 | scale.
 * Each 128-element half uses 32 qs bytes four times (2-bit fields at shifts 0, 2, 4, 6).
 */
const Q2_K = blockCodec('Q2_K', (bytes, at, out, o) => {
  const d = f16At(bytes, at + 80);
  const dmin = f16At(bytes, at + 82);
  let scaleIndex = 0;
  let y = o;
  for (let half = 0; half < 2; half++) {
    const qs = at + 16 + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let part = 0; part < 2; part++) {
        const sc = bytes[at + scaleIndex++]!;
        const dl = d * (sc & 0x0f);
        const ml = dmin * (sc >> 4);
        for (let l = 0; l < 16; l++) out[y++] = dl * ((bytes[qs + part * 16 + l]! >> shift) & 3) - ml;
      }
    }
  }
});

/** The 16 signed 6-bit scales of Q3_K: low 4 bits in bytes 0..7 (two per byte), high 2 bits in bytes 8..11. */
function q3kScale(bytes: Uint8Array, scales: number, j: number): number {
  const low = j < 8 ? bytes[scales + j]! & 0x0f : bytes[scales + j - 8]! >> 4;
  const high = (bytes[scales + 8 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

/**
 * Q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}: 3-bit q = 2 low bits from qs, and
 * 4 is subtracted when the element's hmask bit is clear; x = d * scale * q.
 */
const Q3_K = blockCodec('Q3_K', (bytes, at, out, o) => {
  const hmask = at;
  const scales = at + 96;
  const d = f16At(bytes, at + 108);
  let scaleIndex = 0;
  let maskBit = 1;
  let y = o;
  for (let half = 0; half < 2; half++) {
    const qs = at + 32 + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let part = 0; part < 2; part++) {
        const dl = d * q3kScale(bytes, scales, scaleIndex++);
        for (let l = 0; l < 16; l++) {
          const i = part * 16 + l;
          const q = ((bytes[qs + i]! >> shift) & 3) - (bytes[hmask + i]! & maskBit ? 0 : 4);
          out[y++] = dl * q;
        }
      }
      maskBit <<= 1;
    }
  }
});

/**
 * The 6-bit scale and min of sub-block j (0..7) of Q4_K/Q5_K (ggml's get_scale_min_k4):
 * j < 4 in the low 6 bits of bytes j and j+4; j >= 4 in the nibbles of byte j+4 plus the
 * top 2 bits of bytes j-4 (scale) and j (min).
 */
export function kQuantScaleMin(bytes: Uint8Array, scales: number, j: number): { scale: number; min: number } {
  if (j < 4) return { scale: bytes[scales + j]! & 63, min: bytes[scales + j + 4]! & 63 };
  const packed = bytes[scales + j + 4]!;
  return {
    scale: (packed & 0x0f) | ((bytes[scales + j - 4]! >> 6) << 4),
    min: (packed >> 4) | ((bytes[scales + j]! >> 6) << 4),
  };
}

/**
 * Q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: 8 sub-blocks of 32; each 32 qs bytes hold
 * sub-block 2i in the low nibbles and 2i+1 in the high nibbles; x = d * scale * q - dmin * min.
 */
const Q4_K = blockCodec('Q4_K', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  const dmin = f16At(bytes, at + 2);
  for (let pair = 0; pair < 4; pair++) {
    const qs = at + 16 + pair * 32;
    const lo = kQuantScaleMin(bytes, at + 4, 2 * pair);
    const hi = kQuantScaleMin(bytes, at + 4, 2 * pair + 1);
    const d1 = d * lo.scale, m1 = dmin * lo.min;
    const d2 = d * hi.scale, m2 = dmin * hi.min;
    const y = o + pair * 64;
    for (let l = 0; l < 32; l++) {
      const q = bytes[qs + l]!;
      out[y + l] = d1 * (q & 0x0f) - m1;
      out[y + 32 + l] = d2 * (q >> 4) - m2;
    }
  }
});

/**
 * Q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: Q4_K plus a fifth bit; for
 * sub-block s the bit is bit s of qh[l]; x = d * scale * q - dmin * min.
 */
const Q5_K = blockCodec('Q5_K', (bytes, at, out, o) => {
  const d = f16At(bytes, at);
  const dmin = f16At(bytes, at + 2);
  const qh = at + 16;
  for (let pair = 0; pair < 4; pair++) {
    const qs = at + 48 + pair * 32;
    const lo = kQuantScaleMin(bytes, at + 4, 2 * pair);
    const hi = kQuantScaleMin(bytes, at + 4, 2 * pair + 1);
    const d1 = d * lo.scale, m1 = dmin * lo.min;
    const d2 = d * hi.scale, m2 = dmin * hi.min;
    const bitLo = 1 << (2 * pair);
    const bitHi = bitLo << 1;
    const y = o + pair * 64;
    for (let l = 0; l < 32; l++) {
      const q = bytes[qs + l]!;
      const h = bytes[qh + l]!;
      out[y + l] = d1 * ((q & 0x0f) + (h & bitLo ? 16 : 0)) - m1;
      out[y + 32 + l] = d2 * ((q >> 4) + (h & bitHi ? 16 : 0)) - m2;
    }
  }
});

/**
 * Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: per 128-element half (64 ql, 32 qh bytes),
 * element l + 32k (k = 0..3) takes 4 low bits from ql and 2 high bits from qh[l] at shift 2k;
 * x = d * scale[its sub-block of 16] * (q - 32).
 */
const Q6_K = blockCodec('Q6_K', (bytes, at, out, o) => {
  const d = f16At(bytes, at + 208);
  for (let half = 0; half < 2; half++) {
    const ql = at + half * 64;
    const qh = at + 128 + half * 32;
    const sc = at + 192 + half * 8;
    const y = o + half * 128;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = bytes[qh + l]!;
      const a = bytes[ql + l]!;
      const b = bytes[ql + l + 32]!;
      // Elements l and l+64 share ql[l] (low / high nibble); l+32 and l+96 share ql[l+32].
      out[y + l] = d * i8(bytes[sc + is]!) * (((a & 0x0f) | ((h & 3) << 4)) - 32);
      out[y + l + 32] = d * i8(bytes[sc + is + 2]!) * (((b & 0x0f) | (((h >> 2) & 3) << 4)) - 32);
      out[y + l + 64] = d * i8(bytes[sc + is + 4]!) * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
      out[y + l + 96] = d * i8(bytes[sc + is + 6]!) * (((b >> 4) | (((h >> 6) & 3) << 4)) - 32);
    }
  }
});

/** Q8_K {f32 d; i8 qs[256]; i16 bsums[16] (redundant sums)}: x = q * d. */
const Q8_K = blockCodec('Q8_K', (bytes, at, out, o) => {
  const d = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true);
  for (let j = 0; j < QK_K; j++) out[o + j] = i8(bytes[at + 4 + j]!) * d;
});

/** Block types we can decode; the others in GGML_BLOCK_LAYOUTS parse but refuse to decode. */
export const GGML_BLOCK_CODECS: Partial<Record<BlockDType, BlockCodec>> = {
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
  Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
};
