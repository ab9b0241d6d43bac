// Metadata of a Hub model repository (resolved commit, file list, card fields) for references that
// are not on this machine. Reads JSON only, never weights. The Hub, or a mirror configured in its
// place, is untrusted: every response is size-capped, every field is type-checked, and the client
// never leaves the configured endpoint (redirects and pagination links included).
import { listFiles, modelInfo, type ModelAdditionalField } from '@huggingface/hub';
import { isValidRepoId, isValidRevision } from '../model/reference';

export interface HubLookupOptions {
  /** e.g. "https://huggingface.co" or "http://127.0.0.1:PORT" (a mirror). */
  endpoint: string;
  /** Optional; read from HF_TOKEN by the caller. Sent only to the endpoint, never put in a detail. */
  accessToken?: string;
  /** Default 10_000; the whole lookup (every request and body) is aborted after this. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Test seam, default globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface HubFile {
  path: string;
  sizeBytes?: number;
  lfsSha256?: string;
  /** git blob id (sha1 of "blob <size>\0" + content) of a file stored in git itself, not LFS. */
  gitOid?: string;
}

export interface HubModelMetadata {
  /** Canonical id as the Hub returns it (case may differ from the request; a renamed repo gives its new id). */
  repoId: string;
  /** 'main' when none given. */
  revisionAsked: string;
  /** 40-hex sha the revision resolved to. */
  commit: string;
  /** Files (not folders) of the commit, at most MAX_HUB_FILES. */
  files: HubFile[];
  filesTruncated: boolean;
  /** Entries of the listing that were dropped: unsafe or duplicate paths. */
  rejectedPaths: number;
  gated?: false | 'auto' | 'manual';
  private?: boolean;
  /** cardData.license. */
  licence?: string;
  /** cardData.base_model, string or list, deduplicated (case-insensitively), only valid repo ids. */
  baseModels: string[];
  libraryName?: string;
  pipelineTag?: string;
  lastModified?: string;
}

export type HubLookupFailureReason =
  /** The Hub does not know the repo, or the caller may not see it (it answers both alike). */
  | 'not-found'
  | 'revision-not-found'
  | 'unauthorized'
  | 'gated'
  | 'offline'
  | 'timeout'
  | 'invalid-response'
  | 'invalid-id'
  | 'http-error';

export type HubLookupResult =
  | { ok: true; metadata: HubModelMetadata }
  | { ok: false; reason: HubLookupFailureReason; detail: string };

