// On-disk cache of bytes read from remote files, keyed by the file's content identity (LFS sha256 or
// git oid, never a URL or branch) and the byte range, so a second read of the same model sends
// nothing. Bounded in size; whole files' entries are evicted least-recently-used first.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomically } from './atomicFile';
import type { ReadRange } from './byteSource';

/** What HttpRangeSource needs from a cache. */
export interface RangeCache {
  get(identity: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** get() for many ranges at once: an array with the bytes of each range, or undefined where not cached. */
  getMany(identity: string, ranges: readonly ReadRange[]): Promise<Array<Uint8Array | undefined>>;
  /** Remembers bytes read; written to disk by flush(). */
  put(identity: string, offset: number, bytes: Uint8Array): void;
}

export interface ReadCacheOptions {
  /** Largest total size on disk (default 2 GiB); the least recently used identities go first. */
  maxBytes?: number;
}

export interface ReadCacheInfo {
  folder: string;
  /** Distinct files (content identities) with cached ranges. */
  files: number;
  ranges: number;
  bytes: number;
  maxBytes: number;
}

interface IndexEntry {
  offset: number;
  length: number;
  /** Position of the bytes in the pack file. */
  at: number;
  sha256: string;
}

interface PackIndex {
  identity: string;
  entries: IndexEntry[];
}

interface LoadedEntry extends IndexEntry {
  pack: string;
  /** The entry stored right after this one in the same pack, if any (entries are written back to back). */
  next?: LoadedEntry;
}

export const DEFAULT_READ_CACHE_BYTES = 2 * 1024 * 1024 * 1024;
/** Bytes held in memory before flush(); reads beyond it are simply not cached. */
const MAX_PENDING_BYTES = 512 * 1024 * 1024;
const MAX_INDEX_FILE_BYTES = 16 * 1024 * 1024;
/** Checked entry bytes kept in memory between reads (a fingerprint reads a few tens of MB). */
const MAX_VERIFIED_BYTES_KEPT = 128 * 1024 * 1024;
/** Consecutive entries of a pack read with one read, up to this size (one entry if larger). */
const SPAN_BYTES = 1024 * 1024;
/** Overlapping entries looked at, latest start first, before a lookup gives up (a miss only costs a fetch). */
const MAX_OVERLAP_PROBES = 16;
const MAX_PACKS_PER_IDENTITY = 256;
const LAST_USED = 'last-used';
const IDENTITY = /^(sha256:[0-9a-f]{64}|git:[0-9a-f]{40}|etag:[\x21-\x7e]{1,200})$/;

const sharedCaches = new Map<string, ReadCache>();

export class ReadCache implements RangeCache {
  private readonly loaded = new Map<string, Promise<LoadedEntry[]>>();
  private readonly pending = new Map<string, PendingPiece[]>();
  private pendingBytes = 0;
  /** The flush under way: the next one starts after it (two would write the same pending pieces twice). */
  private flushing: Promise<void> = Promise.resolve();
  private readonly used = new Set<string>();
  /** Entries read back from disk and checked, kept (up to MAX_VERIFIED_BYTES_KEPT) for the reads they contain. */
  private readonly verified = new Map<string, { bytes: Promise<Uint8Array | undefined>; length: number }>();
  private verifiedBytesKept = 0;
  /** Folder of each identity's packs (a hash and a path join, asked for every entry read). */
  private readonly foldersByIdentity = new Map<string, string>();
  readonly maxBytes: number;

  constructor(readonly folder: string, options: ReadCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_READ_CACHE_BYTES;
  }

  /**
   * The one cache of a folder in this (short-lived) process: models read side by side, as the two
   * sides of a compare, share what is read but not yet written, so a renamed copy whose blobs equal
   * its original's costs no second download. A long-lived process (the language server) uses an
   * instance per job instead: this one keeps the indexes it has read and would not see packs that
   * another process writes later.
   */
  static shared(folder: string): ReadCache {
    const key = path.resolve(folder);
    let cache = sharedCaches.get(key);
    if (!cache) {
      cache = new ReadCache(key);
      sharedCaches.set(key, cache);
    }
    return cache;
  }

  static isIdentity(identity: string): boolean {
    return IDENTITY.test(identity);
  }

  async get(identity: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return (await this.getMany(identity, [{ offset, length }]))[0];
  }

