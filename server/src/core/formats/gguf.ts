// GGUF (llama.cpp / ggml) container parser: header, metadata key-values and tensor infos, read
// through bounded positional reads of a ByteSource, validated before anything is trusted.
import { ModelFormatError } from '../errors';
import { withLocalFile, type ByteSource } from '../io/byteSource';
import { decodeUtf8 } from '../io/binaryReader';
import { ELEMENT_BYTES, isElementDType, type DType } from './dtypes';
import { GGML_BLOCK_LAYOUTS, type BlockLayout } from './ggmlQuants';
import type { TensorInfo } from './types';

/**
 * A metadata value. Integers up to 32 bits, floats and bools are numbers / booleans; 64-bit
 * integers are numbers when they are safe integers and bigints otherwise; arrays may nest.
 */
export type GgufValue = number | bigint | string | boolean | GgufValue[];

export interface GgufFile {
  file: string;
  version: number;
  metadata: Map<string, GgufValue>;
  /**
   * dataOffset is absolute; shape is ne[] reversed (outermost first, PyTorch order).
   * byteLength is exact for every type with a known layout. For a ggml type id this code does
   * not know (dtype 'GGML_UNKNOWN'), byteLength is the span up to the next tensor's start (or
   * the end of the file), an upper bound that may include alignment padding.
   */
  tensors: TensorInfo[];
  /** Tensor name -> raw ggml type id, for reporting (names in GGML_TYPE_NAMES). */
  ggmlTypes: Map<string, number>;
  alignment: number;
  /** Absolute offset of the data section (end of header rounded up to `alignment`). */
  dataOffset: number;
  /** Bytes of header (magic through the last tensor info), before alignment padding. */
  headerBytes: number;
  /** Oddities that real files have and that we tolerate (e.g. a repeated metadata key). */
  warnings: string[];
}

export interface GgufReadOptions {
  /** First fetch size for the header; later fetches double. Default 1 MiB. */
  initialChunkBytes?: number;
  /** Hard cap on header bytes (further capped by the file size). Default 256 MiB. */
  maxHeaderBytes?: number;
  /** Folder the file must resolve inside (readGgufFile; default: its own folder, see LocalFileSource.open). */
  root?: string;
}

/**
 * ggml type ids (ggml.h `enum ggml_type`) -> our DType, which uses ggml's own names for every
 * type a GGUF tensor can have. Ids 4 and 5 were retired before GGUF existed.
 */
const GGML_TYPE_DTYPES: Readonly<Record<number, DType>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1',
  10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K',
  16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16',
  31: 'Q4_0_4_4', 32: 'Q4_0_4_8', 33: 'Q4_0_8_8', 34: 'TQ1_0', 35: 'TQ2_0',
  36: 'IQ4_NL_4_4', 37: 'IQ4_NL_4_8', 38: 'IQ4_NL_8_8', 39: 'MXFP4',
};

/** ggml type id -> ggml's name for it. */
export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = GGML_TYPE_DTYPES;

/** Our DType for a ggml type id; ids this code does not know map to GGML_UNKNOWN (no layout). */
export function dtypeOfGgmlType(typeId: number): DType {
  return GGML_TYPE_DTYPES[typeId] ?? 'GGML_UNKNOWN';
}

/** Elements and bytes per storage block of a GGUF tensor dtype; undefined for GGML_UNKNOWN. */
function ggufLayout(dtype: DType): BlockLayout | undefined {
  if (isElementDType(dtype)) return { blockElements: 1, blockBytes: ELEMENT_BYTES[dtype] };
  return dtype === 'GGML_UNKNOWN' ? undefined : GGML_BLOCK_LAYOUTS[dtype];
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
const DEFAULT_INITIAL_CHUNK_BYTES = 1024 * 1024;
const DEFAULT_MAX_HEADER_BYTES = 256 * 1024 * 1024;
const MAX_ARRAY_DEPTH = 4;
const MAX_DIMS = 8;
/** One array's element limit (real vocabularies hold ~262k tokens, merges ~500k). */
const MAX_ARRAY_ELEMENTS = 16 * 1024 * 1024;
/** All array elements of one header together, so that many large arrays cannot add up to gigabytes of JS values. */
const MAX_TOTAL_ARRAY_ELEMENTS = 32 * 1024 * 1024;
const MAX_TENSOR_NAME_BYTES = 4096;

const enum ValueType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
}
const VALUE_TYPE_NAMES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];

