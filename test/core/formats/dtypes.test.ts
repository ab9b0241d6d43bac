import { strict as assert } from 'node:assert';
import { ModelFormatError } from '../../../server/src/core/errors';
import { byteLengthOf, decodeInto, decodeToFloat32, type ElementDType } from '../../../server/src/core/formats/dtypes';

/** Little-endian bytes of 16-bit words. */
function words16(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 2);
  words.forEach((w, i) => new DataView(out.buffer).setUint16(i * 2, w, true));
  return out;
}

function decode(dtype: ElementDType, bytes: Uint8Array, count: number): number[] {
  return [...decodeToFloat32(dtype, bytes, count, 'test.bin')];
}

describe('dtypes', () => {
  it('decodes IEEE half precision', () => {
    const bytes = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c, 0x01, 0x00]);
    assert.deepEqual([...decodeToFloat32('F16', bytes, 4, 'x')], [1, -2, Infinity, 2 ** -24]);
  });

  it('decodes F16 extremes: largest finite, negative zero, NaN, smallest normal', () => {
    const [max, negZero, nan, minNormal] = decode('F16', words16(0x7bff, 0x8000, 0x7e00, 0x0400), 4);
    assert.equal(max, 65504);
    assert.ok(Object.is(negZero, -0));
    assert.ok(Number.isNaN(nan));
    assert.equal(minNormal, 2 ** -14);
  });

  it('decodes BF16 as the top half of a float32', () => {
    assert.deepEqual(decode('BF16', words16(0x3f80, 0xc000, 0x7f80, 0x3f81), 4), [1, -2, Infinity, 1 + 2 ** -7]);
    assert.ok(Number.isNaN(decode('BF16', words16(0x7fc0), 1)[0]));
  });

  it('decodes 16-bit rows at odd offsets (multipart parts start anywhere), short and longer than the reused scratch', () => {
    for (const count of [3, 4096, (1 << 20) + 5]) {
      const words = Uint16Array.from({ length: count }, (_, i) => (i * 2654435761) >>> 16);
      const padded = new Uint8Array(count * 2 + 1);
      padded.set(new Uint8Array(words.buffer), 1);
      const odd = padded.subarray(1);
      for (const dtype of ['BF16', 'F16'] as const) {
        const fromOdd = new Float32Array(count);
        const fromAligned = new Float32Array(count);
        decodeInto(dtype, odd, count, fromOdd, 0, 'odd');
        decodeInto(dtype, new Uint8Array(words.buffer), count, fromAligned, 0, 'aligned');
        assert.deepEqual(new Uint32Array(fromOdd.buffer), new Uint32Array(fromAligned.buffer), `${dtype} x ${count}`);
      }
    }
  });

  it('decodes F8_E4M3 (e4m3fn): 1.0, the 448 maximum, NaN, subnormals, no infinity', () => {
    const values = decode('F8_E4M3', new Uint8Array([0x38, 0x7e, 0x7f, 0x01, 0xc0, 0x78, 0x00, 0x80]), 8);
    assert.equal(values[0], 1);
    assert.equal(values[1], 448);
    assert.ok(Number.isNaN(values[2]!), '0x7F is NaN');
    assert.equal(values[3], 2 ** -9, 'smallest subnormal');
    assert.equal(values[4], -2);
    assert.equal(values[5], 256, 'exponent field 15 with mantissa 0 is finite in e4m3fn');
    assert.ok(Object.is(values[6], 0) && Object.is(values[7], -0));
    assert.ok(Number.isNaN(decode('F8_E4M3', new Uint8Array([0xff]), 1)[0]!), '0xFF is NaN too');
  });

  it('decodes F8_E5M2 as the top byte of a half: 1.0, the 57344 maximum, infinity, NaN', () => {
    const values = decode('F8_E5M2', new Uint8Array([0x3c, 0x7b, 0x7c, 0x7e, 0x01, 0xbd]), 6);
    assert.deepEqual(values.slice(0, 3), [1, 57344, Infinity]);
    assert.ok(Number.isNaN(values[3]!));
    assert.deepEqual(values.slice(4), [2 ** -16, -1.25]);
  });

  it('decodes F32 and F64 little-endian', () => {
    const f32 = new Uint8Array(8);
    new DataView(f32.buffer).setFloat32(0, -1.5, true);
    new DataView(f32.buffer).setFloat32(4, 3.25, true);
    assert.deepEqual(decode('F32', f32, 2), [-1.5, 3.25]);
    const f64 = new Uint8Array(8);
    new DataView(f64.buffer).setFloat64(0, 0.1, true);
    assert.deepEqual(decode('F64', f64, 1), [Math.fround(0.1)]);
  });

  it('decodes signed integers of every width, including negatives', () => {
    assert.deepEqual(decode('I8', new Uint8Array([0x80, 0xff, 0x7f]), 3), [-128, -1, 127]);
    assert.deepEqual(decode('I16', words16(0x8000, 0xffff, 0x7fff), 3), [-32768, -1, 32767]);
    const i32 = new Uint8Array(8);
    new DataView(i32.buffer).setInt32(0, -(2 ** 31), true);
    new DataView(i32.buffer).setInt32(4, -7, true);
    assert.deepEqual(decode('I32', i32, 2), [-(2 ** 31), -7]);
    const i64 = new Uint8Array(16);
    new DataView(i64.buffer).setBigInt64(0, -(2n ** 40n), true);
    new DataView(i64.buffer).setBigInt64(8, 5n, true);
    assert.deepEqual(decode('I64', i64, 2), [-(2 ** 40), 5]);
  });

  it('decodes unsigned integers of every width', () => {
    assert.deepEqual(decode('U8', new Uint8Array([0, 255]), 2), [0, 255]);
    assert.deepEqual(decode('U16', words16(0xffff, 0x0102), 2), [65535, 258]);
    const u32 = new Uint8Array(4);
    new DataView(u32.buffer).setUint32(0, 0xffffffff, true);
    assert.deepEqual(decode('U32', u32, 1), [4294967296]); // 2^32-1 rounds to 2^32 in float32
    const u64 = new Uint8Array(8);
    new DataView(u64.buffer).setBigUint64(0, 2n ** 40n, true);
    assert.deepEqual(decode('U64', u64, 1), [2 ** 40]);
  });

  it('decodes BOOL: any non-zero byte is true', () => {
    assert.deepEqual(decode('BOOL', new Uint8Array([0, 1, 7]), 3), [0, 1, 1]);
  });

  it('writes at the requested offset and refuses a byte count that does not match', () => {
    const out = new Float32Array(3).fill(9);
    decodeInto('U8', new Uint8Array([4, 5]), 2, out, 1, 'test.bin');
    assert.deepEqual([...out], [9, 4, 5]);
    assert.throws(() => decodeToFloat32('F32', new Uint8Array(6), 2, 'short.bin'), (err: unknown) =>
      err instanceof ModelFormatError && /short\.bin: cannot decode 2 F32 elements from 6 bytes/.test(err.message));
  });

  it('knows the byte length of element types', () => {
    assert.equal(byteLengthOf('BF16', 10), 20);
    assert.equal(byteLengthOf('F8_E4M3', 10), 10);
    assert.equal(byteLengthOf('I64', 3), 24);
  });
});