  async getMany(identity: string, ranges: readonly ReadRange[]): Promise<Array<Uint8Array | undefined>> {
    const out = new Array<Uint8Array | undefined>(ranges.length).fill(undefined);
    if (!IDENTITY.test(identity)) return out;
    const pending = this.pending.get(identity);
    const entries = await this.entriesOf(identity);
    // Only hits wait (for their entry's bytes, read once and checked); a miss costs no promise.
    const hits: Array<Promise<void>> = [];
    ranges.forEach(({ offset, length }, i) => {
      const fresh = pending && findContaining(pending, offset, length, (p) => p.bytes.length);
      // Views, not copies (tens of MB for a fingerprint): readers never write into what they read,
      // and the network path hands out views of these same pieces.
      if (fresh) return void (out[i] = fresh.bytes.subarray(offset - fresh.offset, offset - fresh.offset + length));
      const entry = findContaining(entries, offset, length, (e) => e.length);
      if (!entry) return;
      hits.push(this.verifiedBytes(identity, entry).then((bytes) => {
        if (!bytes) return;
        this.used.add(identity);
        out[i] = bytes.subarray(offset - entry.offset, offset - entry.offset + length);
      }));
    });
    await Promise.all(hits);
    return out;
  }

  /**
   * An entry's bytes, read once and checked against its hash (a damaged or edited cache must never
   * feed a fingerprint), then kept in memory while they fit: one entry serves many small reads.
   * A fingerprint reads most entries of a pack, so the entries stored after this one are read with
   * it, up to SPAN_BYTES, and each becomes a view of that one read: no copy, a few reads per MB.
   */
  private verifiedBytes(identity: string, e: LoadedEntry): Promise<Uint8Array | undefined> {
    const kept = this.verified.get(verifiedKey(identity, e));
    if (kept) return kept.bytes;
    const span: LoadedEntry[] = [e];
    let spanLength = e.length;
    for (let n = e.next; n && spanLength + n.length <= SPAN_BYTES && !this.verified.has(verifiedKey(identity, n)); n = n.next) {
      span.push(n);
      spanLength += n.length;
    }
    const read = readExactly(path.join(this.identityFolder(identity), e.pack), e.at, spanLength);
    let own: Promise<Uint8Array | undefined> | undefined;
    for (const entry of span) {
      const key = verifiedKey(identity, entry);
      const bytes = read.then((spanBytes) => {
        const view = spanBytes?.subarray(entry.at - e.at, entry.at - e.at + entry.length);
        if (view && createHash('sha256').update(view).digest('hex') === entry.sha256) return view;
        this.forgetVerified(key);
        return undefined;
      });
      own ??= bytes;
      if (entry.length > MAX_VERIFIED_BYTES_KEPT) continue;
      this.verified.set(key, { bytes, length: entry.length });
      this.verifiedBytesKept += entry.length;
    }
    // Oldest first (a Map iterates in insertion order); a span's entries go out together.
    for (const oldKey of this.verified.keys()) {
      if (this.verifiedBytesKept <= MAX_VERIFIED_BYTES_KEPT) break;
      this.forgetVerified(oldKey);
    }
    return own!;
  }

  private forgetVerified(key: string): void {
    const kept = this.verified.get(key);
    if (!kept) return;
    this.verified.delete(key);
    this.verifiedBytesKept -= kept.length;
  }

  put(identity: string, offset: number, bytes: Uint8Array): void {
    if (!IDENTITY.test(identity) || bytes.length === 0 || this.pendingBytes + bytes.length > MAX_PENDING_BYTES) return;
    const list = this.pending.get(identity) ?? [];
    insertByOffset(list, { offset, bytes });
    this.pending.set(identity, list);
    this.pendingBytes += bytes.length;
    this.used.add(identity);
  }

