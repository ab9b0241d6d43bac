// Zip archives read through a ByteSource: the central directory (ZIP64 included) by positional
// reads, stored entries as windows of the file, small deflated entries inflated under a hard cap.
import { crc32, inflateRawSync } from 'node:zlib';
import { ModelFormatError } from '../errors';
import { BinaryCursor, decodeUtf8 } from '../io/binaryReader';
import { SliceSource, type ByteSource } from '../io/byteSource';

export const ZIP_METHOD_STORED = 0;
export const ZIP_METHOD_DEFLATED = 8;

export interface ZipEntry {
  /** Name as stored in the archive, checked to be a safe relative path. */
  name: string;
  compressionMethod: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** General-purpose flags (bit 0: encrypted). */
  flags: number;
  localHeaderOffset: number;
  /** Absolute offset of the entry's (possibly compressed) bytes, from the local file header. */
  dataOffset: number;
}

export interface ZipDirectory {
  entries: ZipEntry[];
  /** Entries by name; names are unique (duplicates are rejected). */
  byName: Map<string, ZipEntry>;
  isZip64: boolean;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_MIN_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const ZIP64_EOCD_MIN_BYTES = 56;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_BYTES = 30;
const ZIP64_EXTRA_ID = 0x0001;
const FLAG_ENCRYPTED = 0x0001;

/** Hard caps: no real model archive comes near them, and they bound what a hostile file can make us allocate. */
export const MAX_ZIP_ENTRIES = 1_000_000;
export const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;
/** Largest entry `readZipEntry` returns by default (pickles, small text files). */
export const DEFAULT_MAX_ENTRY_BYTES = 64 * 1024 * 1024;

/** True when the source starts like a zip archive (local header, or an empty archive's EOCD). */
export async function looksLikeZip(source: ByteSource): Promise<boolean> {
  if (source.sizeBytes < 4) return false;
  const head = new BinaryCursor(await source.read(0, 4), source.name).u32();
  return head === LOCAL_HEADER_SIGNATURE || head === EOCD_SIGNATURE;
}

/** Reads and validates the central directory, resolving each entry's data offset from its local header. */
export async function readZipDirectory(source: ByteSource): Promise<ZipDirectory> {
  const end = await findEndOfCentralDirectory(source);
  const fail = (message: string, offset?: number): never => {
    throw new ModelFormatError(source.name, `zip: ${message}`, offset);
  };
  if (end.cdOffset + end.cdSize > end.cdLimit) {
    fail(`central directory (offset ${end.cdOffset}, ${end.cdSize} bytes) runs past its end record at ${end.cdLimit}`);
  }
  if (end.cdSize > MAX_CENTRAL_DIRECTORY_BYTES) fail(`central directory of ${end.cdSize} bytes exceeds the limit`);
  // Every central header takes at least 46 bytes, so the directory size bounds the entry count.
  if (end.entryCount > Math.floor(end.cdSize / CENTRAL_HEADER_BYTES) || end.entryCount > MAX_ZIP_ENTRIES) {
    fail(`${end.entryCount} entries cannot fit in a central directory of ${end.cdSize} bytes`);
  }

  const cursor = new BinaryCursor(await source.read(end.cdOffset, end.cdSize), source.name, end.cdOffset);
  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  for (let i = 0; i < end.entryCount; i++) {
    const entry = readCentralHeader(cursor);
    if (byName.has(entry.name)) fail(`duplicate entry name ${JSON.stringify(entry.name)} (ambiguous archive)`);
    if (entry.localHeaderOffset + LOCAL_HEADER_BYTES > end.cdOffset) {
      fail(`entry ${entry.name} has its local header at ${entry.localHeaderOffset}, inside or past the central directory`);
    }
    entries.push(entry);
    byName.set(entry.name, entry);
  }
  for (const entry of entries) await resolveDataOffset(source, entry, end.cdOffset);
  return { entries, byName, isZip64: end.isZip64 };
}

interface EndOfCentralDirectory {
  entryCount: number;
  cdSize: number;
  cdOffset: number;
  /** The central directory must end at or before this offset (the ZIP64 record or the EOCD). */
  cdLimit: number;
  isZip64: boolean;
}

async function findEndOfCentralDirectory(source: ByteSource): Promise<EndOfCentralDirectory> {
  const fail = (message: string, offset?: number): never => {
    throw new ModelFormatError(source.name, `zip: ${message}`, offset);
  };
  if (source.sizeBytes < EOCD_MIN_BYTES) fail(`file of ${source.sizeBytes} bytes is too small to be a zip archive`);
  const tailLength = Math.min(source.sizeBytes, EOCD_MIN_BYTES + MAX_COMMENT_BYTES);
  const tailStart = source.sizeBytes - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  // Scan backwards: the record whose comment reaches exactly to the end of the file is the real one.
  let eocdAt = -1;
  for (let i = tailLength - EOCD_MIN_BYTES; i >= 0; i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE && i + EOCD_MIN_BYTES + view.getUint16(i + 20, true) === tailLength) {
      eocdAt = i;
      break;
    }
  }
  if (eocdAt < 0) fail('no end-of-central-directory record (not a zip archive, or truncated)');
  const eocd = new BinaryCursor(tail.subarray(eocdAt, eocdAt + EOCD_MIN_BYTES), source.name, tailStart + eocdAt);
  eocd.skip(4);
  const diskNumber = eocd.u16();
  const cdDisk = eocd.u16();
  const entriesOnDisk = eocd.u16();
  const entryCount = eocd.u16();
  const cdSize = eocd.u32();
  const cdOffset = eocd.u32();
  const eocdOffset = tailStart + eocdAt;

