// A minimal, bounded reader of the protobuf wire format (varints, length-delimited fields,
// fixed 32/64-bit fields), over bytes in memory or streamed from a ByteSource by field headers.
import { BinaryCursor } from './binaryReader';
import { checkReadRange, type ByteSource } from './byteSource';
import { ModelFormatError } from '../errors';

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

function isWireType(value: number): value is WireType {
  return value === WireType.Varint || value === WireType.Fixed64 || value === WireType.LengthDelimited || value === WireType.Fixed32;
}

export interface FieldKey {
  fieldNumber: number;
  wireType: WireType;
}

/** Reads a varint of up to 64 bits; rejects encodings longer than 10 bytes or wider than 64 bits. */
export function readVarint64(cursor: BinaryCursor): bigint {
  let value = 0n;
  for (let index = 0; index < 10; index++) {
    const byte = cursor.u8();
    // The tenth byte carries only bit 63; anything more overflows 64 bits.
    if (index === 9 && byte > 1) cursor.fail('varint overflows 64 bits');
    value |= BigInt(byte & 0x7f) << BigInt(7 * index);
    if ((byte & 0x80) === 0) return value;
  }
  return cursor.fail('varint is longer than 10 bytes');
}

/** Reads an unsigned varint that must fit a JS safe integer (lengths, enums, field keys). */
export function readVarint(cursor: BinaryCursor): number {
  const start = cursor.position;
  let value = 0;
  let multiplier = 1;
  // Up to 7 bytes (49 bits) stay exact in a double; longer ones take the 64-bit path.
  for (let index = 0; index < 7; index++) {
    const byte = cursor.u8();
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return value;
    multiplier *= 128;
  }
  cursor.position = start;
  const wide = readVarint64(cursor);
  if (wide > BigInt(Number.MAX_SAFE_INTEGER)) {
    cursor.position = start;
    cursor.fail(`varint ${wide} is too large`);
  }
  return Number(wide);
}

/** Reads an int32 field (negative values are written as 10-byte two's-complement varints). */
export function readInt32(cursor: BinaryCursor): number {
  return Number(BigInt.asIntN(32, readVarint64(cursor)));
}

export function readFieldKey(cursor: BinaryCursor): FieldKey {
  const key = readVarint(cursor);
  const fieldNumber = Math.floor(key / 8);
  const wireType = key % 8;
  if (fieldNumber === 0) cursor.fail('protobuf field number 0 is invalid');
  if (!isWireType(wireType)) {
    // Groups (3, 4) are deprecated and never used by the formats we read; 6 and 7 do not exist.
    return cursor.fail(`unsupported protobuf wire type ${wireType} (field ${fieldNumber})`);
  }
  return { fieldNumber, wireType };
}

/** The payload of a length-delimited field, as a cursor whose errors report file offsets. */
export function readLengthDelimited(cursor: BinaryCursor): BinaryCursor {
  const length = readVarint(cursor);
  const offset = cursor.baseOffset + cursor.position;
  return new BinaryCursor(cursor.take(length), cursor.fileName, offset);
}

export function skipField(cursor: BinaryCursor, wireType: WireType): void {
  switch (wireType) {
    case WireType.Varint:
      readVarint64(cursor);
      return;
    case WireType.Fixed64:
      cursor.skip(8);
      return;
    case WireType.LengthDelimited:
      cursor.skip(readVarint(cursor));
      return;
    case WireType.Fixed32:
      cursor.skip(4);
      return;
  }
}

/** Fails unless a known field arrived with the wire type its schema declares. */
export function expectWireType(cursor: BinaryCursor, key: FieldKey, expected: WireType, fieldName: string): void {
  if (key.wireType !== expected) cursor.fail(`field ${fieldName} (${key.fieldNumber}) has wire type ${key.wireType}, expected ${expected}`);
}

/**
 * Reads a ByteSource through one forward-moving window, so walking a large message field by field
 * costs one positional read per window instead of one per field header.
 */
export class WindowedByteReader {
  private windowStart = 0;
  private window: Uint8Array = new Uint8Array(0);

  constructor(
    readonly source: ByteSource,
    private readonly windowBytes = 64 * 1024,
  ) {}

  /** Exactly `length` bytes at `offset`; the view stays valid after later reads move the window. */
  async bytes(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(this.source, offset, length);
    const windowEnd = this.windowStart + this.window.length;
    if (offset >= this.windowStart && offset + length <= windowEnd) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    // Payloads larger than a window are read on their own and do not evict the window.
    if (length > this.windowBytes) return this.source.read(offset, length);
    const readLength = Math.min(this.windowBytes, this.source.sizeBytes - offset);
    this.window = await this.source.read(offset, readLength);
    this.windowStart = offset;
    return this.window.subarray(0, length);
  }
}

/** One field of a message walked with `streamMessageFields`: where its value is, not the value itself. */
export interface StreamedField extends FieldKey {
  /** Absolute offset of the value: a length-delimited payload, the fixed bytes, or the varint's bytes. */
  valueOffset: number;
  valueLength: number;
  /** The decoded value of a varint field (0n for other wire types). */
  varint: bigint;
}

/** A field key plus a length or varint value never takes more than 20 bytes. */
const MAX_FIELD_HEADER_BYTES = 20;

/**
 * Walks the fields of the message stored at [start, end) of the reader's source, reading only field
 * headers. Every value must fit inside the enclosing message, so a hostile length fails here, typed.
 */
export async function* streamMessageFields(reader: WindowedByteReader, start: number, end: number): AsyncGenerator<StreamedField> {
  const fileName = reader.source.name;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > reader.source.sizeBytes) {
    throw new ModelFormatError(fileName, `message range ${start}..${end} lies outside the file (${reader.source.sizeBytes} bytes)`, start);
  }
  let position = start;
  while (position < end) {
    const header = await reader.bytes(position, Math.min(MAX_FIELD_HEADER_BYTES, end - position));
    const cursor = new BinaryCursor(header, fileName, position);
    const key = readFieldKey(cursor);
    let varint = 0n;
    let valueLength = 0;
    const valueStart = cursor.position;
    switch (key.wireType) {
      case WireType.Varint:
        varint = readVarint64(cursor);
        valueLength = cursor.position - valueStart;
        break;
      case WireType.LengthDelimited:
        valueLength = readVarint(cursor);
        break;
      case WireType.Fixed32:
        valueLength = 4;
        break;
      case WireType.Fixed64:
        valueLength = 8;
        break;
    }
    const valueOffset = key.wireType === WireType.Varint ? position + valueStart : position + cursor.position;
    const remaining = end - valueOffset;
    if (valueLength > remaining) {
      throw new ModelFormatError(
        fileName,
        `protobuf field ${key.fieldNumber} claims ${valueLength} bytes but only ${remaining} remain in its message (truncated or corrupt file)`,
        position,
      );
    }
    yield { ...key, valueOffset, valueLength, varint };
    position = valueOffset + valueLength;
  }
}

/** Fails unless a streamed field arrived with the wire type its schema declares. */
export function expectStreamedWireType(fileName: string, field: StreamedField, expected: WireType, fieldName: string): void {
  if (field.wireType !== expected) {
    throw new ModelFormatError(fileName, `field ${fieldName} (${field.fieldNumber}) has wire type ${field.wireType}, expected ${expected}`, field.valueOffset);
  }
}
