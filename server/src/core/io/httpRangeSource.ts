// A ByteSource over HTTP range requests to one file of a Hub commit (`resolve/<commit>/<path>`).
// Reads issued together are coalesced (nearby ranges merged, many ranges per multi-range request),
// every answer is checked (status, Content-Range, lengths, ETag pinned per file), and costs are
// counted against the session's byte budget; an optional disk cache answers repeated reads.
import { createHash } from 'node:crypto';
import { ModelFormatError } from '../errors';
import { checkReadRange, type ByteSource, type ReadRange, type ReadStats } from './byteSource';
import type { RangeCache } from './readCache';
import {
  describeUrl,
  readBodyBounded,
  RemoteReadError,
  RetryableError,
  throwIfRetryableStatus,
  type RemoteSession,
} from './remoteSession';
import { appendAll } from '../util/arrays';

export interface RemoteFileSpec {
  /** Shown in errors and used as the tensor's file name, e.g. `hf://org/model@<commit>/model.safetensors`. */
  name: string;
  /** `<endpoint>/<repo>/resolve/<commit>/<path>`. */
  url: URL;
  sizeBytes: number;
  /** The commit the URL pins; the Hub's X-Repo-Commit must agree. */
  commit: string;
  /** The LFS sha256 the listing publishes; the Hub's X-Linked-Etag must agree. */
  sha256?: string;
  /** Content identity for the disk cache (`sha256:<hex>` or `git:<oid>`); no caching without one. */
  identity?: string;
}

/** Ranges closer than this are fetched as one (the gap bytes are cheaper than another range). */
export const DEFAULT_GAP_BYTES = 32 * 1024;
/**
 * Headers sit at the start (safetensors, GGUF) or the end (zip directory) and are read in several
 * small dependent steps: the first read there fetches this much at once, saving round trips.
 */
export const EDGE_WINDOW_BYTES = 256 * 1024;
/** Ranges per multi-range request. */
export const DEFAULT_MAX_RANGES_PER_REQUEST = 64;
/** Bytes asked for in one request, so one answer never holds more than this in memory. */
const MAX_BYTES_PER_REQUEST = 64 * 1024 * 1024;
/** Allowance per part of a multipart answer (boundary line, Content-Type, Content-Range). */
const MULTIPART_PART_OVERHEAD = 512;
const MAX_PART_HEADER_BYTES = 4096;

interface PendingRead {
  offset: number;
  length: number;
  resolve: (bytes: Uint8Array) => void;
  reject: (err: unknown) => void;
}

interface Span {
  start: number;
  end: number;
}

export class HttpRangeSource implements ByteSource {
  readonly stats: ReadStats = { bytesRead: 0, reads: 0 };
  /** Concurrent reads become one multi-range request: issuing them all at once saves round trips. */
  readonly parallelReads = 1024;
  readonly name: string;
  readonly sizeBytes: number;
  /** The storage URL the Hub redirected to; later requests go there directly. */
  private storageUrl: URL | undefined;
  /** Set once an answer came back: from then on requests may run in parallel. */
  private located = false;
  private pinnedEtag: string | undefined;
  private readonly pending: PendingRead[] = [];
  private pumping = false;
  private closed = false;
  /** Head and tail windows fetched once and kept (small: EDGE_WINDOW_BYTES each). */
  private readonly windows = new Map<number, Promise<Uint8Array>>();

  constructor(
    readonly spec: RemoteFileSpec,
    private readonly session: RemoteSession,
    private readonly cache?: RangeCache,
    private readonly gapBytes = DEFAULT_GAP_BYTES,
    private readonly maxRangesPerRequest = DEFAULT_MAX_RANGES_PER_REQUEST,
  ) {
    this.name = spec.name;
    this.sizeBytes = spec.sizeBytes;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadRange(this, offset, length);
    if (this.closed) throw new ModelFormatError(this.name, 'read after close');
    this.session.throwIfAborted();
    let bytes: Uint8Array;
    const window = this.windowOf(offset, length);
    if (length === 0) bytes = new Uint8Array(0);
    else if (window) {
      const windowBytes = await this.fetchWindow(window.start, window.end);
      bytes = windowBytes.slice(offset - window.start, offset - window.start + length);
    } else bytes = await this.readThroughCache(offset, length);
    this.stats.bytesRead += length;
    this.stats.reads += 1;
    return bytes;
  }

