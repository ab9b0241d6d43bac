// ggml block codecs: hand-built blocks with known values for every codec (bit layouts as in
// ggml-common.h), and quantize -> dequantize round trips through a real GGUF file.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GGML_BLOCK_CODECS, GGML_BLOCK_LAYOUTS, type BlockDType } from '../../../server/src/core/formats/ggmlQuants';
import { readGgufFile } from '../../../server/src/core/formats/gguf';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import { f16Round, quantize, writeGguf, type GgufWriteType } from '../../fixtures/ggufWriter';

// f16 bit patterns of exact values.
const H = { quarter: 0x3400, half: 0x3800, one: 0x3c00, two: 0x4000, minusOne: 0xbc00 } as const;

function decode(type: BlockDType, bytes: Uint8Array): Float32Array {
  const codec = GGML_BLOCK_CODECS[type];
  if (!codec) throw new Error(`no codec for ${type}`);
  assert.equal(bytes.length % codec.blockBytes, 0, `${type} test block has the wrong size`);
  const out = new Float32Array((bytes.length / codec.blockBytes) * codec.blockElements);
  codec.decode(bytes, out);
  return out;
}

function putF16(block: Uint8Array, at: number, bits: number): void {
  block[at] = bits & 0xff;
  block[at + 1] = bits >> 8;
}

/** Deterministic pseudo-random normal values (mulberry32 + Box-Muller). */
function gaussian(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

describe('ggml block layouts', () => {
  it('match ggml-common.h block sizes', () => {
    // sizeof(block_*) from ggml-common.h's static_asserts.
    const expected: Record<string, [number, number]> = {
      Q4_0: [32, 18], Q4_1: [32, 20], Q5_0: [32, 22], Q5_1: [32, 24], Q8_0: [32, 34], Q8_1: [32, 36],
      Q2_K: [256, 84], Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210], Q8_K: [256, 292],
      IQ2_XXS: [256, 66], IQ2_XS: [256, 74], IQ2_S: [256, 82], IQ3_XXS: [256, 98], IQ3_S: [256, 110],
      IQ1_S: [256, 50], IQ1_M: [256, 56], IQ4_NL: [32, 18], IQ4_XS: [256, 136], TQ1_0: [256, 54], TQ2_0: [256, 66], MXFP4: [32, 17],
    };
    for (const [type, [elements, bytes]] of Object.entries(expected)) {
      const layout = GGML_BLOCK_LAYOUTS[type as keyof typeof GGML_BLOCK_LAYOUTS];
      assert.deepEqual([layout.blockElements, layout.blockBytes], [elements, bytes], type);
      const codec = GGML_BLOCK_CODECS[type as BlockDType];
      if (codec) assert.deepEqual([codec.blockElements, codec.blockBytes], [elements, bytes], `${type} codec`);
    }
  });
});

