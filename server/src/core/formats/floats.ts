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

/** Reused for misaligned input by uint16WordsLE, up to this many words (a row; never a whole big tensor). */
const MAX_SCRATCH_WORDS = 1 << 20;
let alignedScratch = new Uint16Array(0);

/**
 * Little-endian 16-bit words of `bytes` as a Uint16Array, valid until the next call: a zero-copy view
 * when the host is little-endian and the bytes are 2-aligned, else a copy in a reused scratch buffer
 * (parts of a multipart answer start at any offset: one memcpy, not a loop over bytes, and no fresh
 * memory per row). The bulk decoders below read through it (a typed-array loop; a DataView call per
 * element costs several times more on 10 M elements).
 */
function uint16WordsLE(bytes: Uint8Array, count: number): Uint16Array {
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  // Longer inputs get a copy of their own, so the long-lived scratch stays small.
  if (count > MAX_SCRATCH_WORDS) return copyWords(bytes, new Uint16Array(count));
  if (alignedScratch.length < count) alignedScratch = new Uint16Array(Math.min(MAX_SCRATCH_WORDS, Math.max(count, 2 * alignedScratch.length)));
  return copyWords(bytes, alignedScratch.subarray(0, count));
}

function copyWords(bytes: Uint8Array, words: Uint16Array): Uint16Array {
  const count = words.length;
  if (HOST_IS_LITTLE_ENDIAN) new Uint8Array(words.buffer, words.byteOffset, count * 2).set(bytes.subarray(0, count * 2));
  else for (let i = 0; i < count; i++) words[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
  return words;
}

/** The top half of the canonical NaN (what storing NaN into a Float32Array gives): 0x7fc0. */
export const CANONICAL_NAN_BF16 = new Uint32Array(new Float32Array([NaN]).buffer)[0]! >>> 16;

/**
 * Decodes `count` little-endian bfloat16 values into `out` from `outOffset` (exact: BF16 is float32's
 * top half). With `form`, also writes there (from the same offset) the values' BF16 words with every
 * NaN made canonical: the form a fingerprint stores and hashes (see recordBf16Form).
 */
export function decodeBf16Into(bytes: Uint8Array, count: number, out: Float32Array, outOffset: number, form?: Uint16Array): void {
  const words = uint16WordsLE(bytes, count);
  // Shift the bits straight into the output's words: no float conversion, NaN payloads kept.
  const bits = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, count);
  if (!form) {
    for (let i = 0; i < count; i++) bits[i] = words[i]! << 16;
    return;
  }
  // The form is the words as they are (one copy), unless a NaN needs its canonical bits: rare, so a
  // flag in the decoding loop and a second pass only then (measured ~30% faster than a select per word).
  let sawNaN = false;
  for (let i = 0; i < count; i++) {
    const w = words[i]!;
    bits[i] = w << 16;
    // A NaN: exponent all ones, mantissa not zero.
    if ((w & 0x7fff) > 0x7f80) sawNaN = true;
  }
  form.set(words, outOffset);
  if (!sawNaN) return;
  for (let j = outOffset, end = outOffset + count; j < end; j++) if ((form[j]! & 0x7fff) > 0x7f80) form[j] = CANONICAL_NAN_BF16;
}

const bf16Forms = new WeakMap<Float32Array, Uint16Array>();

/**
 * Remembers that `values` were decoded from BF16 and that `form` holds their words (NaNs canonical).
 * A fingerprint digests and stores sampled values in this 2-byte form; deriving it again from the
 * float32s costs a pass over every sampled value (tens of MB for a 7B model), so the decoder records
 * it. Only for arrays complete and never written to afterwards (the tensor store's results).
 */
export function recordBf16Form(values: Float32Array, form: Uint16Array): void {
  if (form.length === values.length) bf16Forms.set(values, form);
}

/** The BF16 form recorded for `values` when they were decoded, if any. */
export function bf16FormOf(values: Float32Array): Uint16Array | undefined {
  return bf16Forms.get(values);
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

