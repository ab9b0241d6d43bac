// Fingerprint <-> compact JSON. Typed arrays become base64 of little-endian bytes; key order is
// fixed by construction so the same fingerprint always serializes to the same bytes.
// Parsing treats the JSON as untrusted: every field is checked and every array bounded.
import { ModelFormatError } from '../errors';
import { bf16FormOf, CANONICAL_NAN_BF16, decodeBf16Into, decodeF16Into } from '../formats/floats';
import { FINGERPRINT_SCHEMA, FINGERPRINT_SCHEMA_VERSION, type Fingerprint } from './types';

/** Largest fingerprint document we parse (a 7B model's is a few tens of MB of base64). */
export const MAX_FINGERPRINT_JSON_BYTES = 256 * 1024 * 1024;

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The float32 values as little-endian bytes (a zero-copy view on little-endian hosts). */
export function float32LittleEndianBytes(values: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return bytes;
}

function uint16LittleEndianBytes(values: Uint16Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    bytes[i * 2] = values[i]! & 0xff;
    bytes[i * 2 + 1] = values[i]! >>> 8;
  }
  return bytes;
}

export function float32ToBase64(values: Float32Array): string {
  return Buffer.from(float32LittleEndianBytes(values)).toString('base64');
}

export interface PackedFloats {
  kind: 'bf16' | 'f16' | 'f32';
  /** Little-endian bytes of the values in `kind` (2 or 4 bytes each). */
  bytes: Uint8Array;
}

const packedCache = new WeakMap<Float32Array, PackedFloats>();

/**
 * Lossless compact form of sampled values: most come from BF16 or F16 weights, so their float32
 * values fit in 2 bytes exactly. NaNs are canonicalized first. Cached per array, because the
 * digest and the serializer both need it.
 */
export function packFloats(values: Float32Array): PackedFloats {
  const cached = packedCache.get(values);
  if (cached) return cached;
  // Values decoded from BF16 come with their form recorded: no pass over them to re-derive it.
  const recorded = bf16FormOf(values);
  const packed = recorded ? { kind: 'bf16' as const, bytes: uint16LittleEndianBytes(recorded) } : packBf16(values) ?? packHalfOrF32(values);
  packedCache.set(values, packed);
  return packed;
}

/** The canonical NaN as float32 bits (what storing NaN into a Float32Array gives). */
const CANONICAL_NAN_BITS = new Uint32Array(new Float32Array([NaN]).buffer)[0]!;

/** A NaN's float32 bits: exponent all ones, mantissa not zero. */
function isNaNBits(b: number): boolean {
  return (b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0;
}

/**
 * BF16 packing in one pass over the bits (no per-element allocation): every value must have zero low
 * 16 bits, except NaNs, which all become the canonical NaN's top half (as if canonicalized first).
 */
function packBf16(values: Float32Array): PackedFloats | undefined {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    // The common case first: not NaN or infinity (exponent not all ones), low half zero.
    if ((b & 0x7f800000) !== 0x7f800000) {
      if ((b & 0xffff) !== 0) return undefined;
      half[i] = b >>> 16;
    } else if (isNaNBits(b)) {
      // The canonical NaN's low half is zero (checked once below), so NaNs never block BF16 packing.
      if ((CANONICAL_NAN_BITS & 0xffff) !== 0) return undefined;
      half[i] = CANONICAL_NAN_BF16;
    } else if ((b & 0xffff) === 0) half[i] = b >>> 16;
    else return undefined;
  }
  return { kind: 'bf16', bytes: uint16LittleEndianBytes(half) };
}

/** F16 when every value is exactly a half, else float32; NaNs canonicalized first. */
function packHalfOrF32(values: Float32Array): PackedFloats {
  const canonical = hasNaN(values) ? values.map((v) => (Number.isNaN(v) ? NaN : v)) : values;
  return packF16(canonical) ?? { kind: 'f32' as const, bytes: float32LittleEndianBytes(canonical) };
}

function hasNaN(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== values[i]) return true;
  return false;
}

function packF16(values: Float32Array): PackedFloats | undefined {
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const h = float32ToF16Exact(values[i]!);
    if (h === undefined) return undefined;
    half[i] = h;
  }
  return { kind: 'f16', bytes: uint16LittleEndianBytes(half) };
}

/** The JSON value of a float array: {bf16}, {f16} or {f32} with base64 of its packed bytes. */
export function encodeFloatArray(values: Float32Array): { bf16: string } | { f16: string } | { f32: string } {
  const { kind, bytes } = packFloats(values);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return kind === 'bf16' ? { bf16: text } : kind === 'f16' ? { f16: text } : { f32: text };
}

/** IEEE half bits of `x` when the half represents it exactly (normals, subnormals, zeros, inf), else undefined. */
function float32ToF16Exact(x: number): number | undefined {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  if (a === Infinity) return sign | 0x7c00;
  if (a >= 65520) return undefined;
  const exponent = Math.floor(Math.log2(a));
  if (exponent < -14) {
    const mantissa = a / 2 ** -24;
    return Number.isInteger(mantissa) ? sign | mantissa : undefined;
  }
  const scaled = a / 2 ** exponent;
  const mantissa = (scaled - 1) * 1024;
  if (!Number.isInteger(mantissa) || mantissa >= 1024) return undefined;
  return sign | ((exponent + 15) << 10) | mantissa;
}

export function uint32ToBase64(values: Uint32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setUint32(i * 4, values[i]!, true);
  return Buffer.from(bytes).toString('base64');
}