  /** Writes remembered ranges (one pack per identity, index written last), marks use, evicts. One flush at a time. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.writePending());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async writePending(): Promise<void> {
    // What is pending now; pieces put while this is written wait for the next flush. Every pack's
    // write starts first (the thread pool copies tens of MB); the pieces are hashed here meanwhile;
    // each index, written last, makes its pack readable.
    const packs = [...this.pending].map(([identity, pieces]) => {
      const list = pieces.slice();
      const folder = this.identityFolder(identity);
      const name = `${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}`;
      // The pieces as they are, not concatenated into one more copy first.
      const written = mkdir(folder, { recursive: true }).then(() => writeFileAtomically(path.join(folder, `${name}.pack`), list.map((p) => p.bytes)));
      return { identity, list, folder, name, written };
    });
    const indexed = packs.map(async ({ identity, list, folder, name, written }) => {
      const entries: IndexEntry[] = [];
      let at = 0;
      for (const p of list) {
        entries.push({ offset: p.offset, length: p.bytes.length, at, sha256: createHash('sha256').update(p.bytes).digest('hex') });
        at += p.bytes.length;
      }
      await written;
      await writeFileAtomically(path.join(folder, `${name}.idx`), JSON.stringify({ identity, entries } satisfies PackIndex));
      this.loaded.delete(identity);
    });
    // Every write settles before the first failure is reported: nothing is left running behind it.
    const failed = (await Promise.allSettled(indexed)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const { identity, list } of packs) {
      const done = new Set(list);
      const left = (this.pending.get(identity) ?? []).filter((p) => !done.has(p));
      if (left.length > 0) this.pending.set(identity, left);
      else this.pending.delete(identity);
      for (const p of list) this.pendingBytes -= p.bytes.length;
    }
    const now = new Date();
    for (const identity of this.used) {
      const marker = path.join(this.identityFolder(identity), LAST_USED);
      await utimes(marker, now, now).catch(async () => {
        await mkdir(path.dirname(marker), { recursive: true }).catch(() => undefined);
        await writeFile(marker, '').catch(() => undefined);
      });
    }
    this.used.clear();
    await this.evict();
  }

  async info(): Promise<ReadCacheInfo> {
    const identities = await this.identityFolders();
    let ranges = 0;
    let bytes = 0;
    for (const f of identities) {
      bytes += f.bytes;
      ranges += f.ranges;
    }
    return { folder: this.folder, files: identities.length, ranges, bytes, maxBytes: this.maxBytes };
  }

  /** Removes everything under the cache folder (ranges, listings, files fetched whole); returns the range bytes freed. */
  async clean(): Promise<number> {
    const { bytes } = await this.info();
    await rm(this.folder, { recursive: true, force: true });
    this.loaded.clear();
    this.verified.clear();
    this.verifiedBytesKept = 0;
    return bytes;
  }

  /** Small JSON documents that are immutable for their key (a listing at a commit). */
  async readMetadata(key: string): Promise<unknown> {
    const file = path.join(this.metadataFolder(), `${hashKey(key)}.json`);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile() || info.size > MAX_INDEX_FILE_BYTES) return undefined;
    try {
      const doc = JSON.parse(await readFile(file, 'utf8')) as { key?: unknown; value?: unknown };
      return doc.key === key ? doc.value : undefined;
    } catch {
      return undefined;
    }
  }

  async writeMetadata(key: string, value: unknown): Promise<void> {
    await mkdir(this.metadataFolder(), { recursive: true });
    await writeFileAtomically(path.join(this.metadataFolder(), `${hashKey(key)}.json`), JSON.stringify({ key, value }));
  }

  private rangesFolder(): string {
    return path.join(this.folder, 'ranges');
  }

  private metadataFolder(): string {
    return path.join(this.folder, 'metadata');
  }

  private identityFolder(identity: string): string {
    let folder = this.foldersByIdentity.get(identity);
    if (folder === undefined) {
      folder = path.join(this.rangesFolder(), hashKey(identity));
      this.foldersByIdentity.set(identity, folder);
    }
    return folder;
  }

  private entriesOf(identity: string): Promise<LoadedEntry[]> {
    let entries = this.loaded.get(identity);
    if (!entries) {
      entries = this.loadEntries(identity);
      this.loaded.set(identity, entries);
    }
    return entries;
  }

  private async loadEntries(identity: string): Promise<LoadedEntry[]> {
    const folder = this.identityFolder(identity);
    const names = await readdir(folder).catch(() => [] as string[]);
    const out: LoadedEntry[] = [];
    for (const name of names.filter((n) => n.endsWith('.idx')).slice(0, MAX_PACKS_PER_IDENTITY)) {
      const pack = name.replace(/\.idx$/, '.pack');
      const [indexInfo, packInfo] = await Promise.all([stat(path.join(folder, name)).catch(() => undefined), stat(path.join(folder, pack)).catch(() => undefined)]);
      if (!indexInfo?.isFile() || !packInfo?.isFile() || indexInfo.size > MAX_INDEX_FILE_BYTES) continue;
      let index: PackIndex;
      try {
        index = JSON.parse(await readFile(path.join(folder, name), 'utf8')) as PackIndex;
      } catch {
        continue;
      }
      if (index.identity !== identity || !Array.isArray(index.entries)) continue;
      let previous: LoadedEntry | undefined;
      for (const e of index.entries) {
        const valid = [e.offset, e.length, e.at].every((n) => Number.isSafeInteger(n) && n >= 0) && typeof e.sha256 === 'string' && e.at + e.length <= packInfo.size;
        if (!valid) continue;
        const entry: LoadedEntry = { offset: e.offset, length: e.length, at: e.at, sha256: e.sha256, pack };
        if (previous && previous.at + previous.length === entry.at) previous.next = entry;
        previous = entry;
        out.push(entry);
      }
    }
    return out.sort((a, b) => a.offset - b.offset);
  }

