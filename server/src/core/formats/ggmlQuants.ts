// ggml block-quantized tensor types (GGUF): block layouts and dequantization to Float32.
// Layouts follow ggml's `ggml-common.h`; every codec decodes whole blocks only.
import { f16ToNumber } from './floats';

export type BlockDType =
  | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q8_1'
  | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'Q8_K';

export interface BlockCodec {
  blockElements: number;
  blockBytes: number;
  /** Decodes bytes (a whole number of blocks) into out (blockElements per block). */
  decode(bytes: Uint8Array, out: Float32Array): void;
}

/** Q8_0: per 32 elements, an f16 scale d and 32 int8 quants; x = d * q. */
const Q8_0: BlockCodec = {
  blockElements: 32,
  blockBytes: 34,
  decode(bytes, out) {
    const blocks = bytes.length / 34;
    for (let b = 0; b < blocks; b++) {
      const base = b * 34;
      const d = f16ToNumber(bytes[base]! | (bytes[base + 1]! << 8));
      for (let i = 0; i < 32; i++) {
        const q = (bytes[base + 2 + i]! << 24) >> 24;
        out[b * 32 + i] = d * q;
      }
    }
  },
};

export const GGML_BLOCK_CODECS: Partial<Record<BlockDType, BlockCodec>> = {
  Q8_0,
};
