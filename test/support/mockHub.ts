// A loopback mock of the Hugging Face Hub: model info per revision, recursive tree listing with Link
// pagination, and `resolve/<rev>/<path>` that serves git files itself and answers LFS files with a
// 302 to a second loopback origin (the storage) serving Range/multi-range with 206, as the Hub's CDN.
// Tests script hostile or broken answers through `override`, `faults` and `hold`. Never the internet.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';

export interface TreeEntry {
  type: string;
  path: unknown;
  size?: unknown;
  oid?: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

export interface MockRepo {
  /** Canonical id; requests match it case-insensitively, as on the Hub. */
  id: string;
  refs: Record<string, string>;
  info?: Record<string, unknown>;
  /** Tree entries per commit. */
  trees: Record<string, TreeEntry[]>;
  /** File listings with sizes and hashes (the tree, model info with `blobs=true`) answer 403 GatedRepo (download-level gating). */
  treeGated?: boolean;
  /** A private repo the caller cannot see: answered like a missing one. */
  privateRepo?: boolean;
  /** File contents per commit and path, served by `resolve`. */
  contents?: Record<string, Record<string, MockFileContent>>;
  /** Gated: every route answers 401 GatedRepo unless this token is presented. */
  gatedToken?: string;
}

/** The bytes of one file; `read` may synthesize them (the 7B checkpoint is never on disk). */
export interface MockFileContent {
  size: number;
  read(start: number, end: number): Uint8Array;
  /** LFS files: their sha256 (the X-Linked-Etag, and their key on the storage origin). */
  lfsSha256?: string;
  /** git files: their blob id (their ETag). */
  gitOid?: string;
}

/** Faults the storage origin injects, consumed as they fire. */
export interface StorageFaults {
  /** Answers that stop halfway through the body (the socket is destroyed). */
  resetMidBody?: number;
  /** Answers 500. */
  serverErrors?: number;
  /** Answers 429 with Retry-After: `retryAfterSeconds`. */
  tooManyRequests?: number;
  retryAfterSeconds?: number;
  /** Answers 200 with the whole file, ignoring Range. */
  ignoreRange?: boolean;
  /** Answers only one range of a multi-range request (as some CDNs do). */
  singleRangeOnly?: boolean;
  /** After this many more storage answers, the file's ETag (and content) change. */
  changeEtagAfter?: number;
  /** Storage redirects every request once more, to a third origin that serves it. */
  redirectToThirdOrigin?: boolean;
}

export interface MockHubOptions {
  /** Added before every answer, hub and storage alike. */
  latencyMs?: number;
  /** Body bytes per second, all connections together (a token bucket); unlimited when absent. */
  bandwidthBytesPerSecond?: number;
  /** How long an idle keep-alive connection stays open (Node's default is 5 s; CDNs keep them longer). */
  idleConnectionMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  range?: string;
}

export type Override = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

export interface MockHub {
  url: string;
  requests: RecordedRequest[];
  /** Body bytes of files the Hub origin served itself through `resolve` (git files); LFS bytes are the storage's. */
  fileBytesSent: number;
  /** Set per test: handles a request before the regular routes when it returns true. */
  override?: Override;
  /** When set, every answer waits for it (requests are still recorded on arrival). */
  hold?: Promise<void>;
  /** Bearer tokens answered 401 without an error code, as the Hub answers invalid credentials. */
  refusedTokens: Set<string>;
  pageSize: number;
  /** Like a mirror that does not implement `blobs=true`: siblings carry their names only. */
  ignoresBlobs?: boolean;
  /** The storage origin (and the third origin used by the redirect fault). */
  storage: { url: string; requests: RecordedRequest[]; bytesSent: number };
  third: { url: string; requests: RecordedRequest[] };
  faults: StorageFaults;
  close(): Promise<void>;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function hubError(res: http.ServerResponse, status: number, code: string): void {
  sendJson(res, status, { error: `${code} (mock)` }, { 'x-error-code': code });
}

/** `/api/models/{id}/(revision|tree)/{rev}`; the id has at most one slash. */
const MODEL_ROUTE = /^\/api\/models\/([^/]+(?:\/[^/]+)?)\/(revision|tree)\/(.+)$/;
/** `/{id}/resolve/{rev}/{path}`: the id is `ns/name` here (legacy single names are not served). */
const RESOLVE_ROUTE = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/;

export async function startMockHub(repos: MockRepo[], options: MockHubOptions = {}): Promise<MockHub> {
  const storageRequests: RecordedRequest[] = [];
  const thirdRequests: RecordedRequest[] = [];
  const hub: MockHub = {
    url: '',
    requests: [],
    fileBytesSent: 0,
    refusedTokens: new Set(),
    pageSize: 2,
    storage: { url: '', requests: storageRequests, bytesSent: 0 },
    third: { url: '', requests: thirdRequests },
    faults: {},
    close: async () => undefined,
  };
  const throttle = bandwidthThrottle(options.bandwidthBytesPerSecond);
  const blobs = new Map<string, MockFileContent>();
  for (const repo of repos) {
    for (const files of Object.values(repo.contents ?? {})) for (const f of Object.values(files)) if (f.lfsSha256) blobs.set(f.lfsSha256, f);
  }

  const route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL): void => {
    if (hub.override?.(req, res, url)) return;
    const authorization = req.headers.authorization;
    if (authorization !== undefined && hub.refusedTokens.has(authorization.replace(/^Bearer /, ''))) {
      return sendJson(res, 401, { error: 'Invalid credentials in Authorization header' });
    }
    const resolve = RESOLVE_ROUTE.exec(url.pathname);
    if (resolve && (req.method === 'GET' || req.method === 'HEAD')) return routeResolve(req, res, resolve);
    const match = MODEL_ROUTE.exec(url.pathname);
    if (req.method !== 'GET' || !match) return hubError(res, 404, 'EntryNotFound');
    const [, idText, kind, revText] = match;
    const repo = repos.find((r) => r.id.toLowerCase() === idText!.toLowerCase());
    // Like the Hub: a missing or invisible repo is 401 without a token, 404 with one.
    if (!repo || repo.privateRepo) return hubError(res, authorization === undefined ? 401 : 404, 'RepoNotFound');
    if (repo.gatedToken !== undefined && authorization !== `Bearer ${repo.gatedToken}`) return hubError(res, 401, 'GatedRepo');
    const revision = decodeURIComponent(revText!);
    // Like the Hub (git): a branch, a full commit, or an unambiguous short commit of at least 7 hex digits.
    const commits = [...new Set([...Object.values(repo.refs), ...Object.keys(repo.trees ?? {})])];
    const prefixed = /^[0-9a-f]{7,39}$/.test(revision) ? commits.filter((c) => c.startsWith(revision)) : [];
    const commit = repo.refs[revision] ?? (commits.includes(revision) ? revision : prefixed.length === 1 ? prefixed[0] : undefined);
    if (!commit) return hubError(res, 404, 'RevisionNotFound');

    const entries = repo.trees[commit] ?? [];
    const blobs = url.searchParams.get('blobs') === 'true' && !hub.ignoresBlobs;
    if (kind === 'revision') {
      if (blobs && repo.treeGated) return hubError(res, 403, 'GatedRepo');
      // Like the Hub: siblings are the commit's files; with `blobs=true` each has its size, git blob
      // id and LFS pointer fields (as huggingface_hub reads them for `files_metadata`).
      const siblings = entries.filter((e) => e.type === 'file').map((e) => (blobs
        ? { rfilename: e.path, blobId: e.oid, size: e.size, ...(e.lfs ? { lfs: { sha256: e.lfs.oid, size: e.lfs.size, pointerSize: e.lfs.pointerSize } } : {}) }
        : { rfilename: e.path }));
      // Like the Hub: with `expand`, only the expanded fields (plus the ids) come back.
      const full: Record<string, unknown> = { _id: 'mock', id: repo.id, sha: commit, private: false, gated: false, siblings, ...repo.info };
      const body: Record<string, unknown> = { _id: full['_id'], id: full['id'] };
      for (const key of url.searchParams.getAll('expand')) if (key in full) body[key] = full[key];
      return sendJson(res, 200, body);
    }
    if (repo.treeGated) return hubError(res, 403, 'GatedRepo');
    if (url.searchParams.get('recursive') !== 'true') return hubError(res, 400, 'NotRecursive');
    const cursor = Number(url.searchParams.get('cursor') ?? '0');
    const next = cursor + hub.pageSize;
    const headers: Record<string, string> = {};
    if (next < entries.length) {
      const nextUrl = new URL(url.href);
      nextUrl.searchParams.set('cursor', String(next));
      headers['link'] = `<${nextUrl.href}>; rel="next"`;
    }
    return sendJson(res, 200, entries.slice(cursor, next), headers);
  };