/**
 * A forward-only reader over the start of a file whose header size is unknown up front: it
 * fetches chunks (growing) as values need them, keeps only unread bytes, never reads past the
 * file or the header cap. Callers check `available` and `await fill(n)` before sync reads, which
 * keeps the per-value cost free of promise overhead when the bytes are already loaded.
 */
class HeaderReader {
  private buffer = new Uint8Array(0);
  private view = new DataView(this.buffer.buffer);
  /** Absolute file offset of buffer[0]. */
  private bufferStart = 0;
  private position = 0;
  private nextChunkBytes: number;
  readonly limit: number;

  constructor(
    private readonly source: ByteSource,
    initialChunkBytes: number,
    maxHeaderBytes: number,
  ) {
    this.nextChunkBytes = Math.max(16, Math.floor(initialChunkBytes));
    this.limit = Math.min(source.sizeBytes, maxHeaderBytes);
  }

  get fileName(): string {
    return this.source.name;
  }

  /** Absolute offset of the next byte to read. */
  get offset(): number {
    return this.bufferStart + this.position;
  }

  /** Header bytes that may still be read before hitting the file end or the header cap. */
  get remainingInLimit(): number {
    return this.limit - this.offset;
  }

  /** How to name what bounds the header, for messages: the file's end or the header cap. */
  get limitDescription(): string {
    return this.limit < this.source.sizeBytes ? `the ${this.limit} byte header limit` : 'the end of the file';
  }

  get available(): number {
    return this.buffer.length - this.position;
  }

  fail(message: string, offset = this.offset): never {
    throw new ModelFormatError(this.source.name, message, offset);
  }

  /** Loads at least `n` unread bytes, or fails naming the truncation or the cap. */
  async fill(n: number): Promise<void> {
    if (n <= this.available) return;
    if (n > this.remainingInLimit) {
      if (this.offset + n > this.source.sizeBytes) {
        this.fail(`file is truncated: the header needs ${n} more bytes but the file ends at byte ${this.source.sizeBytes}`);
      }
      this.fail(`GGUF header runs past ${this.limitDescription}`);
    }
    const loadedEnd = this.bufferStart + this.buffer.length;
    const want = Math.min(Math.max(n - this.available, this.nextChunkBytes), this.limit - loadedEnd);
    this.nextChunkBytes = Math.min(this.nextChunkBytes * 2, 64 * 1024 * 1024);
    const fresh = await this.source.read(loadedEnd, want);
    const next = new Uint8Array(this.available + fresh.length);
    next.set(this.buffer.subarray(this.position), 0);
    next.set(fresh, this.available);
    this.bufferStart = this.offset;
    this.buffer = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.position = 0;
  }

  private take(n: number): number {
    // A programming error, not a file error: every caller fills first.
    if (n > this.available) throw new Error(`GGUF reader: ${n} bytes read without fill`);
    const at = this.position;
    this.position += n;
    return at;
  }

  u8(): number { return this.buffer[this.take(1)]!; }
  i8(): number { return this.view.getInt8(this.take(1)); }
  u16(): number { return this.view.getUint16(this.take(2), true); }
  i16(): number { return this.view.getInt16(this.take(2), true); }
  u32(): number { return this.view.getUint32(this.take(4), true); }
  i32(): number { return this.view.getInt32(this.take(4), true); }
  f32(): number { return this.view.getFloat32(this.take(4), true); }
  f64(): number { return this.view.getFloat64(this.take(8), true); }
  u64Big(): bigint { return this.view.getBigUint64(this.take(8), true); }
  i64Big(): bigint { return this.view.getBigInt64(this.take(8), true); }
  utf8(n: number): string {
    const at = this.take(n);
    return decodeUtf8(this.buffer.subarray(at, at + n));
  }
}