  async readMany(ranges: readonly ReadRange[]): Promise<Uint8Array[]> {
    for (const r of ranges) checkReadRange(this, r.offset, r.length);
    if (this.closed) throw new ModelFormatError(this.name, 'read after close');
    this.session.throwIfAborted();
    const out = new Array<Uint8Array>(ranges.length);
    const fromNetwork: number[] = [];
    const identity = this.spec.identity;
    // Edge windows and empty reads go through read(); the rest is looked up in the cache in one call
    // (hundreds of ranges per tensor: no promise per range while they wait for the network).
    const edgeReads: Array<Promise<void>> = [];
    const middle: number[] = [];
    ranges.forEach((r, i) => {
      if (r.length === 0 || this.windowOf(r.offset, r.length)) edgeReads.push(this.read(r.offset, r.length).then((bytes) => void (out[i] = bytes)));
      else middle.push(i);
    });
    const cached = identity && this.cache && middle.length > 0 ? await this.cache.getMany(identity, middle.map((i) => ranges[i]!)) : [];
    middle.forEach((i, k) => {
      const bytes = cached[k];
      if (!bytes) return void fromNetwork.push(i);
      this.session.countFromCache(bytes.length);
      out[i] = bytes;
      this.stats.bytesRead += bytes.length;
      this.stats.reads += 1;
    });
    await Promise.all(edgeReads);
    if (fromNetwork.length > 0) {
      // One promise for all of them; each pending read only fills its slot.
      await new Promise<void>((resolve, reject) => {
        let left = fromNetwork.length;
        for (const i of fromNetwork) {
          const { offset, length } = ranges[i]!;
          const fill = (bytes: Uint8Array) => {
            out[i] = bytes;
            this.stats.bytesRead += length;
            this.stats.reads += 1;
            if (--left === 0) resolve();
          };
          this.pending.push({ offset, length, resolve: fill, reject });
        }
        this.schedule();
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The head or tail window holding [offset, offset + length), if the read is an edge read. */
  private windowOf(offset: number, length: number): { start: number; end: number } | undefined {
    const size = this.sizeBytes;
    if (size <= 2 * EDGE_WINDOW_BYTES) return offset + length <= size && size > 0 ? { start: 0, end: size } : undefined;
    if (offset + length <= EDGE_WINDOW_BYTES) return { start: 0, end: EDGE_WINDOW_BYTES };
    if (offset >= size - EDGE_WINDOW_BYTES) return { start: size - EDGE_WINDOW_BYTES, end: size };
    return undefined;
  }

  private fetchWindow(start: number, end: number): Promise<Uint8Array> {
    let window = this.windows.get(start);
    if (!window) {
      window = this.readThroughCache(start, end - start).then((bytes) => this.verifiedIfWhole(start, bytes));
      // A failed window is not remembered: the next read tries again.
      window.catch(() => this.windows.delete(start));
      this.windows.set(start, window);
    }
    return window;
  }

  /** The whole file in hand: it must hash to the sha256 the listing publishes. */
  private verifiedIfWhole(start: number, bytes: Uint8Array): Uint8Array {
    if (start !== 0 || bytes.length !== this.sizeBytes || this.spec.sha256 === undefined) return bytes;
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== this.spec.sha256) {
      throw new RemoteReadError('changed', `${this.name}: the bytes served hash to sha256 ${actual}, the Hub publishes ${this.spec.sha256}`);
    }
    return bytes;
  }

  private async readThroughCache(offset: number, length: number): Promise<Uint8Array> {
    const cached = this.spec.identity ? await this.cache?.get(this.spec.identity, offset, length) : undefined;
    if (cached) {
      this.session.countFromCache(length);
      return cached;
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.push({ offset, length, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.pumping) return;
    this.pumping = true;
    // Reads issued in the same turn of the event loop go out together.
    setImmediate(() => void this.pump());
  }

  /** Sends pending reads as slots free up: reads arriving meanwhile join the next batch. */
  private async pump(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        await this.session.acquire();
        const batch = this.takeBatch();
        if (batch.reads.length === 0) {
          this.session.release();
          break;
        }
        const sent = this.send(batch);
        // Until the Hub has told us where the file lives (and what it is), one request at a time.
        if (!this.located) await sent;
      }
    } finally {
      this.pumping = false;
      if (this.pending.length > 0) this.schedule();
    }
  }

  /** Pending reads sorted and merged into spans, at most maxRangesPerRequest of them. */
  private takeBatch(): { spans: Span[]; reads: PendingRead[] } {
    this.pending.sort((a, b) => a.offset - b.offset);
    const origin = (this.storageUrl ?? this.spec.url).origin;
    const maxSpans = this.session.singleRangeOrigins.has(origin) ? 1 : this.maxRangesPerRequest;
    const spans: Span[] = [];
    let taken = 0;
    let bytes = 0;
    for (const read of this.pending) {
      const last = spans[spans.length - 1];
      const end = read.offset + read.length;
      if (last && read.offset <= last.end + this.gapBytes) {
        const grown = Math.max(last.end, end);
        if (bytes + grown - last.end > MAX_BYTES_PER_REQUEST && taken > 0) break;
        bytes += grown - last.end;
        last.end = grown;
      } else {
        if (spans.length >= maxSpans || (bytes + read.length > MAX_BYTES_PER_REQUEST && taken > 0)) break;
        spans.push({ start: read.offset, end });
        bytes += read.length;
      }
      taken++;
    }
    return { spans, reads: this.pending.splice(0, taken) };
  }

  /** Sends one batch in a slot the caller acquired; the slot is released as soon as the answer is in. */
  private async send(batch: { spans: Span[]; reads: PendingRead[] }): Promise<void> {
    let pieces: Array<{ start: number; bytes: Uint8Array }>;
    try {
      pieces = await this.session.withRetries(this.name, (signal) => this.fetchSpans(batch.spans, signal));
    } catch (err) {
      this.session.release();
      for (const read of batch.reads) read.reject(err);
      return;
    }
    // The next request goes out before the readers of this answer run (they decode and digest it):
    // the slot is handed over now, and the reads are settled on the next turn of the event loop, after
    // the request's setup has run. Otherwise the network idles while the main thread works.
    this.session.release();
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.deliver(batch.reads, pieces);
  }

  /** Settles each read with its view of the pieces that answered it. */
  private deliver(reads: PendingRead[], pieces: Array<{ start: number; bytes: Uint8Array }>): void {
    try {
      pieces.sort((a, b) => a.start - b.start);
      // The cache keeps whole pieces (one entry per merged span, not per read); the reads are views
      // of them, so the bytes are held once, not copied per read.
      if (this.spec.identity && this.cache) for (const piece of pieces) this.cache.put(this.spec.identity, piece.start, piece.bytes);
      // Reads and pieces are both in offset order: walk them together (a batch has hundreds of reads).
      let p = 0;
      const holds = (piece: { start: number; bytes: Uint8Array } | undefined, read: PendingRead) =>
        piece !== undefined && piece.start <= read.offset && read.offset + read.length <= piece.start + piece.bytes.length;
      for (const read of reads) {
        while (p + 1 < pieces.length && pieces[p + 1]!.start <= read.offset && !holds(pieces[p], read)) p++;
        const piece = holds(pieces[p], read) ? pieces[p] : pieces.find((candidate) => holds(candidate, read));
        if (!piece) throw new RemoteReadError('protocol', `${this.name}: the answer lacks bytes ${read.offset}..${read.offset + read.length}`);
        read.resolve(piece.bytes.subarray(read.offset - piece.start, read.offset - piece.start + read.length));
      }
    } catch (err) {
      for (const read of reads) read.reject(err);
    }
  }

  /** One attempt at fetching `spans`: one request, or one per span when the origin cannot do multi-range. */
  private async fetchSpans(spans: Span[], signal: AbortSignal): Promise<Array<{ start: number; bytes: Uint8Array }>> {
    const origin = (this.storageUrl ?? this.spec.url).origin;
    if (spans.length > 1 && this.session.singleRangeOrigins.has(origin)) {
      const out: Array<{ start: number; bytes: Uint8Array }> = [];
      for (const span of spans) appendAll(out, (await this.fetchSpans([span], signal)));
      return out;
    }
    const wanted = spans.reduce((s, sp) => s + sp.end - sp.start, 0);
    const maxBody = spans.length === 1 ? wanted : wanted + MULTIPART_PART_OVERHEAD * spans.length + 1024;
    this.session.reserve(maxBody, this.name);
    const range = `bytes=${spans.map((s) => `${s.start}-${s.end - 1}`).join(',')}`;
    const viaHub = this.storageUrl === undefined;
    const { response, finalUrl, firstHopHeaders } = await this.session.get(this.storageUrl ?? this.spec.url, { range }, signal);
    try {
      if (viaHub) this.checkHubHeaders(firstHopHeaders);
      const what = `${this.name} (${describeUrl(finalUrl)})`;
      throwIfRetryableStatus(response, what);
      if (response.status === 401 || response.status === 403) {
        if (!viaHub) {
          // A signed storage URL may have expired: go back to the Hub for a fresh one.
          this.storageUrl = undefined;
          throw new RetryableError(`${what}: HTTP ${response.status} from storage`);
        }
        throw new RemoteReadError('gated', `${this.name}: HTTP ${response.status}: gated or private: accept the licence on the Hub and set a token (HF_TOKEN)`);
      }
      if (response.status === 404) {
        throw new RemoteReadError('not-found', `${what}: HTTP 404, the file is not at commit ${this.spec.commit}`);
      }
      if (response.status === 200) {
        // The whole file is coming: stopped now (by the discard below) rather than received.
        if (spans.length > 1) {
          this.session.singleRangeOrigins.add(finalUrl.origin);
          throw new RetryableError(`${what}: multi-range request answered with the whole file; asking one range at a time`, 0);
        }
        throw new RemoteReadError('protocol', `${what}: the server ignores Range (answered 200 with the whole file of ${this.sizeBytes} bytes); not downloaded`);
      }
      if (response.status !== 206) {
        throw new RemoteReadError('http', `${what}: HTTP ${response.status} to a range request`);
      }
      if (viaHub && finalUrl.href !== this.spec.url.href) this.storageUrl = finalUrl;
      this.located = true;
      const encoding = response.headers.get('content-encoding');
      if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') {
        throw new RemoteReadError('protocol', `${what}: answered with Content-Encoding ${encoding}; ranges of an encoded body are not the file's bytes`);
      }
      this.checkEtag(response.headers.get('etag'), what);
      const declaredLength = response.headers.get('content-length');
      if (declaredLength !== null && (!/^\d+$/.test(declaredLength) || Number(declaredLength) > maxBody)) {
        throw new RemoteReadError('protocol', `${what}: Content-Length ${declaredLength} is more than the ${maxBody} bytes asked for`);
      }
      const contentType = response.headers.get('content-type') ?? '';
      const boundary = /^multipart\/byteranges\s*;.*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
      const body = await readBodyBounded(this.session, response, maxBody, what);
      if (boundary) return this.parseMultipart(body, boundary[1] ?? boundary[2]!, spans, what);
      const piece = this.checkContentRange(response.headers.get('content-range'), body.length, what);
      const missing = spans.filter((s) => s.start < piece.start || s.end > piece.start + body.length);
      if (missing.length > 0) {
        // A server may answer a multi-range request with one range: fetch the rest one at a time.
        if (spans.length > 1) this.session.singleRangeOrigins.add(finalUrl.origin);
        const rest = await this.fetchSpans(missing, signal);
        return [{ start: piece.start, bytes: body }, ...rest];
      }
      return [{ start: piece.start, bytes: body }];
    } catch (err) {
      // Whatever went wrong, the answer is not read on: its connection must not stay open, paused.
      response.discard();
      throw err;
    }
  }

  /** The first hop (the Hub's resolve answer) must describe the file the listing described. */
  private checkHubHeaders(headers: Headers): void {
    const commit = headers.get('x-repo-commit');
    if (commit !== null && commit.trim().toLowerCase() !== this.spec.commit) {
      throw new RemoteReadError('changed', `${this.name}: the Hub served commit ${commit.slice(0, 40)} for a request pinned to ${this.spec.commit}`);
    }
    const linkedEtag = unquoteEtag(headers.get('x-linked-etag'));
    if (linkedEtag !== undefined && this.spec.sha256 !== undefined && linkedEtag.toLowerCase() !== this.spec.sha256) {
      throw new RemoteReadError('changed', `${this.name}: the Hub's X-Linked-Etag ${linkedEtag.slice(0, 64)} differs from the published sha256 ${this.spec.sha256}`);
    }
    const linkedSize = headers.get('x-linked-size');
    if (linkedSize !== null && Number(linkedSize) !== this.sizeBytes) {
      throw new RemoteReadError('changed', `${this.name}: the Hub's X-Linked-Size ${linkedSize.slice(0, 20)} differs from the listed size ${this.sizeBytes}`);
    }
  }

  /** The first answer pins the file's ETag; a different one later means the content changed mid-read. */
  private checkEtag(etagHeader: string | null, what: string): void {
    const etag = unquoteEtag(etagHeader);
    if (etag === undefined) return;
    if (this.pinnedEtag === undefined) this.pinnedEtag = etag;
    else if (etag !== this.pinnedEtag) {
      throw new RemoteReadError('changed', `${what}: the file changed while being read (ETag ${this.pinnedEtag.slice(0, 64)} became ${etag.slice(0, 64)}); nothing read from it is used`);
    }
  }

  private checkContentRange(header: string | null, bodyLength: number, what: string): Span {
    const match = header === null ? null : CONTENT_RANGE.exec(header.trim());
    if (!match) throw new RemoteReadError('protocol', `${what}: 206 answer without a valid Content-Range (${(header ?? 'none').slice(0, 60)})`);
    const start = Number(match[1]);
    const end = Number(match[2]) + 1;
    if (match[3] !== '*' && Number(match[3]) !== this.sizeBytes) {
      throw new RemoteReadError('changed', `${what}: Content-Range says the file has ${match[3]} bytes, the listing says ${this.sizeBytes}`);
    }
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start || end > this.sizeBytes || end - start !== bodyLength) {
      throw new RemoteReadError('protocol', `${what}: Content-Range ${header!.slice(0, 60)} does not match the ${bodyLength} bytes received`);
    }
    return { start, end };
  }

  /** RFC 9110 multipart/byteranges: each part's length comes from its Content-Range, never from searching. */
  private parseMultipart(body: Uint8Array, boundary: string, spans: Span[], what: string): Array<{ start: number; bytes: Uint8Array }> {
    // A view, never a copy: the body can be tens of MB and is parsed once per request. Thousands of
    // parts per answer: delimiters and line ends are compared as bytes, only part headers become text.
    const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const delimiter = Buffer.from(`--${boundary}`, 'latin1');
    const bytesAt = (at: number, expected: Uint8Array) => at + expected.length <= view.length && view.compare(expected, 0, expected.length, at, at + expected.length) === 0;
    const pieces: Array<{ start: number; bytes: Uint8Array }> = [];
    let at = view.indexOf(delimiter);
    if (at < 0) throw new RemoteReadError('protocol', `${what}: multipart answer without its boundary`);
    for (let part = 0; part <= spans.length * 4; part++) {
      at += delimiter.length;
      if (bytesAt(at, DOUBLE_DASH)) return pieces;
      if (!bytesAt(at, CRLF)) throw new RemoteReadError('protocol', `${what}: malformed multipart delimiter`);
      at += 2;
      const headerEnd = view.subarray(at, at + MAX_PART_HEADER_BYTES).indexOf(BLANK_LINE);
      if (headerEnd < 0) throw new RemoteReadError('protocol', `${what}: multipart part without a header end`);
      // A header end found past the next boundary belongs to another part: this one's is missing.
      if (view.subarray(at, at + headerEnd).indexOf(delimiter) >= 0) throw new RemoteReadError('protocol', `${what}: multipart part without a header end`);
      const headers = view.toString('latin1', at, at + headerEnd).split('\r\n');
      const rangeLine = headers.find((h) => /^content-range\s*:/i.test(h));
      const dataStart = at + headerEnd + 4;
      const rangeValue = rangeLine?.slice(rangeLine.indexOf(':') + 1).trim() ?? null;
      const match = rangeValue === null ? null : CONTENT_RANGE.exec(rangeValue);
      if (!match) throw new RemoteReadError('protocol', `${what}: multipart part without a valid Content-Range`);
      const length = Number(match[2]) - Number(match[1]) + 1;
      const span = this.checkContentRange(rangeValue, length, what);
      if (dataStart + length > body.length) throw new RemoteReadError('protocol', `${what}: multipart part shorter than its Content-Range`);
      pieces.push({ start: span.start, bytes: body.subarray(dataStart, dataStart + length) });
      at = dataStart + length;
      if (!bytesAt(at, CRLF)) throw new RemoteReadError('protocol', `${what}: multipart part longer than its Content-Range`);
      at += 2;
      if (!bytesAt(at, delimiter)) throw new RemoteReadError('protocol', `${what}: multipart part not followed by the boundary`);
    }
    throw new RemoteReadError('protocol', `${what}: more multipart parts than ranges asked for`);
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const BLANK_LINE = Buffer.from('\r\n\r\n', 'latin1');
const DOUBLE_DASH = Buffer.from('--', 'latin1');
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

function unquoteEtag(value: string | null): string | undefined {
  if (value === null) return undefined;
  const text = value.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return text.length > 0 ? text : undefined;
}