  const locatorOffset = eocdOffset - ZIP64_LOCATOR_BYTES;
  const hasLocator =
    locatorOffset >= 0 &&
    new BinaryCursor(await source.read(locatorOffset, 4), source.name, locatorOffset).u32() === ZIP64_LOCATOR_SIGNATURE;
  const needsZip64 = entryCount === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
  if (!hasLocator) {
    if (needsZip64) fail('end record has ZIP64 markers but no ZIP64 locator precedes it', eocdOffset);
    if (diskNumber !== 0 || cdDisk !== 0 || entriesOnDisk !== entryCount) fail('multi-disk archives are not supported', eocdOffset);
    return { entryCount, cdSize, cdOffset, cdLimit: eocdOffset, isZip64: false };
  }

  const locator = new BinaryCursor(await source.read(locatorOffset, ZIP64_LOCATOR_BYTES), source.name, locatorOffset);
  locator.skip(4);
  const zip64Disk = locator.u32();
  const zip64EocdOffset = locator.u64();
  const totalDisks = locator.u32();
  if (zip64Disk !== 0 || totalDisks > 1) fail('multi-disk ZIP64 archives are not supported', locatorOffset);
  if (zip64EocdOffset + ZIP64_EOCD_MIN_BYTES > locatorOffset) fail(`ZIP64 end record offset ${zip64EocdOffset} is out of place`, locatorOffset);
  const record = new BinaryCursor(await source.read(zip64EocdOffset, ZIP64_EOCD_MIN_BYTES), source.name, zip64EocdOffset);
  if (record.u32() !== ZIP64_EOCD_SIGNATURE) fail('ZIP64 end record signature is wrong', zip64EocdOffset);
  record.skip(8 + 2 + 2); // record size, version made by, version needed
  const disk64 = record.u32();
  const cdDisk64 = record.u32();
  const entriesOnDisk64 = record.u64();
  const entryCount64 = record.u64();
  const cdSize64 = record.u64();
  const cdOffset64 = record.u64();
  if (disk64 !== 0 || cdDisk64 !== 0 || entriesOnDisk64 !== entryCount64) fail('multi-disk ZIP64 archives are not supported', zip64EocdOffset);
  return { entryCount: entryCount64, cdSize: cdSize64, cdOffset: cdOffset64, cdLimit: zip64EocdOffset, isZip64: true };
}

function readCentralHeader(cursor: BinaryCursor): ZipEntry {
  const headerAt = cursor.position;
  if (cursor.u32() !== CENTRAL_HEADER_SIGNATURE) cursor.fail('zip: central directory entry signature is wrong');
  cursor.skip(2 + 2); // version made by, version needed
  const flags = cursor.u16();
  const compressionMethod = cursor.u16();
  cursor.skip(2 + 2); // time, date
  const crc = cursor.u32();
  let compressedSize = cursor.u32();
  let uncompressedSize = cursor.u32();
  const nameLength = cursor.u16();
  const extraLength = cursor.u16();
  const commentLength = cursor.u16();
  const diskStart = cursor.u16();
  cursor.skip(2 + 4); // internal and external attributes
  let localHeaderOffset = cursor.u32();
  const name = decodeUtf8(cursor.take(nameLength));
  const extra = new BinaryCursor(cursor.take(extraLength), cursor.fileName, cursor.baseOffset + cursor.position - extraLength);
  cursor.skip(commentLength);

  // ZIP64 extended information: only the fields whose 32-bit slot is saturated are present, in this order.
  while (extra.remaining >= 4) {
    const id = extra.u16();
    const size = extra.u16();
    const field = new BinaryCursor(extra.take(size), extra.fileName, extra.baseOffset + extra.position - size);
    if (id !== ZIP64_EXTRA_ID) continue;
    if (uncompressedSize === 0xffffffff) uncompressedSize = field.u64();
    if (compressedSize === 0xffffffff) compressedSize = field.u64();
    if (localHeaderOffset === 0xffffffff) localHeaderOffset = field.u64();
  }
  if ([compressedSize, uncompressedSize, localHeaderOffset].some((v) => v === 0xffffffff)) {
    // A saturated field without its ZIP64 extra would silently point at the wrong bytes.
    throw new ModelFormatError(cursor.fileName, `zip: entry ${name} has 32-bit overflow markers but no ZIP64 extra field`, cursor.baseOffset + headerAt);
  }
  if (diskStart !== 0 && diskStart !== 0xffff) cursor.fail(`zip: entry ${name} starts on disk ${diskStart} (multi-disk archives are not supported)`);
  checkEntryName(name, cursor.fileName);
  return { name, compressionMethod, compressedSize, uncompressedSize, crc32: crc, flags, localHeaderOffset, dataOffset: -1 };
}