/** Reads the header of a GGUF file: metadata, tensor infos (validated), alignment and data offset. */
export async function readGgufHeader(source: ByteSource, options: GgufReadOptions = {}): Promise<GgufFile> {
  const reader = new HeaderReader(
    source,
    options.initialChunkBytes ?? DEFAULT_INITIAL_CHUNK_BYTES,
    options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
  );
  if (source.sizeBytes < 8) reader.fail(`file is too small to be GGUF (${source.sizeBytes} bytes)`, 0);
  await reader.fill(8);
  const magic = reader.u32();
  if (magic !== GGUF_MAGIC) reader.fail(`not a GGUF file (magic bytes ${hex(magic)}, expected "GGUF")`, 0);
  const version = reader.u32();
  if (version === 0 || version > 3) {
    const swapped = ((version & 0xff) << 24 | (version & 0xff00) << 8 | (version >>> 8) & 0xff00 | version >>> 24) >>> 0;
    if (swapped >= 1 && swapped <= 3) reader.fail(`big-endian GGUF (version ${swapped}) is not supported`, 4);
    reader.fail(`unsupported GGUF version ${version} (this reader knows versions 1 to 3)`, 4);
  }
  const parser = new GgufParser(reader, version);

  // Bound the counts by the bytes left: a tensor info takes at least 24 bytes (name length,
  // n_dims, type, offset) and a key-value at least 13 (key length, type, a 1-byte value); v1's
  // 4-byte lengths make those 20 and 9.
  await reader.fill(version === 1 ? 8 : 16);
  const tensorCount = parser.count('tensor count', version === 1 ? 20 : 24);
  const kvCount = parser.count('metadata key-value count', version === 1 ? 9 : 13);

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, number>();
  const warnings: string[] = [];
  for (let i = 0; i < kvCount; i++) {
    const keyOffset = reader.offset;
    const key = await parser.string('metadata key');
    if (reader.available < 4) await reader.fill(4);
    const type = reader.u32();
    const value = await parser.value(type, 0, key);
    // Real files repeat keys (llama.cpp's ggml-vocab-dbrx.gguf has general.file_type twice);
    // llama.cpp's lookup returned the first, so that one wins.
    if (metadata.has(key)) {
      warnings.push(`metadata key "${key}" appears more than once (byte ${keyOffset}); the first value is used`);
      continue;
    }
    metadata.set(key, value);
    metadataTypes.set(key, type);
  }

  const alignment = readAlignment(reader, metadata, metadataTypes);

  const infos: RawTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const info = await parser.tensorInfo();
    if (names.has(info.name)) reader.fail(`duplicate tensor name "${info.name}"`, info.headerOffset);
    names.add(info.name);
    infos.push(info);
  }

  const headerBytes = reader.offset;
  const dataOffset = Math.ceil(headerBytes / alignment) * alignment;
  if (infos.length > 0 && dataOffset > source.sizeBytes) {
    reader.fail(`the data section would start at byte ${dataOffset}, past the end of the file (${source.sizeBytes} bytes)`);
  }
  const { tensors, ggmlTypes } = placeTensors(source, infos, alignment, dataOffset);
  return { file: source.name, version, metadata, tensors, ggmlTypes, alignment, dataOffset, headerBytes, warnings };
}

/** Opens a local GGUF file, reads its header, and closes it. */
export async function readGgufFile(path: string, options?: GgufReadOptions): Promise<GgufFile> {
  return withLocalFile(path, (source) => readGgufHeader(source, options), options?.root);
}

interface RawTensorInfo {
  name: string;
  /** ggml order: ne[0] is the innermost (fastest varying) dimension. */
  ne: number[];
  typeId: number;
  /** Relative to the data section. */
  offset: number;
  headerOffset: number;
}

class GgufParser {
  private arrayElementsSeen = 0;

  constructor(
    private readonly reader: HeaderReader,
    private readonly version: number,
  ) {}

  /** v1 stores counts and lengths as u32, later versions as u64. */
  private get sizeBytes(): number {
    return this.version === 1 ? 4 : 8;
  }

  /** Reads a length field (already filled); fails unless it is a safe integer. */
  private length(what: string): number {
    const at = this.reader.offset;
    if (this.version === 1) return this.reader.u32();
    const value = this.reader.u64Big();
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.reader.fail(`${what} ${value} is out of range`, at);
    return Number(value);
  }

  /** Reads a count whose items take at least `minItemBytes` each, and bounds it by the bytes left. */
  count(what: string, minItemBytes: number): number {
    const at = this.reader.offset;
    const n = this.length(what);
    if (n * minItemBytes > this.reader.remainingInLimit) {
      this.reader.fail(`${what} ${n} cannot fit in the ${this.reader.remainingInLimit} bytes before ${this.reader.limitDescription}`, at);
    }
    return n;
  }

