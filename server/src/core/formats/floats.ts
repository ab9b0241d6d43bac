// Decoders for the small float formats (IEEE half, bfloat16, float8), shared by every container:
// scalar ones for block codecs, bulk typed-array loops for whole rows.

export const f16Table = buildF16Table();

function buildF16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/** IEEE half precision bits to a number. */
export function f16ToNumber(bits: number): number {
  return f16Table[bits & 0xffff]!;
}

export function f8e4m3ToNumber(b: number): number {
  // OCP "fn" variant as used by PyTorch float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN.
  const sign = b & 0x80 ? -1 : 1;
  const exponent = (b >> 3) & 0xf;
  const mantissa = b & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -9;
  return sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
}

export function f8e5m2ToNumber(b: number): number {
  // The top byte of an IEEE half.
  return f16ToNumber(b << 8);
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Little-endian 16-bit words of `bytes` as a Uint16Array: a zero-copy view when the host is
 * little-endian and the bytes are 2-aligned, else one copy. The bulk decoders below read through it
 * (a typed-array loop; a DataView call per element costs several times more on 10 M elements).
 */
export function uint16WordsLE(bytes: Uint8Array, count: number): Uint16Array {
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  const words = new Uint16Array(count);
  for (let i = 0; i < count; i++) words[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
  return words;
}

/** Decodes `count` little-endian bfloat16 values into `out` from `outOffset` (exact: BF16 is float32's top half). */
export function decodeBf16Into(bytes: Uint8Array, count: number, out: Float32Array, outOffset: number): void {
  const words = uint16WordsLE(bytes, count);
  // Shift the bits straight into the output's words: no float conversion, NaN payloads kept.
  const bits = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, count);
  for (let i = 0; i < count; i++) bits[i] = words[i]! << 16;
}

/** Decodes `count` little-endian IEEE half values into `out` from `outOffset`. */
export function decodeF16Into(bytes: Uint8Array, count: number, out: Float32Array, outOffset: number): void {
  const words = uint16WordsLE(bytes, count);
  const table = f16Table;
  for (let i = 0; i < count; i++) out[outOffset + i] = table[words[i]!]!;
}

/** Decodes `count` little-endian float32 values into `out` from `outOffset`. */
export function decodeF32Into(bytes: Uint8Array, count: number, out: Float32Array, outOffset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    // Copy the bytes as they are (a typed-array set would canonicalize NaN payloads on some engines).
    new Uint8Array(out.buffer, out.byteOffset + outOffset * 4, count * 4).set(bytes.subarray(0, count * 4));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[outOffset + i] = view.getFloat32(i * 4, true);
}