describe('ggml block codecs on hand-built blocks', () => {
  it('Q4_0: low nibbles are elements 0..15, high nibbles 16..31, x = (q - 8) * d', () => {
    const block = new Uint8Array(18 * 2);
    putF16(block, 0, H.half);
    for (let j = 0; j < 16; j++) block[2 + j] = j | ((15 - j) << 4);
    putF16(block, 18, H.minusOne); // second block: every quant 9 -> x = -1
    block.fill(0x99, 20, 36);
    const x = decode('Q4_0', block);
    assert.equal(x[0], -4); // (0 - 8) * 0.5
    assert.equal(x[15], 3.5); // (15 - 8) * 0.5
    assert.equal(x[16], 3.5); // high nibble of byte 0 = 15
    assert.equal(x[31], -4); // high nibble of byte 15 = 0
    assert.equal(x[5], -1.5);
    assert.equal(x[32], -1);
    assert.equal(x[63], -1);
  });

  it('Q4_1: x = q * d + m', () => {
    const block = new Uint8Array(20);
    putF16(block, 0, H.quarter);
    putF16(block, 2, H.minusOne);
    block[4] = 0xf0; // element 0: q 0, element 16: q 15
    block[19] = 0x48; // element 15: q 8, element 31: q 4
    const x = decode('Q4_1', block);
    assert.deepEqual([x[0], x[16], x[15], x[31], x[7]], [-1, 2.75, 1, 0, -1]);
  });

  it('Q5_0: fifth bit j of qh belongs to element j; x = (q - 16) * d', () => {
    const block = new Uint8Array(22);
    putF16(block, 0, H.one);
    // qh = 0x80000001: elements 0 and 31 have their fifth bit set.
    block.set([0x01, 0x00, 0x00, 0x80], 2);
    block[6] = 0x23; // element 0: nibble 3, element 16: nibble 2
    block[21] = 0xf0; // element 15: nibble 0, element 31: nibble 15
    const x = decode('Q5_0', block);
    assert.equal(x[0], 3); // (3 | 16) - 16
    assert.equal(x[16], -14); // 2 - 16
    assert.equal(x[15], -16);
    assert.equal(x[31], 15); // (15 | 16) - 16
  });

  it('Q5_1: x = q * d + m with the fifth bit from qh', () => {
    const block = new Uint8Array(24);
    putF16(block, 0, H.half);
    putF16(block, 2, H.two);
    block.set([0x00, 0x00, 0x01, 0x00], 4); // bit 16: element 16
    block[8] = 0x1f; // element 0: 15, element 16: 1 | 16
    const x = decode('Q5_1', block);
    assert.equal(x[0], 9.5); // 15 * 0.5 + 2
    assert.equal(x[16], 10.5); // 17 * 0.5 + 2
    assert.equal(x[1], 2);
  });

  it('Q8_0: x = int8 q * d', () => {
    const block = new Uint8Array(34);
    putF16(block, 0, H.quarter);
    block[2] = 0x80; // -128
    block[3] = 0x7f; // 127
    block[33] = 0xff; // -1
    const x = decode('Q8_0', block);
    assert.deepEqual([x[0], x[1], x[31], x[2]], [-32, 31.75, -0.25, 0]);
  });

  it('Q8_1: x = int8 q * d, ignoring the stored sum', () => {
    const block = new Uint8Array(36);
    putF16(block, 0, H.two);
    putF16(block, 2, 0x7bff); // s: a large value that must not leak into x
    block[4] = 0x05;
    block[35] = 0xfd; // -3
    const x = decode('Q8_1', block);
    assert.deepEqual([x[0], x[31], x[10]], [10, -6, 0]);
  });

  it('Q2_K: 2-bit quants at shifts 0/2/4/6, per-16 4-bit scale and min', () => {
    const block = new Uint8Array(84);
    // Sub-block s scale byte = min << 4 | scale. Sub-block 0: scale 3, min 1; 2: scale 2, min 0;
    // 4: scale 1, min 2; 6: scale 15, min 15; 8: scale 5, min 0.
    block[0] = 0x13;
    block[2] = 0x02;
    block[4] = 0x21;
    block[6] = 0xff;
    block[8] = 0x05;
    block[16] = 0b11_10_01_00; // elements 0 (q0), 32 (q1), 64 (q2), 96 (q3)
    block[16 + 32 + 1] = 0b11; // element 129 (second half, sub-block 8): q3
    putF16(block, 80, H.half);
    putF16(block, 82, H.quarter);
    const x = decode('Q2_K', block);
    assert.equal(x[0], -0.25); // 0.5*3*0 - 0.25*1
    assert.equal(x[32], 1); // 0.5*2*1 - 0
    assert.equal(x[64], 0.5); // 0.5*1*2 - 0.25*2
    assert.equal(x[96], 22.5 - 3.75); // 0.5*15*3 - 0.25*15
    assert.equal(x[129], 7.5); // 0.5*5*3
    assert.equal(x[1], -0.25);
    assert.equal(x[200], 0);
  });

  it('Q3_K: 6-bit signed scales, 2 low bits + hmask high bit, x = d * scale * q', () => {
    const block = new Uint8Array(110);
    const hmask = 0, qs = 32, scales = 96;
    // Every scale starts at 32 (-> 0): low nibbles 0, high bits 0b10 in bytes 8..11.
    block.fill(0xaa, scales + 8, scales + 12);
    block[scales + 0] = 0x01; // sub-block 0: 33 -> 1
    block[scales + 1] = 0x50; // sub-block 9 low nibble 5 -> 37 -> 5
    block[scales + 5] = 0x0f; // sub-block 5 low nibble 15 ...
    block[scales + 9] = 0xae; // ... high bits 3 (byte 9, shift 2) -> 63 -> 31
    block[scales + 11] = 0x2a; // sub-block 15 high bits 0 (byte 11, shift 6) -> 0 -> -32
    putF16(block, 108, H.half);
    block[qs + 0] = 0b11; // element 0: q2 3
    block[hmask + 0] = 0b1; // element 0 high bit set: q = 3
    block[qs + 16] = 0b01_0000; // element 80 (shift 4): q2 1, hmask bit 2 clear: q = -3
    block[qs + 32 + 16] = 0b10; // element 144: q2 2 ...
    block[hmask + 16] = 0b1_0000; // ... high bit (bit 4) set: q = 2
    const x = decode('Q3_K', block);
    assert.equal(x[0], 1.5); // 0.5 * 1 * 3
    assert.equal(x[1], -2); // 0.5 * 1 * (0 - 4)
    assert.equal(x[80], -46.5); // 0.5 * 31 * -3
    assert.equal(x[144], 5); // 0.5 * 5 * 2
    assert.equal(x[255], 64); // 0.5 * -32 * -4
    assert.equal(x[20], -0); // scale 0
  });

  it('Q4_K: 6-bit packed scales/mins (get_scale_min_k4), x = d*sc*q - dmin*m', () => {
    const block = new Uint8Array(144);
    putF16(block, 0, H.half);
    putF16(block, 2, H.quarter);
    const sc = 4;
    block[sc + 0] = 10; // sub-block 0 scale 10
    block[sc + 4] = 3; // sub-block 0 min 3
    // Sub-block 5: scale 40 = 0b10_1000, min 50 = 0b11_0010.
    block[sc + 9] = 0x8 | (0x2 << 4); // low nibbles of scale and min
    block[sc + 1]! |= 2 << 6; // scale high bits ride on byte j-4 (scale of sub-block 1 stays 0)
    block[sc + 5]! |= 3 << 6; // min high bits ride on byte j (min of sub-block 1 stays 0)
    const qs = 16;
    block[qs + 0] = 0x07; // element 0: q 7
    block[qs + 8] = 0x90; // element 40 (sub-block 1, scale 0): q 9
    block[qs + 64] = 0xf0; // element 160 (sub-block 5, high nibbles of pair 2): q 15
    block[qs + 95] = 0x10; // element 191: q 1
    const x = decode('Q4_K', block);
    assert.equal(x[0], 34.25); // 0.5*10*7 - 0.25*3
    assert.equal(x[31], -0.75);
    assert.equal(x[40], 0);
    assert.equal(x[160], 287.5); // 0.5*40*15 - 0.25*50
    assert.equal(x[191], 7.5); // 0.5*40*1 - 12.5
    assert.equal(x[128], 0); // sub-block 4: scale from byte 8 low nibble + byte 0 top bits = 0
  });

  it('Q5_K: Q4_K scales plus a fifth bit (bit 2*pair + high) of qh[l]', () => {
    const block = new Uint8Array(176);
    putF16(block, 0, H.one);
    putF16(block, 2, H.half);
    const sc = 4, qh = 16, qs = 48;
    block[sc + 0] = 2; // sub-block 0 scale 2
    block[sc + 4] = 1; // sub-block 0 min 1
    // Sub-block 7: scale 33 = 0b10_0001, min 4.
    block[sc + 11] = 0x1 | (0x4 << 4);
    block[sc + 3]! |= 2 << 6;
    block[qs + 0] = 0x03; // element 0 nibble 3 ...
    block[qh + 0] = 0b1; // ... plus 16
    block[qs + 1] = 0x0f; // element 1 nibble 15, no fifth bit
    block[qs + 96 + 31] = 0xf0; // element 255 nibble 15 ...
    block[qh + 31] = 0b1000_0000; // ... plus 16 (bit 7 = pair 3, high half)
    const x = decode('Q5_K', block);
    assert.equal(x[0], 37.5); // 1*2*19 - 0.5*1
    assert.equal(x[1], 29.5); // 1*2*15 - 0.5
    assert.equal(x[255], 1021); // 1*33*31 - 0.5*4
    assert.equal(x[224], -2); // 1*33*0 - 0.5*4
  });

  it('Q6_K: 4 low bits from ql, 2 high bits from qh, int8 scales per 16, x = d*sc*(q-32)', () => {
    const block = new Uint8Array(210);
    const ql = 0, qh = 128, scales = 192;
    block[scales + 0] = 4;
    block[scales + 2] = 127;
    block[scales + 15] = 0xfe; // -2
    putF16(block, 208, H.quarter);
    block[ql + 0] = 0x05; // element 0: low 4 bits 5
    block[qh + 0] = 0b10; // element 0: high bits 2 -> q = 37
    block[ql + 64 + 32 + 31] = 0xf0; // element 255 (second half, k=3): low bits 15 in the high nibble
    block[qh + 32 + 31] = 0b11 << 6; // high bits 3 -> q = 63
    const x = decode('Q6_K', block);
    assert.equal(x[0], 5); // 0.25*4*(37-32)
    assert.equal(x[32], -1016); // 0.25*127*(0-32): element 32 is in sub-block 2
    assert.equal(x[255], -15.5); // 0.25*-2*(63-32)
    assert.equal(x[64], -0); // sub-block 4: scale 0
  });

  it('Q8_K: f32 d and int8 quants, ignoring bsums', () => {
    const block = new Uint8Array(292);
    new DataView(block.buffer).setFloat32(0, 0.5, true);
    block[4] = 0x80;
    block[4 + 255] = 0x7f;
    block.fill(0xff, 260); // bsums: junk
    const x = decode('Q8_K', block);
    assert.deepEqual([x[0], x[255], x[100]], [-64, 63.5, 0]);
  });
});