export const DEFAULT_HUB_TIMEOUT_MS = 10_000;
/** Real model-info answers with cardData are a few KiB to a few hundred KiB. */
export const MAX_MODEL_INFO_BYTES = 4 * 1024 * 1024;
/** One page of the tree listing; the Hub pages at about 1000 entries (~300 KiB). */
export const MAX_FILE_LISTING_BYTES = 16 * 1024 * 1024;
export const MAX_HUB_FILES = 10_000;
/** Pages and entries (folders and rejected paths included) bound the listing when a server pages forever. */
const MAX_LISTING_PAGES = 100;
const MAX_LISTING_ENTRIES = 100_000;
const MAX_REDIRECTS = 5;
const MAX_FILE_PATH_LENGTH = 1024;
const MAX_TEXT_FIELD_LENGTH = 128;
const MAX_BASE_MODELS = 64;
/** Fields of the model info asked for (`siblings` too when the listing comes with it). */
const INFO_FIELDS = ['sha', 'cardData', 'library_name'] as const;
const COMMIT_SHA = /^[0-9a-f]{40}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const GIT_OID = /^[0-9a-f]{40}$/;
/** Visible ASCII only: anything else in a header value is refused by fetch or is header injection. */
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]+$/;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Statuses whose Response may not carry a body (the Response constructor throws otherwise). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);
/** Connection-level failures that mean "the endpoint cannot be reached from here". */
const OFFLINE_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** http(s) only, no credentials, no query or fragment (they would corrupt the API paths); trailing slashes stripped. */
export function validateHubEndpoint(endpoint: string): { ok: true; url: string } | { ok: false; detail: string } {
  let url: URL;
  try {
    url = new URL(endpoint.trim());
  } catch {
    // The text is not echoed: a malformed value may still hold a secret.
    return { ok: false, detail: 'the Hub endpoint is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, detail: `the Hub endpoint must use http or https, not ${url.protocol.replace(/:$/, '')}` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, detail: 'the Hub endpoint must not contain credentials (use HF_TOKEN)' };
  }
  if (url.search !== '' || url.hash !== '') {
    return { ok: false, detail: `the Hub endpoint ${url.origin} must not have a query or fragment` };
  }
  return { ok: true, url: url.origin + url.pathname.replace(/\/+$/, '') };
}

/**
 * Looks up a model repository's metadata on the Hub. Never throws for Hub, network or data
 * problems (they are results); rejects with an AbortError only when options.signal aborts.
 */
export async function lookUpHubModel(
  repoId: string,
  revision: string | undefined,
  options: HubLookupOptions,
): Promise<HubLookupResult> {
  if (options.signal?.aborted) throw abortErrorOf(options.signal);
  const revisionAsked = revision ?? 'main';
  if (!isValidRepoId(repoId)) return failure('invalid-id', `${quoteInput(repoId)} is not a valid Hub model id`);
  if (!isValidRevision(revisionAsked)) {
    return failure('invalid-id', `${quoteInput(revisionAsked)} is not a valid revision of ${repoId}`);
  }
  const endpoint = validateHubEndpoint(options.endpoint);
  if (!endpoint.ok) return failure('http-error', endpoint.detail);
  const accessToken = options.accessToken === '' ? undefined : options.accessToken;
  if (accessToken !== undefined && !HEADER_SAFE_TOKEN.test(accessToken)) {
    return failure('unauthorized', 'the Hub access token contains characters not allowed in an HTTP header');
  }

  const timeoutMs = options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0
    ? options.timeoutMs
    : DEFAULT_HUB_TIMEOUT_MS;
  const timeoutSignal = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeoutSignal]) : timeoutSignal;
  const where = `${repoId}@${revisionAsked} on ${endpoint.url}`;
  const session: FetchSession = {
    base: new URL(endpoint.url),
    basePath: new URL(endpoint.url).pathname.replace(/\/+$/, ''),
    accessToken,
    signal,
    fetchImpl: options.fetch ?? globalThis.fetch,
  };

  try {
    const askInfo = (withFiles: boolean) => modelInfo({
      name: repoId,
      revision: revisionAsked,
      hubUrl: endpoint.url,
      // 'siblings' raw: the library's typed `filePaths` keeps only the names. Should a later version
      // drop untyped fields, the answer has no siblings and the tree is listed instead.
      additionalFields: withFiles ? [...INFO_FIELDS, 'siblings' as ModelAdditionalField] : [...INFO_FIELDS],
      // `blobs=true` (what huggingface_hub sends for `files_metadata`) gives every sibling its size,
      // git blob id and LFS sha256: the listing comes with the commit, one round trip instead of two.
      // The library has no option for it, so the fetch adds it.
      fetch: guardedFetch(session, withFiles ? { maxBodyBytes: MAX_FILE_LISTING_BYTES, query: { blobs: 'true' } } : { maxBodyBytes: MAX_MODEL_INFO_BYTES }),
    });
    // A repo with too many files for one answer: the info alone, then the paged tree listing.
    const info = await askInfo(true).catch((err: unknown) => {
      if (err instanceof ResponseTooLargeError) return askInfo(false);
      throw err;
    });
    const parsed = parseModelInfo(info, revisionAsked);
    if (typeof parsed === 'string') return failure('invalid-response', `${where}: ${parsed}`);
    // Otherwise (a mirror that ignores `blobs`, an answer too large) the tree, listed at the resolved
    // commit (not the branch): files stay consistent with `commit` even if the branch moves meanwhile,
    // and `refs/pr/N` needs no encoding (listFiles sends it raw).
    const listing = listingOfSiblings((info as { siblings?: unknown }).siblings)
      ?? (await listCommitFiles(parsed.repoId, parsed.commit, endpoint.url, session));
    return {
      ok: true,
      metadata: { ...parsed, revisionAsked, files: listing.files, filesTruncated: listing.truncated, rejectedPaths: listing.rejected },
    };
  } catch (err) {
    if (options.signal?.aborted) throw abortErrorOf(options.signal);
    if (timeoutSignal.aborted) return failure('timeout', `${where}: no complete answer within ${timeoutMs} ms`);
    return classifyError(err, session, where);
  }
}

