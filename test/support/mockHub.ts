// A loopback mock of the few Hugging Face Hub API routes @huggingface/hub calls for model metadata
// (model info per revision, recursive tree listing with Link pagination). Tests script hostile or
// broken answers through `override`, and hold answers back through `hold`. Never the real internet.
import * as http from 'node:http';
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
  /** Tree listing answers 403 GatedRepo (download-level gating). */
  treeGated?: boolean;
  /** A private repo the caller cannot see: answered like a missing one. */
  privateRepo?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
}

export type Override = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

export interface MockHub {
  url: string;
  requests: RecordedRequest[];
  /** Set per test: handles a request before the regular routes when it returns true. */
  override?: Override;
  /** When set, every answer waits for it (requests are still recorded on arrival). */
  hold?: Promise<void>;
  /** Bearer tokens answered 401 without an error code, as the Hub answers invalid credentials. */
  refusedTokens: Set<string>;
  pageSize: number;
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

export async function startMockHub(repos: MockRepo[]): Promise<MockHub> {
  const hub: MockHub = { url: '', requests: [], refusedTokens: new Set(), pageSize: 2, close: async () => undefined };
  const route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL): void => {
    if (hub.override?.(req, res, url)) return;
    const authorization = req.headers.authorization;
    if (authorization !== undefined && hub.refusedTokens.has(authorization.replace(/^Bearer /, ''))) {
      return sendJson(res, 401, { error: 'Invalid credentials in Authorization header' });
    }
    const match = MODEL_ROUTE.exec(url.pathname);
    if (req.method !== 'GET' || !match) return hubError(res, 404, 'EntryNotFound');
    const [, idText, kind, revText] = match;
    const repo = repos.find((r) => r.id.toLowerCase() === idText!.toLowerCase());
    // Like the Hub: a missing or invisible repo is 401 without a token, 404 with one.
    if (!repo || repo.privateRepo) return hubError(res, authorization === undefined ? 401 : 404, 'RepoNotFound');
    const revision = decodeURIComponent(revText!);
    // Like the Hub (git): a branch, a full commit, or an unambiguous short commit of at least 7 hex digits.
    const commits = [...new Set([...Object.values(repo.refs), ...Object.keys(repo.trees ?? {})])];
    const prefixed = /^[0-9a-f]{7,39}$/.test(revision) ? commits.filter((c) => c.startsWith(revision)) : [];
    const commit = repo.refs[revision] ?? (commits.includes(revision) ? revision : prefixed.length === 1 ? prefixed[0] : undefined);
    if (!commit) return hubError(res, 404, 'RevisionNotFound');

    if (kind === 'revision') {
      // Like the Hub: with `expand`, only the expanded fields (plus the ids) come back.
      const full: Record<string, unknown> = { _id: 'mock', id: repo.id, sha: commit, private: false, gated: false, ...repo.info };
      const body: Record<string, unknown> = { _id: full['_id'], id: full['id'] };
      for (const key of url.searchParams.getAll('expand')) if (key in full) body[key] = full[key];
      return sendJson(res, 200, body);
    }
    if (repo.treeGated) return hubError(res, 403, 'GatedRepo');
    if (url.searchParams.get('recursive') !== 'true') return hubError(res, 400, 'NotRecursive');
    const entries = repo.trees[commit] ?? [];
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
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', hub.url);
    const recorded: RecordedRequest = { method: req.method ?? '', path: `${url.pathname}${url.search}` };
    if (req.headers.authorization !== undefined) recorded.authorization = req.headers.authorization;
    hub.requests.push(recorded);
    if (hub.hold) void hub.hold.then(() => route(req, res, url));
    else route(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return hub;
}