describe('quantize -> dequantize round trips', () => {
  function roundTrip(type: GgufWriteType, data: Float32Array): Float32Array {
    return decode(type as BlockDType, quantize(type, data));
  }

  it('Q8_0: every value is within d/2 of the original (plus the f16 rounding of d)', () => {
    const data = gaussian(32 * 64, 1, 0.02);
    const back = roundTrip('Q8_0', data);
    for (let b = 0; b < 64; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(data[b * 32 + j]!));
      const d = amax / 127;
      const d16 = f16Round(d);
      // q = round(x / d) is within 1/2 of x / d; decoding uses the f16 d16 for |q| <= 127.
      const bound = d / 2 + 127 * Math.abs(d - d16) + 1e-9;
      for (let j = 0; j < 32; j++) {
        const err = Math.abs(back[b * 32 + j]! - data[b * 32 + j]!);
        assert.ok(err <= bound, `block ${b} element ${j}: error ${err} > ${bound}`);
      }
    }
  });

  it('Q4_K: relative RMS error of Gaussian weights is small, and constant blocks stay exact', () => {
    const data = gaussian(256 * 32, 2, 0.05);
    const back = roundTrip('Q4_K', data);
    let se = 0, ss = 0;
    for (let i = 0; i < data.length; i++) {
      se += (back[i]! - data[i]!) ** 2;
      ss += data[i]! ** 2;
    }
    const relRms = Math.sqrt(se / ss);
    assert.ok(relRms < 0.09, `relative RMS ${relRms}`);
    assert.ok(relRms > 0.01, `4-bit quantization cannot be this exact (${relRms}): the test would not catch a pass-through`);
    const zeros = roundTrip('Q4_K', new Float32Array(256));
    assert.ok(zeros.every((v) => v === 0));
  });

  it('the simpler quantizers (Q4_0, Q4_1, Q5_0, Q5_1, Q6_K) round trip within their step size', () => {
    const data = gaussian(256 * 8, 3, 1);
    const limits: Array<[GgufWriteType, number]> = [['Q4_0', 0.12], ['Q4_1', 0.11], ['Q5_0', 0.06], ['Q5_1', 0.055], ['Q6_K', 0.03]];
    for (const [type, limit] of limits) {
      const back = roundTrip(type, data);
      let se = 0, ss = 0;
      for (let i = 0; i < data.length; i++) {
        se += (back[i]! - data[i]!) ** 2;
        ss += data[i]! ** 2;
      }
      const relRms = Math.sqrt(se / ss);
      assert.ok(relRms < limit, `${type}: relative RMS ${relRms} >= ${limit}`);
    }
  });
});