  /** The Hub's resolve: git files served here, LFS files redirected to the storage origin. */
  const routeResolve = (req: http.IncomingMessage, res: http.ServerResponse, match: RegExpExecArray): void => {
    const [, idText, revText, pathText] = match;
    const repo = repos.find((r) => r.id.toLowerCase() === idText!.toLowerCase());
    const authorization = req.headers.authorization;
    if (!repo || repo.privateRepo) return hubError(res, authorization === undefined ? 401 : 404, 'RepoNotFound');
    if (repo.gatedToken !== undefined && authorization !== `Bearer ${repo.gatedToken}`) return hubError(res, 401, 'GatedRepo');
    const revision = decodeURIComponent(revText!);
    const commit = repo.refs[revision] ?? (Object.values(repo.refs).includes(revision) ? revision : undefined);
    if (!commit) return hubError(res, 404, 'RevisionNotFound');
    const filePath = pathText!.split('/').map(decodeURIComponent).join('/');
    const file = repo.contents?.[commit]?.[filePath];
    if (!file) return hubError(res, 404, 'EntryNotFound');
    const common: Record<string, string> = { 'x-repo-commit': commit };
    if (file.lfsSha256) {
      res.writeHead(302, {
        ...common,
        location: `${hub.storage.url}/blobs/${file.lfsSha256}?signature=mock-${commit.slice(0, 8)}`,
        'x-linked-etag': `"${file.lfsSha256}"`,
        'x-linked-size': String(file.size),
        etag: `"${file.gitOid ?? 'pointer'}"`,
      });
      res.end();
      return;
    }
    serveRanges(req, res, file, `"${file.gitOid}"`, common, false);
  };