  /** Every identity's folder with its size, last use and (when `countRanges`: parses every index) its ranges. */
  private async identityFolders(countRanges = true): Promise<Array<{ folder: string; bytes: number; ranges: number; lastUsed: number }>> {
    const root = this.rangesFolder();
    const names = await readdir(root).catch(() => [] as string[]);
    const out: Array<{ folder: string; bytes: number; ranges: number; lastUsed: number }> = [];
    for (const name of names) {
      const folder = path.join(root, name);
      const files = await readdir(folder).catch(() => undefined);
      if (!files) continue;
      let bytes = 0;
      let ranges = 0;
      for (const f of files) {
        const info = await stat(path.join(folder, f)).catch(() => undefined);
        bytes += info?.size ?? 0;
        if (countRanges && f.endsWith('.idx')) ranges += await countEntries(path.join(folder, f));
      }
      const marker = await stat(path.join(folder, LAST_USED)).catch(() => undefined);
      out.push({ folder, bytes, ranges, lastUsed: marker?.mtimeMs ?? 0 });
    }
    return out;
  }

  private async evict(): Promise<void> {
    const folders = await this.identityFolders(false);
    let total = folders.reduce((s, f) => s + f.bytes, 0);
    for (const f of folders.sort((a, b) => a.lastUsed - b.lastUsed)) {
      if (total <= this.maxBytes) break;
      await rm(f.folder, { recursive: true, force: true });
      total -= f.bytes;
    }
  }
}

interface PendingPiece {
  offset: number;
  bytes: Uint8Array;
}

function verifiedKey(identity: string, e: LoadedEntry): string {
  return `${identity}|${e.pack}|${e.at}`;
}

function hashKey(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 40);
}

async function countEntries(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (info.size > MAX_INDEX_FILE_BYTES) return 0;
    const index = JSON.parse(await readFile(file, 'utf8')) as PackIndex;
    return Array.isArray(index.entries) ? index.entries.length : 0;
  } catch {
    return 0;
  }
}

/** Exactly `length` bytes from `at`; undefined when the file is shorter or cannot be read. */
async function readExactly(file: string, at: number, length: number): Promise<Uint8Array | undefined> {
  const bytes = await readUpTo(file, at, length);
  return bytes?.length === length ? bytes : undefined;
}

/** Up to `length` bytes from `at` (fewer at the end of the file); undefined when the file cannot be read. */
async function readUpTo(file: string, at: number, length: number): Promise<Uint8Array | undefined> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    // Not zero-filled first: only the bytes read are ever exposed.
    const out = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(out, filled, length - filled, at + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return out.subarray(0, filled);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * An entry holding [offset, offset + length) in a list sorted by offset: binary search for the last
 * entry starting at or before `offset`, then a few probes back for overlapping entries.
 */
function findContaining<T extends { offset: number }>(list: readonly T[], offset: number, length: number, lengthOf: (entry: T) => number): T | undefined {
  for (let i = startingAtOrBefore(list, offset) - 1, probes = 0; i >= 0 && probes < MAX_OVERLAP_PROBES; i--, probes++) {
    const e = list[i]!;
    if (offset + length <= e.offset + lengthOf(e)) return e;
  }
  return undefined;
}

/**
 * Inserts keeping the list sorted by offset, after any equal offsets. A binary search: a remote read's
 * answers arrive interleaved across the file (thousands of pieces), so a scan from the end is quadratic.
 */
function insertByOffset<T extends { offset: number }>(list: T[], item: T): void {
  list.splice(startingAtOrBefore(list, item.offset), 0, item);
}

/** How many entries of a list sorted by offset start at or before `offset` (a binary search). */
function startingAtOrBefore(list: readonly { offset: number }[], offset: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (list[mid]!.offset <= offset) low = mid + 1;
    else high = mid;
  }
  return low;
}