  async string(what: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<string> {
    const r: HeaderReader = this.reader;
    if (r.available < this.sizeBytes) await r.fill(this.sizeBytes);
    const at = r.offset;
    const n = this.length(`${what} length`);
    if (n > maxBytes) r.fail(`${what} is ${n} bytes long (at most ${maxBytes})`, at);
    if (n > r.remainingInLimit) r.fail(`${what} length ${n} runs past ${r.limitDescription} (${r.remainingInLimit} bytes remain)`, at);
    if (r.available < n) await r.fill(n);
    return r.utf8(n);
  }

  async value(type: number, depth: number, key: string): Promise<GgufValue> {
    const r: HeaderReader = this.reader;
    const size = fixedValueBytes(type);
    if (size !== undefined) {
      if (r.available < size) await r.fill(size);
      return this.fixedValue(type);
    }
    if (type === ValueType.STRING) return this.string(`string value of "${key}"`);
    if (type !== ValueType.ARRAY) r.fail(`metadata "${key}" has unknown value type ${type}`, r.offset - 4);

    if (depth >= MAX_ARRAY_DEPTH) r.fail(`metadata "${key}" nests arrays deeper than ${MAX_ARRAY_DEPTH} levels`);
    if (r.available < 4 + this.sizeBytes) await r.fill(4 + this.sizeBytes);
    const typeAt = r.offset;
    const elementType = r.u32();
    const elementMinBytes = minValueBytes(elementType, this.sizeBytes);
    if (elementMinBytes === undefined) r.fail(`metadata "${key}" is an array of unknown value type ${elementType}`, typeAt);
    const countAt = r.offset;
    const n = this.count(`array length of "${key}"`, elementMinBytes);
    if (n > MAX_ARRAY_ELEMENTS) r.fail(`metadata "${key}" has ${n} array elements (limit ${MAX_ARRAY_ELEMENTS})`, countAt);
    this.arrayElementsSeen += n;
    if (this.arrayElementsSeen > MAX_TOTAL_ARRAY_ELEMENTS) {
      r.fail(`metadata arrays hold more than ${MAX_TOTAL_ARRAY_ELEMENTS} elements in total`, countAt);
    }
    const items: GgufValue[] = new Array<GgufValue>(n);
    const fixed = fixedValueBytes(elementType);
    if (fixed !== undefined) {
      for (let i = 0; i < n; i++) {
        if (r.available < fixed) await r.fill(Math.min((n - i) * fixed, 1024 * 1024));
        items[i] = this.fixedValue(elementType);
      }
    } else {
      for (let i = 0; i < n; i++) items[i] = await this.value(elementType, depth + 1, key);
    }
    return items;
  }

  /** A fixed-size scalar whose bytes are already loaded. */
  private fixedValue(type: number): GgufValue {
    const r: HeaderReader = this.reader;
    switch (type) {
      case ValueType.U8: return r.u8();
      case ValueType.I8: return r.i8();
      case ValueType.U16: return r.u16();
      case ValueType.I16: return r.i16();
      case ValueType.U32: return r.u32();
      case ValueType.I32: return r.i32();
      case ValueType.F32: return r.f32();
      case ValueType.BOOL: return r.u8() !== 0;
      case ValueType.U64: return narrow(r.u64Big());
      case ValueType.I64: return narrow(r.i64Big());
      case ValueType.F64: return r.f64();
      default: throw new Error(`GGUF reader: ${type} is not a fixed-size value type`);
    }
  }

  async tensorInfo(): Promise<RawTensorInfo> {
    const r: HeaderReader = this.reader;
    const headerOffset = r.offset;
    const name = await this.string('tensor name', MAX_TENSOR_NAME_BYTES);
    if (r.available < 4) await r.fill(4);
    const nDims = r.u32();
    if (nDims > MAX_DIMS) r.fail(`tensor "${name}" has ${nDims} dimensions (at most ${MAX_DIMS})`, r.offset - 4);
    const dimBytes = this.sizeBytes;
    if (r.available < nDims * dimBytes + 12) await r.fill(nDims * dimBytes + 12);
    const ne: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const at = r.offset;
      const dim = this.length(`tensor "${name}" dimension`);
      if (dim < 1) r.fail(`tensor "${name}" has a dimension of size ${dim}`, at);
      elements *= dim;
      if (!Number.isSafeInteger(elements)) r.fail(`tensor "${name}" has too many elements (shape ${[...ne, dim].reverse().join('x')}...)`, at);
      ne.push(dim);
    }
    const typeId = r.u32();
    const offsetAt = r.offset;
    const offset = r.u64Big();
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`tensor "${name}" data offset ${offset} is out of range`, offsetAt);
    return { name, ne, typeId, offset: Number(offset), headerOffset };
  }
}