// ---------------------------------------------------------------------------------------------
// Bounded, endpoint-confined fetch handed to @huggingface/hub

interface FetchSession {
  base: URL;
  /** Path prefix of the endpoint without trailing slash ('' at the root). */
  basePath: string;
  accessToken: string | undefined;
  signal: AbortSignal;
  fetchImpl: typeof fetch;
  /** The last HTTP error answer; the library turns it into an exception without its headers. */
  lastHttpError?: { status: number; errorCode: string | null };
}

/** A failure detected by the guarded fetch itself, already classified. */
class HubFetchError extends Error {
  constructor(readonly reason: HubLookupFailureReason, message: string) {
    super(message);
    this.name = 'HubFetchError';
  }
}

/** Malformed content found while reading a listing the library already parsed. */
class InvalidHubDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHubDataError';
  }
}

/** A body past its cap (the caller may ask for less). */
class ResponseTooLargeError extends HubFetchError {
  constructor(maxBytes: number) {
    super('invalid-response', `a response exceeded ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

interface GuardOptions {
  maxBodyBytes: number;
  /** Query parameters added to the request the library makes (not to redirects or pagination links). */
  query?: Record<string, string>;
  /** Called per page; returning false drops the page's Link header so the library stops paging. */
  allowNextPage?: () => boolean;
}

function guardedFetch(session: FetchSession, guard: GuardOptions): typeof fetch {
  const fetchWithinEndpoint = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let url = toUrl(input);
    for (const [name, value] of Object.entries(guard.query ?? {})) url.searchParams.set(name, value);
    assertWithinEndpoint(session, url, 'request');
    // The token is added here rather than passed to the library: only this code decides where it
    // goes, and the library's `hf_` prefix check would reject valid enterprise tokens.
    const headers = new Headers(init?.headers);
    headers.delete('authorization');
    if (session.accessToken !== undefined) headers.set('authorization', `Bearer ${session.accessToken}`);

    let response: Response | undefined;
    for (let redirects = 0; ; redirects++) {
      response = await callFetch(session, url, { ...init, headers, signal: session.signal, redirect: 'manual' });
      if (!REDIRECT_STATUSES.has(response.status)) break;
      const location = response.headers.get('location');
      await response.body?.cancel().catch(() => undefined);
      // The Hub answers a renamed repo with a same-origin 307; anything leaving the endpoint is refused.
      if (location === null || redirects >= MAX_REDIRECTS) {
        throw new HubFetchError('http-error', location === null ? 'redirect without a Location' : 'too many redirects');
      }
      url = new URL(location, url);
      assertWithinEndpoint(session, url, 'redirect');
    }

    const body = NULL_BODY_STATUSES.has(response.status) ? null : await readBodyBounded(session, response, guard.maxBodyBytes);
    if (!response.ok) session.lastHttpError = { status: response.status, errorCode: response.headers.get('x-error-code') };
    const responseHeaders = new Headers(response.headers);
    if (responseHeaders.has('link') && guard.allowNextPage && !guard.allowNextPage()) responseHeaders.delete('link');
    return new Response(body, { status: response.status, statusText: response.statusText, headers: responseHeaders });
  };
  return fetchWithinEndpoint as typeof fetch;
}

function toUrl(input: string | URL | Request): URL {
  if (typeof input === 'string') return new URL(input);
  if (input instanceof URL) return input;
  return new URL(input.url);
}

function assertWithinEndpoint(session: FetchSession, url: URL, what: 'request' | 'redirect'): void {
  const insidePath = session.basePath === '' || url.pathname === session.basePath || url.pathname.startsWith(`${session.basePath}/`);
  if (url.origin !== session.base.origin || !insidePath) {
    // Pagination links and redirects come from the server; following one elsewhere would leak the token.
    throw new HubFetchError('invalid-response', `the server sent a ${what === 'redirect' ? 'redirect' : 'link'} outside the endpoint`);
  }
}

async function callFetch(session: FetchSession, url: URL, init: RequestInit): Promise<Response> {
  try {
    return await session.fetchImpl(url.href, init);
  } catch (err) {
    throw networkFailure(session, err);
  }
}

/** Reads the body with a byte counter (Content-Length is not trusted); stops and cancels past the cap. */
async function readBodyBounded(session: FetchSession, response: Response, maxBytes: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  // No releaseLock() once the body has ended: a read-to-the-end stream needs nothing released, and
  // releasing builds an Error whose stack (with source maps on) costs milliseconds per response.
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new ResponseTooLargeError(maxBytes);
      chunks.push(value);
    }
  } catch (err) {
    // The connection is given back (or closed) only when the rest of the body is cancelled.
    await reader.cancel().catch(() => undefined);
    if (err instanceof HubFetchError) throw err;
    throw networkFailure(session, err);
  }
  return Buffer.concat(chunks, total);
}

/** Aborts pass through unchanged (the caller classifies them by which signal fired). */
function networkFailure(session: FetchSession, err: unknown): unknown {
  if (session.signal.aborted) return err;
  const code = errorCodeOf(err);
  if (code !== undefined && OFFLINE_ERROR_CODES.has(code)) return new HubFetchError('offline', `cannot connect (${code})`);
  return new HubFetchError('http-error', `network error (${code ?? (err instanceof Error ? err.message : 'unknown')})`);
}

/** undici hides the system error code in `cause`, sometimes inside an AggregateError (happy eyeballs). */
function errorCodeOf(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = errorCodeOf(inner, depth + 1);
      if (innerCode !== undefined) return innerCode;
    }
  }
  return errorCodeOf((err as { cause?: unknown }).cause, depth + 1);
}

// ---------------------------------------------------------------------------------------------
// Classification of failures

function failure(reason: HubLookupFailureReason, detail: string): HubLookupResult {
  return { ok: false, reason, detail };
}

function classifyError(err: unknown, session: FetchSession, where: string): HubLookupResult {
  if (err instanceof HubFetchError) return failure(err.reason, `${where}: ${err.message}`);
  // Checked before the error type: the library may fail while reading an error body (bad JSON)
  // and then throws a SyntaxError rather than a HubApiError, yet the status says what happened.
  const httpError = session.lastHttpError;
  if (httpError !== undefined) return classifyHttpError(httpError, session, where);
  if (err instanceof InvalidHubDataError) return failure('invalid-response', `${where}: ${err.message}`);
  // Anything else was thrown while the library parsed a 2xx body: JSON syntax, wrong shapes.
  return failure('invalid-response', `${where}: the server's answer is not the JSON the Hub API returns`);
}

function classifyHttpError(httpError: { status: number; errorCode: string | null }, session: FetchSession, where: string): HubLookupResult {
  const { status, errorCode } = httpError;
  if (errorCode === 'GatedRepo') {
    return failure('gated', `${where}: the repo is gated; accept its conditions on the Hub${session.accessToken ? ' with this token\'s account' : ' and set HF_TOKEN'}`);
  }
  if (errorCode === 'RevisionNotFound') return failure('revision-not-found', `${where}: revision not found (HTTP ${status})`);
  // Without a token the Hub answers 401 RepoNotFound for a missing and a private repo alike (with a
  // token, 404): huggingface_hub reads both as "repository not found", and so do we.
  if (errorCode === 'RepoNotFound' || status === 404) {
    const hint = status === 401 && !session.accessToken ? ', or private: set HF_TOKEN' : '';
    return failure('not-found', `${where}: repo not found${hint} (HTTP ${status})`);
  }
  if (status === 401 || status === 403) {
    const hint = session.accessToken ? 'the token was refused or lacks access' : 'private or gated; set HF_TOKEN';
    return failure('unauthorized', `${where}: ${hint} (HTTP ${status})`);
  }
  return failure('http-error', `${where}: HTTP ${status}${errorCode ? ` (${sanitizeText(errorCode) ?? 'error'})` : ''}`);
}

function abortErrorOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('the Hub lookup was cancelled', 'AbortError');
}

// ---------------------------------------------------------------------------------------------
// Parsing the answers (typed by the library, but nothing in them is trusted)

type ParsedModelInfo = Omit<HubModelMetadata, 'revisionAsked' | 'files' | 'filesTruncated' | 'rejectedPaths'>;

/** Returns the fields, or a description of what is wrong with the answer. */
function parseModelInfo(info: unknown, revisionAsked: string): ParsedModelInfo | string {
  if (!isRecord(info)) return 'model info is not an object';
  const canonicalId = info['name'];
  if (typeof canonicalId !== 'string' || !isValidRepoId(canonicalId)) return 'model info has no valid repo id';
  const sha = info['sha'];
  if (typeof sha !== 'string' || !COMMIT_SHA.test(sha.toLowerCase())) return 'model info has no 40-hex commit sha';
  const commit = sha.toLowerCase();
  // A pinned request must come back pinned to the same commit, or the server is lying about it.
  if (COMMIT_SHA.test(revisionAsked) && commit !== revisionAsked) return `asked for commit ${revisionAsked}, got ${commit}`;

  const gated = info['gated'];
  const isPrivate = info['private'];
  const cardData = isRecord(info['cardData']) ? info['cardData'] : {};
  const updatedAt = info['updatedAt'];
  const metadata: ParsedModelInfo = { repoId: canonicalId, commit, baseModels: baseModelsOf(cardData['base_model']) };
  if (gated === false || gated === 'auto' || gated === 'manual') metadata.gated = gated;
  if (typeof isPrivate === 'boolean') metadata.private = isPrivate;
  const licence = licenceOf(cardData['license']);
  if (licence !== undefined) metadata.licence = licence;
  const libraryName = sanitizeText(info['library_name']);
  if (libraryName !== undefined) metadata.libraryName = libraryName;
  const pipelineTag = sanitizeText(info['task']);
  if (pipelineTag !== undefined) metadata.pipelineTag = pipelineTag;
  // The library builds updatedAt with `new Date(lastModified)`, which is Invalid Date for junk.
  if (updatedAt instanceof Date && !Number.isNaN(updatedAt.getTime())) metadata.lastModified = updatedAt.toISOString();
  return metadata;
}

function baseModelsOf(value: unknown): string[] {
  const candidates = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  const seen = new Set<string>();
  const baseModels: string[] = [];
  for (const candidate of candidates) {
    if (baseModels.length >= MAX_BASE_MODELS) break;
    if (typeof candidate !== 'string') continue;
    const id = candidate.trim();
    // The Hub matches ids case-insensitively, so `Org/M` and `org/m` are one base.
    if (!isValidRepoId(id) || seen.has(id.toLowerCase())) continue;
    seen.add(id.toLowerCase());
    baseModels.push(id);
  }
  return baseModels;
}

/** Model cards give a licence id, occasionally a list of them. */
function licenceOf(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    const names = value.map(sanitizeText).filter((name): name is string => name !== undefined);
    return names.length > 0 ? sanitizeText(names.join(', ')) : undefined;
  }
  return sanitizeText(value);
}