/** Rejects names that would escape a directory if ever mapped to files (absolute, drive, `..`, NUL). */
export function checkEntryName(name: string, fileName: string): void {
  const unsafe =
    name.length === 0 ||
    name.includes('\0') ||
    name.startsWith('/') ||
    name.startsWith('\\') ||
    /^[A-Za-z]:/.test(name) ||
    name.split(/[\\/]/).some((segment) => segment === '..');
  if (unsafe) throw new ModelFormatError(fileName, `zip: unsafe entry name ${JSON.stringify(name)} (absolute path or '..')`);
}

const utf8Encoder = new TextEncoder();

async function resolveDataOffset(source: ByteSource, entry: ZipEntry, cdOffset: number): Promise<void> {
  const nameBytes = utf8Encoder.encode(entry.name).length;
  // One read for the fixed header and the name we expect to find after it.
  const length = Math.min(LOCAL_HEADER_BYTES + nameBytes, cdOffset - entry.localHeaderOffset);
  const header = new BinaryCursor(await source.read(entry.localHeaderOffset, length), source.name, entry.localHeaderOffset);
  if (header.u32() !== LOCAL_HEADER_SIGNATURE) header.fail(`zip: local header of ${entry.name} has a wrong signature`);
  header.skip(22);
  const localNameLength = header.u16();
  const localExtraLength = header.u16();
  // The local name must match the central one: tools that trust different copies see different archives.
  if (localNameLength !== nameBytes || header.remaining !== nameBytes || decodeUtf8(header.take(nameBytes)) !== entry.name) {
    throw new ModelFormatError(source.name, `zip: local header name of ${entry.name} differs from the central directory`, entry.localHeaderOffset);
  }
  entry.dataOffset = entry.localHeaderOffset + LOCAL_HEADER_BYTES + localNameLength + localExtraLength;
  if (entry.dataOffset + entry.compressedSize > cdOffset) {
    throw new ModelFormatError(
      source.name,
      `zip: data of ${entry.name} (${entry.compressedSize} bytes at ${entry.dataOffset}) overlaps the central directory at ${cdOffset}`,
    );
  }
}

/** A stored entry as a window of the archive (tensor storages: never copied, never inflated). */
export function storedEntrySource(source: ByteSource, entry: ZipEntry): ByteSource {
  if (entry.compressionMethod !== ZIP_METHOD_STORED || entry.compressedSize !== entry.uncompressedSize) {
    throw new ModelFormatError(
      source.name,
      `zip: entry ${entry.name} is compressed (method ${entry.compressionMethod}); it must be stored to be read in place`,
    );
  }
  if (entry.flags & FLAG_ENCRYPTED) throw new ModelFormatError(source.name, `zip: entry ${entry.name} is encrypted`);
  return new SliceSource(source, entry.dataOffset, entry.compressedSize, `${source.name}#${entry.name}`);
}

/** Reads a whole entry into memory (stored or deflated), refusing anything larger than `maxBytes`. */
export async function readZipEntry(source: ByteSource, entry: ZipEntry, maxBytes = DEFAULT_MAX_ENTRY_BYTES): Promise<Uint8Array> {
  const fail = (message: string): never => {
    throw new ModelFormatError(source.name, `zip: entry ${entry.name}: ${message}`, entry.dataOffset);
  };
  if (entry.flags & FLAG_ENCRYPTED) fail('encrypted entries are not supported');
  if (entry.uncompressedSize > maxBytes) fail(`${entry.uncompressedSize} bytes exceed the limit of ${maxBytes}`);
  let bytes: Uint8Array;
  if (entry.compressionMethod === ZIP_METHOD_STORED) {
    if (entry.compressedSize !== entry.uncompressedSize) fail('stored entry has different compressed and uncompressed sizes');
    bytes = await source.read(entry.dataOffset, entry.compressedSize);
  } else if (entry.compressionMethod === ZIP_METHOD_DEFLATED) {
    if (entry.compressedSize > maxBytes) fail(`${entry.compressedSize} compressed bytes exceed the limit of ${maxBytes}`);
    const compressed = await source.read(entry.dataOffset, entry.compressedSize);
    try {
      // maxOutputLength stops a deflate bomb inside zlib, before the memory is spent.
      bytes = inflateRawSync(compressed, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
    } catch (err) {
      return fail(`cannot inflate: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (bytes.length !== entry.uncompressedSize) fail(`inflated to ${bytes.length} bytes, the directory says ${entry.uncompressedSize}`);
  } else {
    return fail(`compression method ${entry.compressionMethod} is not supported`);
  }
  if ((crc32(bytes) >>> 0) !== entry.crc32) fail('CRC-32 mismatch (corrupt or altered entry)');
  return bytes;
}