describe('quantized tensors in a GGUF file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gguf-quant-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('TensorStore.readRows of a Q4_K and a Q8_0 tensor returns the dequantized writer data', async () => {
    const rows = 6, cols = 512;
    const weights = gaussian(rows * cols, 4, 0.03);
    const small = gaussian(4 * 64, 5, 1);
    const file = path.join(dir, 'quant.gguf');
    writeGguf(file, {
      metadata: [['general.architecture', 'llama']],
      tensors: [
        { name: 'blk.0.ffn_up.weight', shape: [rows, cols], data: weights, type: 'Q4_K' },
        { name: 'blk.0.attn_q.weight', shape: [4, 64], data: small, type: 'Q8_0' },
      ],
    });
    const gguf = await readGgufFile(file);
    const up = gguf.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!;
    assert.equal(up.dtype, 'Q4_K');
    assert.deepEqual(up.shape, [rows, cols]);
    assert.equal(up.byteLength, (rows * cols / 256) * 144);
    assert.equal(gguf.ggmlTypes.get('blk.0.ffn_up.weight'), 12);

    const expectedUp = decode('Q4_K', quantize('Q4_K', weights));
    const expectedQ = decode('Q8_0', quantize('Q8_0', small));
    const store = new TensorStore(gguf.tensors);
    try {
      const got = await store.readRows('blk.0.ffn_up.weight', 2, 3);
      assert.deepEqual(got, expectedUp.slice(2 * cols, 5 * cols));
      const picked = await store.readRowSet('blk.0.attn_q.weight', [3, 0]);
      assert.deepEqual(picked, Float32Array.from([...expectedQ.slice(192, 256), ...expectedQ.slice(0, 64)]));
      // The quantized rows are close to the original weights, not just self-consistent.
      for (let i = 0; i < cols; i++) assert.ok(Math.abs(got[i]! - weights[2 * cols + i]!) < 0.03);
    } finally {
      await store.close();
    }
  });
});