/** Short single-line strings only: these end up in hovers and diagnostics. */
function sanitizeText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length === 0 || text.length > MAX_TEXT_FIELD_LENGTH || /[\u0000-\u001f\u007f-\u009f]/.test(text)) return undefined;
  return text;
}

interface FileListing {
  files: HubFile[];
  truncated: boolean;
  rejected: number;
}

async function listCommitFiles(repoId: string, commit: string, hubUrl: string, session: FetchSession): Promise<FileListing> {
  let pages = 0;
  let morePagesDropped = false;
  const fetchPage = guardedFetch(session, {
    maxBodyBytes: MAX_FILE_LISTING_BYTES,
    allowNextPage: () => {
      pages++;
      morePagesDropped = pages >= MAX_LISTING_PAGES;
      return !morePagesDropped;
    },
  });
  const listing = new ListingBuilder();
  // An object designation: a string such as `datasets/x` would be read as a dataset repo.
  const entryStream = listFiles({ repo: { type: 'model', name: repoId }, revision: commit, recursive: true, hubUrl, fetch: fetchPage });
  for await (const entry of entryStream as AsyncIterable<unknown>) {
    if (!isRecord(entry)) throw new InvalidHubDataError('the file listing holds something other than entries');
    if (entry['type'] !== 'file') {
      if (!listing.skip()) break;
      continue;
    }
    if (!listing.add(entry)) break;
  }
  return listing.result(morePagesDropped);
}