  /** 206 for one range, multipart/byteranges for several, 416 when unsatisfiable; the storage's faults apply. */
  const serveRanges = (req: http.IncomingMessage, res: http.ServerResponse, file: MockFileContent, etag: string, headers: Record<string, string>, isStorage: boolean): void => {
    const faults = hub.faults;
    let flip = false;
    if (isStorage && faults.changeEtagAfter !== undefined) {
      if (faults.changeEtagAfter <= 0) flip = true;
      else faults.changeEtagAfter -= 1;
    }
    const bytesOf = (start: number, end: number): Uint8Array => {
      const bytes = file.read(start, end);
      if (!flip) return bytes;
      // The content changed: different bytes under a different ETag.
      return bytes.map((b) => b ^ 0x55);
    };
    const currentEtag = flip ? etag.replace(/"$/, '-v2"') : etag;
    const base: Record<string, string> = { ...headers, etag: currentEtag, 'accept-ranges': 'bytes' };
    const rangeHeader = req.headers.range;
    if (rangeHeader === undefined || (isStorage && faults.ignoreRange)) {
      res.writeHead(200, { ...base, 'content-length': String(file.size), 'content-type': 'application/octet-stream' });
      return void streamBody(res, file.size, (s, e) => bytesOf(s, e), isStorage);
    }
    const ranges = parseRanges(rangeHeader, file.size);
    if (!ranges) {
      res.writeHead(416, { ...base, 'content-range': `bytes */${file.size}` });
      return void res.end();
    }
    if (ranges.length === 1 || (isStorage && faults.singleRangeOnly)) {
      const [start, end] = ranges[0]!;
      res.writeHead(206, { ...base, 'content-length': String(end - start), 'content-range': `bytes ${start}-${end - 1}/${file.size}`, 'content-type': 'application/octet-stream' });
      return void streamBody(res, end - start, (s, e) => bytesOf(start + s, start + e), isStorage);
    }
    const boundary = 'mock-byteranges-7d1f';
    // The body as segments (part headers, file ranges, the close), produced chunk by chunk as it is
    // sent: a CDN streams, so neither a big body built up front nor answers queued behind it.
    const segments: Array<{ at: number; length: number; bytes: (from: number, to: number) => Uint8Array }> = [];
    let length = 0;
    const add = (segmentLength: number, bytes: (from: number, to: number) => Uint8Array) => {
      segments.push({ at: length, length: segmentLength, bytes });
      length += segmentLength;
    };
    const text = (t: string) => {
      const bytes = Buffer.from(t, 'latin1');
      add(bytes.length, (from, to) => bytes.subarray(from, to));
    };
    for (const [start, end] of ranges) {
      text(`--${boundary}\r\ncontent-type: application/octet-stream\r\ncontent-range: bytes ${start}-${end - 1}/${file.size}\r\n\r\n`);
      add(end - start, (from, to) => bytesOf(start + from, start + to));
      text('\r\n');
    }
    text(`--${boundary}--\r\n`);
    res.writeHead(206, { ...base, 'content-length': String(length), 'content-type': `multipart/byteranges; boundary=${boundary}` });
    let next = 0;
    void streamBody(res, length, (s, e) => {
      const pieces: Uint8Array[] = [];
      // Chunks are asked for in order: resume from the segment the last one ended in.
      while (segments[next]!.at + segments[next]!.length <= s) next++;
      for (let i = next; i < segments.length && segments[i]!.at < e; i++) {
        const g = segments[i]!;
        pieces.push(g.bytes(Math.max(s, g.at) - g.at, Math.min(e, g.at + g.length) - g.at));
      }
      return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    }, isStorage);
  };

  const streamBody = async (res: http.ServerResponse, length: number, slice: (start: number, end: number) => Uint8Array, isStorage: boolean): Promise<void> => {
    const resetAt = isStorage && (hub.faults.resetMidBody ?? 0) > 0 ? Math.floor(length / 2) : undefined;
    if (resetAt !== undefined) hub.faults.resetMidBody! -= 1;
    const chunk = 64 * 1024;
    for (let at = 0; at < length; ) {
      if (res.destroyed) return;
      const end = Math.min(length, at + chunk, resetAt !== undefined && at < resetAt ? resetAt : length);
      await throttle(end - at);
      const ok = res.write(slice(at, end));
      if (isStorage) hub.storage.bytesSent += end - at;
      else hub.fileBytesSent += end - at;
      at = end;
      if (resetAt !== undefined && at >= resetAt) {
        res.socket?.destroy();
        return;
      }
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  };

  const storageRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, third: boolean): void => {
    const faults = hub.faults;
    if (!third && (faults.tooManyRequests ?? 0) > 0) {
      faults.tooManyRequests! -= 1;
      res.writeHead(429, { 'retry-after': String(faults.retryAfterSeconds ?? 0) });
      return void res.end('slow down');
    }
    if (!third && (faults.serverErrors ?? 0) > 0) {
      faults.serverErrors! -= 1;
      res.writeHead(500);
      return void res.end('storage error');
    }
    const match = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    const file = match ? blobs.get(match[1]!) : undefined;
    if (!file) {
      res.writeHead(404);
      return void res.end();
    }
    if (!third && faults.redirectToThirdOrigin) {
      res.writeHead(302, { location: `${hub.third.url}${url.pathname}${url.search}` });
      return void res.end();
    }
    serveRanges(req, res, file, `"${file.lfsSha256}"`, {}, true);
  };

  const withLatency = (handle: () => void): void => {
    if (options.latencyMs) setTimeout(handle, options.latencyMs);
    else handle();
  };
  const record = (list: RecordedRequest[], req: http.IncomingMessage, url: URL): void => {
    const recorded: RecordedRequest = { method: req.method ?? '', path: `${url.pathname}${url.search}` };
    if (req.headers.authorization !== undefined) recorded.authorization = req.headers.authorization;
    if (req.headers.range !== undefined) recorded.range = req.headers.range;
    list.push(recorded);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', hub.url);
    record(hub.requests, req, url);
    const handle = () => withLatency(() => route(req, res, url));
    if (hub.hold) void hub.hold.then(handle);
    else handle();
  });
  const storage = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', hub.storage.url);
    record(storageRequests, req, url);
    withLatency(() => storageRoute(req, res, url, false));
  });
  const third = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', hub.third.url);
    record(thirdRequests, req, url);
    withLatency(() => storageRoute(req, res, url, true));
  });
  const listen = async (s: http.Server): Promise<string> => {
    if (options.idleConnectionMs !== undefined) s.keepAliveTimeout = options.idleConnectionMs;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  hub.url = await listen(server);
  hub.storage.url = await listen(storage);
  // A different host name is a different origin, as a CDN is.
  hub.third.url = (await listen(third)).replace('127.0.0.1', 'localhost');
  hub.close = async () => {
    for (const s of [server, storage, third]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  };
  return hub;
}

/** `bytes=a-b,c-,-n` into [start, end) pairs; undefined when none is satisfiable or the header is malformed. */
function parseRanges(header: string, size: number): Array<[number, number]> | undefined {
  const match = /^bytes=(.+)$/.exec(header.trim());
  if (!match) return undefined;
  const out: Array<[number, number]> = [];
  for (const part of match[1]!.split(',')) {
    const m = /^\s*(\d*)-(\d*)\s*$/.exec(part);
    if (!m || (m[1] === '' && m[2] === '')) return undefined;
    let start: number;
    let end: number;
    if (m[1] === '') {
      start = Math.max(0, size - Number(m[2]));
      end = size;
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
    }
    if (start >= size || end <= start) continue;
    out.push([start, end]);
  }
  return out.length > 0 ? out : undefined;
}

/** Waits so that bytes leave no faster than `bytesPerSecond` overall. */
function bandwidthThrottle(bytesPerSecond: number | undefined): (bytes: number) => Promise<void> {
  if (!bytesPerSecond) return async () => undefined;
  let nextFree = performance.now();
  return async (bytes: number) => {
    const now = performance.now();
    const start = Math.max(now, nextFree);
    nextFree = start + (bytes / bytesPerSecond) * 1000;
    const wait = nextFree - now;
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
  };
}

/** Extensions the Hub's default .gitattributes stores in LFS (plus every file over 10 MB). */
const LFS_EXTENSIONS = new Set(['.bin', '.safetensors', '.gguf', '.onnx', '.pt', '.pth', '.ckpt', '.h5', '.msgpack', '.model', '.pkl', '.pickle', '.jit', '.zip', '.npy', '.npz', '.tflite', '.pb', '.ot']);
const LFS_SIZE_THRESHOLD = 10 * 1024 * 1024;

export function gitBlobOid(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** A file as the Hub stores it: LFS (by extension or size) or git, with its tree entry. */
export function mockFile(name: string, bytes: Uint8Array): { entry: TreeEntry; content: MockFileContent } {
  const lfs = LFS_EXTENSIONS.has(path.extname(name).toLowerCase()) || bytes.length > LFS_SIZE_THRESHOLD;
  const read = (start: number, end: number) => bytes.subarray(start, end);
  const gitOid = gitBlobOid(bytes);
  if (!lfs) return { entry: { type: 'file', path: name, size: bytes.length, oid: gitOid }, content: { size: bytes.length, read, gitOid } };
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    entry: { type: 'file', path: name, size: bytes.length, oid: gitOid, lfs: { oid: sha256, size: bytes.length, pointerSize: 134 } },
    content: { size: bytes.length, read, lfsSha256: sha256 },
  };
}

/** A repo at one commit (also `main`) holding `files`. */
export function mockRepo(id: string, commit: string, files: Record<string, { entry: TreeEntry; content: MockFileContent }>): MockRepo {
  return {
    id,
    refs: { main: commit },
    trees: { [commit]: Object.values(files).map((f) => f.entry) },
    contents: { [commit]: Object.fromEntries(Object.entries(files).map(([p, f]) => [p, f.content])) },
  };
}

/** A repo serving the regular files of a local folder (a zoo model), top level only. */
export function repoFromFolder(id: string, folder: string, commit = commitOf(id)): MockRepo {
  const files: Record<string, { entry: TreeEntry; content: MockFileContent }> = {};
  for (const name of readdirSync(folder).sort()) {
    const full = path.join(folder, name);
    if (!statSync(full).isFile()) continue;
    files[name] = mockFile(name, new Uint8Array(readFileSync(full)));
  }
  return mockRepo(id, commit, files);
}

/** A stable fake 40-hex commit per repo id. */
export function commitOf(id: string): string {
  return createHash('sha1').update(`commit|${id}`).digest('hex');
}