function readAlignment(reader: HeaderReader, metadata: Map<string, GgufValue>, types: Map<string, number>): number {
  const value = metadata.get('general.alignment');
  if (value === undefined) return DEFAULT_ALIGNMENT;
  const type = types.get('general.alignment')!;
  const isInteger = type <= ValueType.I32 || type === ValueType.U64 || type === ValueType.I64;
  if (!isInteger || typeof value !== 'number' || value < 1 || !Number.isSafeInteger(value) || (value & (value - 1)) !== 0 || value > 2 ** 30) {
    reader.fail(`general.alignment must be a power-of-two integer, got ${String(value)} (${VALUE_TYPE_NAMES[type] ?? type})`);
  }
  return value;
}

/** Checks and places every tensor in the data section; returns TensorInfos in header order. */
function placeTensors(
  source: ByteSource,
  infos: readonly RawTensorInfo[],
  alignment: number,
  dataOffset: number,
): { tensors: TensorInfo[]; ggmlTypes: Map<string, number> } {
  const file = source.name;
  const dataBytes = source.sizeBytes - dataOffset;
  const fail = (message: string, offset?: number): never => {
    throw new ModelFormatError(file, message, offset);
  };
  const lengths = new Map<RawTensorInfo, number | undefined>();
  for (const info of infos) {
    const dtype = dtypeOfGgmlType(info.typeId);
    if (info.offset % alignment !== 0) {
      fail(`tensor "${info.name}" data offset ${info.offset} is not a multiple of the alignment ${alignment}`, info.headerOffset);
    }
    if (info.offset > dataBytes) {
      fail(`tensor "${info.name}" starts at data offset ${info.offset}, past the end of the file (data section holds ${dataBytes} bytes)`, info.headerOffset);
    }
    const layout = ggufLayout(dtype);
    if (layout === undefined) {
      lengths.set(info, undefined);
      continue;
    }
    const inner = info.ne[0] ?? 1;
    if (inner % layout.blockElements !== 0) {
      fail(`tensor "${info.name}" (${GGML_TYPE_NAMES[info.typeId]}) has rows of ${inner} elements, not a multiple of the block size ${layout.blockElements}`, info.headerOffset);
    }
    const elements = info.ne.reduce((a, b) => a * b, 1);
    const byteLength = (elements / layout.blockElements) * layout.blockBytes;
    if (!Number.isSafeInteger(byteLength) || info.offset + byteLength > dataBytes) {
      fail(
        `tensor "${info.name}" needs bytes ${dataOffset + info.offset}..${dataOffset + info.offset + byteLength} but the file has ${source.sizeBytes}`,
        info.headerOffset,
      );
    }
    lengths.set(info, byteLength);
  }

  // Overlap check in data order; unknown-type tensors extend to the next start (see GgufFile.tensors).
  const byOffset = [...infos].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < byOffset.length; i++) {
    const info = byOffset[i]!;
    const nextStart = i + 1 < byOffset.length ? byOffset[i + 1]!.offset : dataBytes;
    let length = lengths.get(info);
    if (length === undefined) {
      length = nextStart - info.offset;
      lengths.set(info, length);
    }
    if (info.offset + length > nextStart) {
      const next = byOffset[i + 1]!;
      fail(
        `tensors "${info.name}" (data bytes ${info.offset}..${info.offset + length}) and "${next.name}" (from ${next.offset}) overlap`,
        next.headerOffset,
      );
    }
  }

  const ggmlTypes = new Map<string, number>();
  const tensors = infos.map((info): TensorInfo => {
    ggmlTypes.set(info.name, info.typeId);
    return {
      name: info.name,
      dtype: dtypeOfGgmlType(info.typeId),
      shape: [...info.ne].reverse(),
      file,
      dataOffset: dataOffset + info.offset,
      byteLength: lengths.get(info)!,
    };
  });
  return { tensors, ggmlTypes };
}

function fixedValueBytes(type: number): number | undefined {
  switch (type) {
    case ValueType.U8: case ValueType.I8: case ValueType.BOOL: return 1;
    case ValueType.U16: case ValueType.I16: return 2;
    case ValueType.U32: case ValueType.I32: case ValueType.F32: return 4;
    case ValueType.U64: case ValueType.I64: case ValueType.F64: return 8;
    default: return undefined;
  }
}

/** Fewest bytes one value of `type` can take (a string is at least its length field). */
function minValueBytes(type: number, lengthBytes: number): number | undefined {
  if (type === ValueType.STRING) return lengthBytes;
  if (type === ValueType.ARRAY) return 4 + lengthBytes;
  return fixedValueBytes(type);
}

function narrow(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function hex(u32: number): string {
  return `0x${u32.toString(16).padStart(8, '0')}`;
}