/**
 * The listing in a model-info answer asked with `blobs=true`: siblings `{rfilename, size, blobId,
 * lfs: {sha256, size}}`, read as the tree's entries are. Undefined when the answer has no such
 * listing (no siblings, or siblings without sizes: a server that ignored `blobs`).
 */
function listingOfSiblings(siblings: unknown): FileListing | undefined {
  if (!Array.isArray(siblings)) return undefined;
  const withSize = (s: unknown) => isRecord(s) && (isByteCount(s['size']) || (isRecord(s['lfs']) && isByteCount(s['lfs']['size'])));
  if (!siblings.every(withSize)) return undefined;
  const listing = new ListingBuilder();
  for (const s of siblings as Array<Record<string, unknown>>) {
    const lfs = isRecord(s['lfs']) ? { oid: s['lfs']['sha256'], size: s['lfs']['size'] } : undefined;
    if (!listing.add({ path: s['rfilename'], size: s['size'], oid: s['blobId'], ...(lfs ? { lfs } : {}) })) break;
  }
  return listing.result(false);
}

/** Files of a listing: unsafe or repeated paths dropped and counted; at most MAX_HUB_FILES files and MAX_LISTING_ENTRIES entries. */
class ListingBuilder {
  private readonly files: HubFile[] = [];
  private readonly seenPaths = new Set<string>();
  private rejected = 0;
  private entries = 0;
  private truncated = false;

