// Element types of every container we read, their byte layout, and decoding to Float32.
// Element dtypes use safetensors' names; GGUF block-quantized types use ggml's names.
import { ModelFormatError, UnsupportedError } from '../errors';
import { GGML_BLOCK_CODECS, GGML_BLOCK_LAYOUTS, type BlockDType } from './ggmlQuants';
import { decodeBf16Into, decodeF16Into, decodeF32Into, f8e4m3ToNumber, f8e5m2ToNumber } from './floats';

export type ElementDType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export type DType = ElementDType | BlockDType;

export const ELEMENT_BYTES: Readonly<Record<ElementDType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

/** How many elements make one indivisible storage unit, and how many bytes it takes. */
export interface DTypeLayout {
  blockElements: number;
  blockBytes: number;
}

export function isElementDType(dtype: string): dtype is ElementDType {
  return Object.prototype.hasOwnProperty.call(ELEMENT_BYTES, dtype);
}

export function dtypeLayout(dtype: DType): DTypeLayout {
  if (isElementDType(dtype)) return { blockElements: 1, blockBytes: ELEMENT_BYTES[dtype] };
  // Layouts are known for every named ggml type, even those we cannot decode (sizes stay exact).
  const layout = dtype === 'GGML_UNKNOWN' ? undefined : GGML_BLOCK_LAYOUTS[dtype];
  if (!layout) throw new UnsupportedError(`tensor type ${dtype} has no known byte layout`);
  return layout;
}

/** Byte length of `elementCount` elements; undefined when the count does not fill whole blocks. */
export function byteLengthOf(dtype: DType, elementCount: number): number | undefined {
  const { blockElements, blockBytes } = dtypeLayout(dtype);
  if (elementCount % blockElements !== 0) return undefined;
  return (elementCount / blockElements) * blockBytes;
}

/**
 * Decodes `elementCount` elements of `dtype` from `bytes` (little-endian) into `out` at `outOffset`.
 * `bytes` must hold exactly the bytes of those elements (whole blocks for block types).
 */
export function decodeInto(
  dtype: DType,
  bytes: Uint8Array,
  elementCount: number,
  out: Float32Array,
  outOffset: number,
  fileName: string,
  /** BF16 only: also receives the values' BF16 form at `outOffset` (see decodeBf16Into). */
  bf16Form?: Uint16Array,
): void {
  const expected = byteLengthOf(dtype, elementCount);
  if (expected === undefined || expected !== bytes.length) {
    throw new ModelFormatError(fileName, `cannot decode ${elementCount} ${dtype} elements from ${bytes.length} bytes`);
  }
  if (!isElementDType(dtype)) {
    const codec = GGML_BLOCK_CODECS[dtype];
    if (!codec) throw new UnsupportedError(`${fileName}: decoding ${dtype} is not supported`);
    codec.decode(bytes, out.subarray(outOffset, outOffset + elementCount));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = elementCount;
  switch (dtype) {
    case 'F32':
      decodeF32Into(bytes, n, out, outOffset);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      decodeF16Into(bytes, n, out, outOffset);
      break;
    case 'BF16':
      decodeBf16Into(bytes, n, out, outOffset, bf16Form);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[outOffset + i] = Number(view.getBigInt64(i * 8, true));
      break;
    case 'U64':
      for (let i = 0; i < n; i++) out[outOffset + i] = Number(view.getBigUint64(i * 8, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getInt32(i * 4, true);
      break;
    case 'U32':
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getUint32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getInt16(i * 2, true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getUint16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getInt8(i);
      break;
    case 'U8':
      for (let i = 0; i < n; i++) out[outOffset + i] = bytes[i]!;
      break;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[outOffset + i] = bytes[i] ? 1 : 0;
      break;
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[outOffset + i] = f8e4m3ToNumber(bytes[i]!);
      break;
    case 'F8_E5M2':
      for (let i = 0; i < n; i++) out[outOffset + i] = f8e5m2ToNumber(bytes[i]!);
      break;
  }
}

export function decodeToFloat32(dtype: DType, bytes: Uint8Array, elementCount: number, fileName: string): Float32Array {
  const out = new Float32Array(elementCount);
  decodeInto(dtype, bytes, elementCount, out, 0, fileName);
  return out;
}
