// On-disk cache of bytes read from remote files, keyed by the file's content identity (LFS sha256 or
// git oid, never a URL or branch) and the byte range, so a second read of the same model sends
// nothing. Bounded in size; whole files' entries are evicted least-recently-used first.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/** What HttpRangeSource needs from a cache. */
export interface RangeCache {
  get(identity: string, offset: number, length: number): Promise<Uint8Array | undefined>;
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
}

export const DEFAULT_READ_CACHE_BYTES = 2 * 1024 * 1024 * 1024;
/** Bytes held in memory before flush(); reads beyond it are simply not cached. */
const MAX_PENDING_BYTES = 512 * 1024 * 1024;
const MAX_INDEX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_PACKS_PER_IDENTITY = 256;
const LAST_USED = 'last-used';
const IDENTITY = /^(sha256:[0-9a-f]{64}|git:[0-9a-f]{40}|etag:[\x21-\x7e]{1,200})$/;

export class ReadCache implements RangeCache {
  private readonly loaded = new Map<string, Promise<LoadedEntry[]>>();
  private readonly pending = new Map<string, Array<{ offset: number; bytes: Uint8Array }>>();
  private pendingBytes = 0;
  private readonly used = new Set<string>();
  readonly maxBytes: number;

  constructor(readonly folder: string, options: ReadCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_READ_CACHE_BYTES;
  }

  static isIdentity(identity: string): boolean {
    return IDENTITY.test(identity);
  }

  async get(identity: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    if (!IDENTITY.test(identity)) return undefined;
    const fresh = this.pending.get(identity)?.find((p) => p.offset <= offset && offset + length <= p.offset + p.bytes.length);
    if (fresh) return fresh.bytes.slice(offset - fresh.offset, offset - fresh.offset + length);
    const entries = await this.entriesOf(identity);
    for (const e of entries) {
      if (e.offset > offset || offset + length > e.offset + e.length) continue;
      const bytes = await readExactly(path.join(this.identityFolder(identity), e.pack), e.at, e.length);
      // A damaged or edited cache must never feed a fingerprint: every entry carries its hash.
      if (!bytes || createHash('sha256').update(bytes).digest('hex') !== e.sha256) continue;
      this.used.add(identity);
      return bytes.slice(offset - e.offset, offset - e.offset + length);
    }
    return undefined;
  }

  put(identity: string, offset: number, bytes: Uint8Array): void {
    if (!IDENTITY.test(identity) || bytes.length === 0 || this.pendingBytes + bytes.length > MAX_PENDING_BYTES) return;
    const list = this.pending.get(identity) ?? [];
    list.push({ offset, bytes });
    this.pending.set(identity, list);
    this.pendingBytes += bytes.length;
    this.used.add(identity);
  }

  /** Writes remembered ranges (one pack per identity, index written last), marks use, evicts. */
  async flush(): Promise<void> {
    for (const [identity, list] of this.pending) {
      const folder = this.identityFolder(identity);
      await mkdir(folder, { recursive: true });
      const name = `${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}`;
      const entries: IndexEntry[] = [];
      let at = 0;
      for (const p of list) {
        entries.push({ offset: p.offset, length: p.bytes.length, at, sha256: createHash('sha256').update(p.bytes).digest('hex') });
        at += p.bytes.length;
      }
      await writeAtomically(path.join(folder, `${name}.pack`), Buffer.concat(list.map((p) => p.bytes)));
      await writeAtomically(path.join(folder, `${name}.idx`), JSON.stringify({ identity, entries } satisfies PackIndex));
      this.loaded.delete(identity);
    }
    this.pending.clear();
    this.pendingBytes = 0;
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
    await writeAtomically(path.join(this.metadataFolder(), `${hashKey(key)}.json`), JSON.stringify({ key, value }));
  }

  private rangesFolder(): string {
    return path.join(this.folder, 'ranges');
  }

  private metadataFolder(): string {
    return path.join(this.folder, 'metadata');
  }

  private identityFolder(identity: string): string {
    return path.join(this.rangesFolder(), hashKey(identity));
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
      for (const e of index.entries) {
        const valid = [e.offset, e.length, e.at].every((n) => Number.isSafeInteger(n) && n >= 0) && typeof e.sha256 === 'string' && e.at + e.length <= packInfo.size;
        if (valid) out.push({ offset: e.offset, length: e.length, at: e.at, sha256: e.sha256, pack });
      }
    }
    return out.sort((a, b) => a.offset - b.offset);
  }

  private async identityFolders(): Promise<Array<{ folder: string; bytes: number; ranges: number; lastUsed: number }>> {
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
        if (f.endsWith('.idx')) ranges += await countEntries(path.join(folder, f));
      }
      const marker = await stat(path.join(folder, LAST_USED)).catch(() => undefined);
      out.push({ folder, bytes, ranges, lastUsed: marker?.mtimeMs ?? 0 });
    }
    return out;
  }

  private async evict(): Promise<void> {
    const folders = await this.identityFolders();
    let total = folders.reduce((s, f) => s + f.bytes, 0);
    for (const f of folders.sort((a, b) => a.lastUsed - b.lastUsed)) {
      if (total <= this.maxBytes) break;
      await rm(f.folder, { recursive: true, force: true });
      total -= f.bytes;
    }
  }
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

async function readExactly(file: string, at: number, length: number): Promise<Uint8Array | undefined> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(out, filled, length - filled, at + filled);
      if (bytesRead === 0) return undefined;
      filled += bytesRead;
    }
    return out;
  } finally {
    await handle.close();
  }
}

async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, data);
  await rename(temp, file);
}
