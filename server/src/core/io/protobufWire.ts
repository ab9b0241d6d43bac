// A minimal, bounded reader of the protobuf wire format (varints, length-delimited fields,
// fixed 32/64-bit fields), enough to walk messages and skip the fields we do not need.
import { BinaryCursor } from './binaryReader';

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
