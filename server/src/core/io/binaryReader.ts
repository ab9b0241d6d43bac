// A little-endian cursor over bytes already in memory (headers, pickles, protobufs).
// Every read checks bounds and throws a ModelFormatError naming the file and offset.
import { ModelFormatError } from '../errors';

export class BinaryCursor {
  private readonly view: DataView;
  /** Current position, relative to the start of `bytes`. */
  position = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly fileName: string,
    /** Absolute file offset of bytes[0], so errors report file positions. */
    readonly baseOffset = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  fail(message: string): never {
    throw new ModelFormatError(this.fileName, message, this.baseOffset + this.position);
  }

  need(length: number): void {
    if (!Number.isSafeInteger(length) || length < 0 || length > this.remaining) {
      this.fail(`needs ${length} more bytes but only ${this.remaining} remain`);
    }
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.position++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.position, true);
    this.position += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.position, true);
    this.position += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.position, true);
    this.position += 4;
    return v;
  }
  /** u64 as a JS number; throws if it exceeds 2^53 (no real file needs more). */
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.position, true);
    this.position += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`64-bit value ${v} is out of range`);
    return Number(v);
  }
  i64(): number {
    this.need(8);
    const v = this.view.getBigInt64(this.position, true);
    this.position += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`64-bit value ${v} is out of range`);
    return Number(v);
  }
  f32(): number {
    this.need(4);
    const v = this.view.getFloat32(this.position, true);
    this.position += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.position, true);
    this.position += 8;
    return v;
  }
  take(length: number): Uint8Array {
    this.need(length);
    const out = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    return out;
  }
  skip(length: number): void {
    this.need(length);
    this.position += length;
  }
  utf8(length: number): string {
    return utf8Decoder.decode(this.take(length));
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}
