// Rolls back the hot rollback journal of a writer that died mid-commit. The WebAssembly SQLite's file
// VFS (node-sqlite3-wasm) reports its own lock as another process's RESERVED lock, so SQLite never
// treats a journal as hot by itself; the caller holds the writer lock and runs this before opening.
// Format: https://www.sqlite.org/fileformat2.html#the_rollback_journal
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { RegistryError } from './errors';

const JOURNAL_MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
const MIN_SECTOR = 512;
const MAX_SECTOR = 65536;

export interface JournalRollback {
  pagesRestored: number;
  truncatedToPages?: number;
}

function readAt(fd: number, length: number, position: number): Buffer {
  const out = Buffer.alloc(length);
  const got = readSync(fd, out, 0, length, position);
  return got === length ? out : out.subarray(0, got);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** The checksum SQLite writes after each journalled page: the nonce plus every 200th byte from the end. */
function pageChecksum(nonce: number, page: Buffer): number {
  let sum = nonce;
  for (let i = page.length - 200; i > 0; i -= 200) sum = (sum + page[i]!) >>> 0;
  return sum >>> 0;
}

/**
 * Restores the pages recorded in `<file>-journal` into `file`, truncates it to its size before the
 * transaction, syncs, and deletes the journal. Undefined when there is no hot journal (none, empty,
 * or zeroed). Only call with the writer lock held: no live process may be writing.
 */
export function rollBackHotJournal(file: string): JournalRollback | undefined {
  const journal = `${file}-journal`;
  if (!existsSync(journal)) return undefined;
  const jfd = openSync(journal, 'r');
  let result: JournalRollback | undefined;
  try {
    const journalSize = fstatSync(jfd).size;
    let offset = 0;
    let first = true;
    const restore: Array<{ pageNumber: number; data: Buffer }> = [];
    let pageSize = 0;
    let originalPages: number | undefined;
    while (offset + 28 <= journalSize) {
      const header = readAt(jfd, 28, offset);
      if (!header.subarray(0, 8).equals(JOURNAL_MAGIC)) break;
      let records = header.readUInt32BE(8);
      const nonce = header.readUInt32BE(12);
      const dbPages = header.readUInt32BE(16);
      const sector = header.readUInt32BE(20);
      const size = header.readUInt32BE(24);
      if (!isPowerOfTwo(sector) || sector < MIN_SECTOR || sector > MAX_SECTOR || !isPowerOfTwo(size) || size < 512 || size > 65536) {
        throw new RegistryError(file, `has a rollback journal with an invalid header (sector ${sector}, page ${size}): restore the registry from an export`);
      }
      if (first) {
        pageSize = size;
        originalPages = dbPages;
      } else if (size !== pageSize) break;
      first = false;
      offset += sector;
      const recordBytes = 4 + pageSize + 4;
      if (records === 0xffffffff) records = Math.floor((journalSize - offset) / recordBytes);
      // nRec = 0: the records of this segment were never synced, so no page of the file was overwritten.
      let valid = true;
      for (let r = 0; r < records; r++) {
        if (offset + recordBytes > journalSize) {
          valid = false;
          break;
        }
        const record = readAt(jfd, recordBytes, offset);
        const pageNumber = record.readUInt32BE(0);
        const data = record.subarray(4, 4 + pageSize);
        if (pageNumber === 0 || record.readUInt32BE(4 + pageSize) !== pageChecksum(nonce, data)) {
          valid = false;
          break;
        }
        restore.push({ pageNumber, data: Buffer.from(data) });
        offset += recordBytes;
      }
      if (!valid) break;
      // The next segment header starts on a sector boundary.
      offset = Math.ceil(offset / sector) * sector;
    }
    if (first) return undefined; // zeroed or foreign journal: not hot
    const fd = openSync(file, 'r+');
    try {
      // Earliest record of a page wins: it holds the page as it was before the transaction.
      const seen = new Set<number>();
      for (const { pageNumber, data } of restore) {
        if (seen.has(pageNumber)) continue;
        seen.add(pageNumber);
        writeSync(fd, data, 0, data.length, (pageNumber - 1) * pageSize);
      }
      result = { pagesRestored: seen.size };
      if (originalPages !== undefined) {
        ftruncateSync(fd, originalPages * pageSize);
        result.truncatedToPages = originalPages;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } finally {
    closeSync(jfd);
  }
  unlinkSync(journal);
  return result;
}
