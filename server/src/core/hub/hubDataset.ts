// A Hub dataset as the shared fingerprint database sees it: a revision resolved to a commit, its
// file list with LFS sha256, downloads verified against those hashes, and a contribution committed
// as a pull request (through @huggingface/hub). The token goes to the endpoint's origin only.
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { commit } from '@huggingface/hub';
import { validateHubEndpoint } from './hubMetadata';

export interface HubDatasetOptions {
  endpoint: string;
  accessToken?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface DatasetFile {
  path: string;
  size: number;
  /** LFS oid: sha256 of the content. */
  sha256?: string;
  /** git blob sha1 (for files stored in git itself). */
  gitOid?: string;
}

export interface DatasetSnapshot {
  id: string;
  commit: string;
  files: DatasetFile[];
}

export class HubDatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HubDatasetError';
  }
}

const MAX_JSON_BYTES = 16 * 1024 * 1024;
const MAX_LISTING_PAGES = 100;
const MAX_FILES = 100_000;
const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_MS = 60_000;
const COMMIT_SHA = /^[0-9a-f]{40}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const DATASET_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}\/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$/;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function endpointOf(options: HubDatasetOptions): URL {
  const checked = validateHubEndpoint(options.endpoint);
  if (!checked.ok) throw new HubDatasetError(checked.detail);
  return new URL(checked.url);
}

export function isValidDatasetId(id: string): boolean {
  return DATASET_ID.test(id) && !id.includes('..');
}

/**
 * GET with manual redirects: the token is sent to the endpoint's origin only (a CDN a download is
 * redirected to never sees it), and at most MAX_REDIRECTS hops. API answers (listings) must come from
 * the endpoint itself; only file downloads may be redirected elsewhere (their hash is checked).
 */
async function hubGet(url: URL, options: HubDatasetOptions, signal: AbortSignal, mayLeaveEndpoint = false): Promise<Response> {
  const endpoint = endpointOf(options);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  for (let hops = 0; ; hops++) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HubDatasetError(`refusing to follow a ${url.protocol} URL`);
    const headers: Record<string, string> = {};
    if (options.accessToken && url.origin === endpoint.origin) headers.authorization = `Bearer ${options.accessToken}`;
    const response = await fetchImpl(url.href, { headers, redirect: 'manual', signal });
    if (!REDIRECT_STATUSES.has(response.status)) return response;
    await response.body?.cancel().catch(() => undefined);
    const location = response.headers.get('location');
    if (!location || hops >= MAX_REDIRECTS) throw new HubDatasetError(location ? 'too many redirects' : 'a redirect without a Location');
    url = new URL(location, url);
    if (!mayLeaveEndpoint && url.origin !== endpoint.origin) throw new HubDatasetError('the Hub redirected an API request outside the endpoint');
  }
}

async function readJson(response: Response, what: string): Promise<unknown> {
  const bytes = await readBounded(response, MAX_JSON_BYTES, what);
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new HubDatasetError(`${what}: the Hub answered something other than JSON`);
  }
}