function base64ToBytes(text: unknown, what: string, source: string, expectedBytes?: number): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new ModelFormatError(source, `${what}: expected base64 text`);
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (bytes.length % 4 !== 0 || (expectedBytes !== undefined && bytes.length !== expectedBytes)) {
    throw new ModelFormatError(source, `${what}: ${bytes.length} bytes of data, expected ${expectedBytes ?? 'a multiple of 4'}`);
  }
  return bytes;
}

export function base64ToFloat32(text: unknown, what: string, source: string, expectedLength?: number): Float32Array {
  const bytes = base64ToBytes(text, what, source, expectedLength === undefined ? undefined : expectedLength * 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function base64ToUint32(text: unknown, what: string, source: string): Uint32Array {
  const bytes = base64ToBytes(text, what, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

function halfBase64ToFloat32(text: unknown, kind: 'bf16' | 'f16', source: string): Float32Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new ModelFormatError(source, `${kind} array: expected base64 text`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 2 !== 0) throw new ModelFormatError(source, `${kind} array: odd byte count ${bytes.length}`);
  const out = new Float32Array(bytes.length / 2);
  if (kind === 'bf16') decodeBf16Into(bytes, out.length, out, 0);
  else decodeF16Into(bytes, out.length, out, 0);
  return out;
}

/** Serializes with typed arrays as base64; `space` for human-readable files. */
export function serializeFingerprint(fp: Fingerprint, space?: number): string {
  return JSON.stringify(
    fp,
    (_key, value: unknown) => {
      if (value instanceof Float32Array) return encodeFloatArray(value);
      if (value instanceof Uint32Array) return { u32: uint32ToBase64(value) };
      return value;
    },
    space,
  );
}

/** Parses and validates a fingerprint document; throws ModelFormatError naming `source` on any fault. */
export function parseFingerprint(text: string, source: string): Fingerprint {
  if (text.length > MAX_FINGERPRINT_JSON_BYTES) throw new ModelFormatError(source, 'fingerprint document is too large');
  let raw: unknown;
  try {
    raw = JSON.parse(text, (_key, value: unknown) => {
      if (isObject(value) && Object.keys(value).length === 1) {
        if ('f32' in value) return base64ToFloat32(value.f32, 'float32 array', source);
        if ('bf16' in value) return halfBase64ToFloat32(value.bf16, 'bf16', source);
        if ('f16' in value) return halfBase64ToFloat32(value.f16, 'f16', source);
        if ('u32' in value) return base64ToUint32(value.u32, 'uint32 array', source);
      }
      return value;
    });
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(source, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return validateFingerprint(raw, source);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isFingerprintDocument(raw: unknown): boolean {
  return isObject(raw) && raw.schema === FINGERPRINT_SCHEMA;
}

function validateFingerprint(raw: unknown, source: string): Fingerprint {
  const fail = (what: string): never => {
    throw new ModelFormatError(source, `not a valid Lineage Lens fingerprint: ${what}`);
  };
  if (!isObject(raw) || raw.schema !== FINGERPRINT_SCHEMA) fail(`missing "schema": "${FINGERPRINT_SCHEMA}"`);
  const fp = raw as Record<string, unknown>;
  if (fp.schemaVersion !== FINGERPRINT_SCHEMA_VERSION) fail(`schema version ${String(fp.schemaVersion)} is not supported (expected ${FINGERPRINT_SCHEMA_VERSION})`);
  for (const key of ['tensors', 'vectors', 'tokenRows', 'matrices', 'profiles', 'files']) {
    if (!Array.isArray(fp[key])) fail(`"${key}" must be an array`);
  }
  if (!isObject(fp.model) || !isObject(fp.samplingPlan) || !isObject(fp.declared)) fail('"model", "samplingPlan" and "declared" must be objects');
  const isIndex = (v: unknown, below: number) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < below;
  for (const v of fp.vectors as unknown[]) {
    if (!isObject(v) || !(v.values instanceof Float32Array) || typeof v.role !== 'string') fail('a vector signal is malformed');
  }
  for (const t of fp.tokenRows as unknown[]) {
    if (!isObject(t) || !(t.values instanceof Float32Array) || !Array.isArray(t.tokens) || !t.tokens.every((s) => typeof s === 'string')) fail('a token-row signal is malformed');
    const tr = t as { rows: unknown; cols: unknown; tokens: string[]; values: Float32Array };
    if (!Number.isInteger(tr.cols) || (tr.cols as number) < 1 || tr.values.length !== tr.tokens.length * (tr.cols as number)) fail('token rows do not match their declared shape');
  }
  for (const m of fp.matrices as unknown[]) {
    if (!isObject(m) || !(m.values instanceof Float32Array) || !Array.isArray(m.rowIndices)) fail('a matrix signal is malformed');
    const mr = m as { rows: unknown; cols: unknown; rowIndices: unknown[]; values: Float32Array };
    if (!Number.isInteger(mr.rows) || !Number.isInteger(mr.cols) || (mr.cols as number) < 1) fail('a matrix signal has a bad shape');
    if (!mr.rowIndices.every((r) => isIndex(r, mr.rows as number))) fail('a matrix signal has row indices outside its shape');
    if (mr.values.length !== mr.rowIndices.length * (mr.cols as number)) fail('matrix rows do not match their declared shape');
  }
  if (fp.tokenizer !== undefined) {
    if (!isObject(fp.tokenizer) || !(fp.tokenizer.minhash instanceof Uint32Array) || typeof fp.tokenizer.tokensHash !== 'string') fail('"tokenizer" is malformed');
  }
  if (typeof fp.bytesRead !== 'number') fail('"bytesRead" must be a number');
  return raw as unknown as Fingerprint;
}