  /** An entry that is not a file (a folder); false when the listing is full. */
  skip(): boolean {
    if (++this.entries > MAX_LISTING_ENTRIES) this.truncated = true;
    return !this.truncated;
  }

  /** A tree entry `{path, size, oid, lfs: {oid, size}}`; false when the listing is full. */
  add(entry: Record<string, unknown>): boolean {
    if (!this.skip()) return false;
    const path = entry['path'];
    if (typeof path !== 'string' || !isSafeRelativePath(path) || this.seenPaths.has(path)) {
      this.rejected++;
      return true;
    }
    if (this.files.length >= MAX_HUB_FILES) {
      this.truncated = true;
      return false;
    }
    this.seenPaths.add(path);
    this.files.push(hubFileOf(path, entry));
    return true;
  }

  result(morePagesDropped: boolean): FileListing {
    return { files: this.files, truncated: this.truncated || morePagesDropped, rejected: this.rejected };
  }
}

function hubFileOf(path: string, entry: Record<string, unknown>): HubFile {
  const file: HubFile = { path };
  const lfs = isRecord(entry['lfs']) ? entry['lfs'] : undefined;
  // For LFS files the pointer is what git stores; lfs.size is the size of the real content.
  const sizeBytes = lfs !== undefined && isByteCount(lfs['size']) ? lfs['size'] : entry['size'];
  if (isByteCount(sizeBytes)) file.sizeBytes = sizeBytes;
  const oid = lfs?.['oid'];
  if (typeof oid === 'string' && SHA256_HEX.test(oid)) file.lfsSha256 = oid;
  const gitOid = entry['oid'];
  if (lfs === undefined && typeof gitOid === 'string' && GIT_OID.test(gitOid)) file.gitOid = gitOid;
  return file;
}

/** Relative, `/`-separated, no `.`/`..`/empty segments: safe to join under a snapshot folder on any OS. */
function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > MAX_FILE_PATH_LENGTH) return false;
  // Backslash is a separator on Windows; a drive prefix makes path.resolve absolute there.
  if (/[\u0000-\u001f\u007f\\]/.test(path) || path.startsWith('/') || /^[A-Za-z]:/.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** User text in a detail: quoted (control characters escaped) and clipped. */
function quoteInput(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}