async function readBounded(response: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new HubDatasetError(`${what}: the answer is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function failStatus(response: Response, what: string): never {
  const code = response.headers.get('x-error-code');
  const hint = response.status === 401 || response.status === 403 ? ' (private or gated: set HF_TOKEN)' : '';
  throw new HubDatasetError(`${what}: HTTP ${response.status}${code ? ` ${code}` : ''}${hint}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Resolves `revision` (branch, tag, commit) to a commit and lists every file there, with its hashes. */
export async function resolveDataset(id: string, revision: string, options: HubDatasetOptions): Promise<DatasetSnapshot> {
  if (!isValidDatasetId(id)) throw new HubDatasetError(`"${id.slice(0, 200)}" is not a valid dataset id (org/name)`);
  const endpoint = endpointOf(options);
  const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const base = endpoint.href.replace(/\/+$/, '');
  const what = `dataset ${id}@${revision}`;
  const info = await hubGet(new URL(`${base}/api/datasets/${id}/revision/${encodeURIComponent(revision)}`), options, signal);
  if (!info.ok) failStatus(info, what);
  const body = await readJson(info, what);
  const sha = isRecord(body) ? body.sha : undefined;
  if (typeof sha !== 'string' || !COMMIT_SHA.test(sha)) throw new HubDatasetError(`${what}: the Hub did not give a commit sha`);
  const files: DatasetFile[] = [];
  let next: URL | undefined = new URL(`${base}/api/datasets/${id}/tree/${sha}?recursive=true`);
  for (let page = 0; next; page++) {
    if (page >= MAX_LISTING_PAGES) throw new HubDatasetError(`${what}: the file listing has more than ${MAX_LISTING_PAGES} pages`);
    if (next.origin !== endpoint.origin) throw new HubDatasetError(`${what}: a listing page outside the endpoint`);
    const response = await hubGet(next, options, signal);
    if (!response.ok) failStatus(response, what);
    const entries = await readJson(response, what);
    if (!Array.isArray(entries)) throw new HubDatasetError(`${what}: the file listing is not a list`);
    for (const entry of entries) {
      if (!isRecord(entry) || entry.type !== 'file' || typeof entry.path !== 'string') continue;
      const file: DatasetFile = { path: entry.path, size: typeof entry.size === 'number' ? entry.size : 0 };
      const lfs = isRecord(entry.lfs) ? entry.lfs : undefined;
      if (lfs && typeof lfs.oid === 'string' && SHA256_HEX.test(lfs.oid)) file.sha256 = lfs.oid;
      if (lfs && typeof lfs.size === 'number') file.size = lfs.size;
      if (typeof entry.oid === 'string' && /^[0-9a-f]{40}$/.test(entry.oid)) file.gitOid = entry.oid;
      files.push(file);
      if (files.length > MAX_FILES) throw new HubDatasetError(`${what}: more than ${MAX_FILES} files`);
    }
    const link = response.headers.get('link');
    const match = link ? /<([^>]+)>;\s*rel="next"/.exec(link) : null;
    next = match ? new URL(match[1]!, next) : undefined;
  }
  return { id, commit: sha, files };
}

/**
 * Downloads one file of the snapshot to `destination` while hashing it, and refuses it (throws)
 * unless its size and sha256 (LFS) or git blob sha1 match the listing: a tampered shard never lands.
 */
export async function downloadVerified(snapshot: DatasetSnapshot, file: DatasetFile, destination: string, options: HubDatasetOptions & { maxBytes: number }): Promise<void> {
  if (!file.sha256 && !file.gitOid) throw new HubDatasetError(`${snapshot.id}/${file.path}: the Hub lists no hash for it, so it cannot be verified`);
  if (file.size > options.maxBytes) throw new HubDatasetError(`${snapshot.id}/${file.path}: ${file.size} bytes, more than the ${options.maxBytes}-byte limit`);
  const endpoint = endpointOf(options);
  const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS * 10);
  const url = new URL(`${endpoint.href.replace(/\/+$/, '')}/datasets/${snapshot.id}/resolve/${snapshot.commit}/${file.path.split('/').map(encodeURIComponent).join('/')}`);
  const response = await hubGet(url, options, signal, true);
  if (!response.ok) failStatus(response, `${snapshot.id}/${file.path}`);
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${file.size}\0`);
  let total = 0;
  const fd = openSync(destination, 'w', 0o600);
  try {
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.byteLength;
        if (total > file.size) break;
        sha256.update(chunk);
        sha1.update(chunk);
        writeSync(fd, chunk);
      }
    }
  } finally {
    closeSync(fd);
  }
  const where = `${snapshot.id}@${snapshot.commit.slice(0, 12)}/${file.path}`;
  if (total !== file.size) throw new HubDatasetError(`${where}: received ${total > file.size ? 'more' : `${total}`} bytes, the Hub lists ${file.size}: refused`);
  if (file.sha256 && sha256.digest('hex') !== file.sha256) throw new HubDatasetError(`${where}: sha256 does not match the Hub's LFS hash: the shard was tampered with or corrupted in transit; refused`);
  if (!file.sha256 && sha1.digest('hex') !== file.gitOid) throw new HubDatasetError(`${where}: content does not match its git object id: refused`);
}

export interface ContributionResult {
  pullRequestUrl?: string;
  commit: string;
}

/** Commits files to the dataset as a pull request (never to a branch directly). */
export async function contributeAsPullRequest(
  datasetId: string,
  files: Array<{ path: string; content: Uint8Array }>,
  title: string,
  description: string,
  options: HubDatasetOptions,
): Promise<ContributionResult> {
  if (!isValidDatasetId(datasetId)) throw new HubDatasetError(`"${datasetId.slice(0, 200)}" is not a valid dataset id (org/name)`);
  const endpoint = endpointOf(options);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  // The token is added here, for the endpoint's origin only (LFS upload URLs may point elsewhere).
  const confined = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers = new Headers(init?.headers);
    headers.delete('authorization');
    if (options.accessToken && url.origin === endpoint.origin) headers.set('authorization', `Bearer ${options.accessToken}`);
    return fetchImpl(url.href, { ...init, headers });
  }) as typeof fetch;
  const result = await commit({
    repo: { type: 'dataset', name: datasetId },
    operations: files.map((f) => ({ operation: 'addOrUpdate' as const, path: f.path, content: new Blob([f.content]) })),
    title,
    description,
    isPullRequest: true,
    hubUrl: endpoint.href.replace(/\/+$/, ''),
    fetch: confined,
    useXet: false,
  });
  if (!result) throw new HubDatasetError(`${datasetId}: the Hub did not confirm the commit`);
  const out: ContributionResult = { commit: result.commit.oid };
  if (result.pullRequestUrl) out.pullRequestUrl = result.pullRequestUrl;
  return out;
}
