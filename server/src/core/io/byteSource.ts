// Byte access for model files. Everything that reads a model goes through a ByteSource so that
// reads are positional (never a whole weight file), bounded, and counted.
import type { FileHandle } from 'node:fs/promises';
import { ModelFormatError } from '../errors';
import { openConfined } from './confinedPath';

export interface ReadStats {
  /** Bytes delivered by read() since the source was opened. */
  bytesRead: number;
  /** Number of read() calls. */
  reads: number;
}

/**
 * Random access to the bytes of one file (local, in memory, or later an HTTP range source).
 * `read` returns exactly `length` bytes or throws a ModelFormatError naming the file.
 */
export interface ByteSource {
  /** Path or URL, used in error messages. */
  readonly name: string;
  readonly sizeBytes: number;
  readonly stats: ReadStats;
  /**
   * Independent reads worth issuing at once (default: a few for a disk). A remote source that
   * batches concurrent reads into one request asks for many, so scattered rows cost one round trip.
   */
  readonly parallelReads?: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Several reads in one call, answered in order (optional). A remote source queues them together
   * behind one promise: a fingerprint reads ~14,000 scattered rows, and a promise per row kept
   * alive for a round trip is most of the client's garbage-collection work.
   */
  readMany?(ranges: readonly ReadRange[]): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

export interface ReadRange {
  offset: number;
  length: number;
}

/** Hard cap on a single read, so that a hostile length can never allocate gigabytes. */
export const MAX_SINGLE_READ_BYTES = 512 * 1024 * 1024;

export function checkReadRange(source: { name: string; sizeBytes: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new ModelFormatError(source.name, `invalid read range (offset ${offset}, length ${length})`);
  }
  if (length > MAX_SINGLE_READ_BYTES) {
    throw new ModelFormatError(source.name, `refusing to read ${length} bytes at once (limit ${MAX_SINGLE_READ_BYTES})`, offset);
  }
  if (offset + length > source.sizeBytes) {
    throw new ModelFormatError(
      source.name,
      `file is truncated: needs bytes ${offset}..${offset + length} but the file has ${source.sizeBytes}`,
      offset,
    );
  }
}

/** A local file read with positional reads through one file handle. */
export class LocalFileSource implements ByteSource {
  readonly stats: ReadStats = { bytesRead: 0, reads: 0 };
  private constructor(
    readonly name: string,
    readonly sizeBytes: number,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Opens a model file through openConfined: it must resolve inside `root` (default: its own folder,
   * or the repo folder for a Hugging Face cache snapshot). Errors and `name` keep the path as given.
   */
  static async open(path: string, root?: string): Promise<LocalFileSource> {
    const { handle, stats } = await openConfined(path, root);
    return new LocalFileSource(path, stats.size, handle);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(this, offset, length);
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(out, filled, length - filled, offset + filled);
      if (bytesRead === 0) throw new ModelFormatError(this.name, 'unexpected end of file (file changed while reading?)', offset + filled);
      filled += bytesRead;
    }
    this.stats.bytesRead += length;
    this.stats.reads += 1;
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** An in-memory buffer (tests, embedded data, bytes already fetched). */
export class BufferSource implements ByteSource {
  readonly stats: ReadStats = { bytesRead: 0, reads: 0 };
  readonly sizeBytes: number;
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {
    this.sizeBytes = bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(this, offset, length);
    this.stats.bytesRead += length;
    this.stats.reads += 1;
    return this.bytes.subarray(offset, offset + length);
  }

  async close(): Promise<void> {}
}

/** A window [start, start+length) of another source, addressed from 0 (zip entries, GGUF data sections). */
export class SliceSource implements ByteSource {
  readonly sizeBytes: number;
  constructor(
    private readonly parent: ByteSource,
    private readonly start: number,
    length: number,
    readonly name: string = parent.name,
  ) {
    checkReadRange(parent, start, length);
    this.sizeBytes = length;
  }
  get stats(): ReadStats {
    return this.parent.stats;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(this, offset, length);
    return this.parent.read(this.start + offset, length);
  }
  async close(): Promise<void> {}
}

/** Opens a local model file (confined to `root`, see LocalFileSource.open), runs `body`, and always closes it. */
export async function withLocalFile<T>(path: string, body: (source: ByteSource) => Promise<T>, root?: string): Promise<T> {
  const source = await LocalFileSource.open(path, root);
  try {
    return await body(source);
  } finally {
    await source.close();
  }
}
