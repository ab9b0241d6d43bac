// Dataset routes for the loopback mock Hub (test/support/mockHub.ts keeps the model routes): revision
// and recursive tree listings with LFS oids, `resolve` downloads that redirect LFS files to a second
// loopback server standing in for the CDN (another origin), and the commit protocol @huggingface/hub
// speaks (preupload, LFS batch, upload to the CDN, NDJSON commit with create_pr=1 on refs/pr/N).
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hubError, sendJson, startMockHub, type MockHub, type MockRepo, type RecordedRequest } from './mockHub';

export interface MockDatasetCommit {
  sha: string;
  files: Map<string, Buffer>;
}

export interface MockDataset {
  id: string;
  /** Branch or PR ref ("main", "refs/pr/1") to commit sha. */
  refs: Record<string, string>;
  commits: Map<string, MockDatasetCommit>;
}

export interface MockPullRequest {
  dataset: string;
  number: number;
  commit: string;
  title: string;
  added: string[];
}

export interface MockHubWithDatasets extends MockHub {
  datasets: Map<string, MockDataset>;
  /** Content served by the CDN per sha256; a test may replace it (a tampered mirror). */
  blobs: Map<string, Buffer>;
  cdnUrl: string;
  cdnRequests: RecordedRequest[];
  pullRequests: MockPullRequest[];
  /** Adds a commit on `main` holding `files` (on top of the previous main) and returns its sha. */
  commitToMain(datasetId: string, files: Record<string, Buffer | string>): string;
}

/** Files that go through LFS in the mock dataset (as a .gitattributes of `*.ndjson filter=lfs` would say). */
function isLfsPath(path: string): boolean {
  return path.endsWith('.ndjson') || path.endsWith('.ndjson.gz');
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function gitBlobOid(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

function lfsPointer(bytes: Buffer): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(bytes)}\nsize ${bytes.length}\n`);
}

function newSha(): string {
  return randomBytes(20).toString('hex');
}

async function readBody(req: http.IncomingMessage, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const DATASET_API = /^\/api\/datasets\/([^/]+\/[^/]+)\/(revision|tree|preupload|commit)\/(.+)$/;
const DATASET_RESOLVE = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/;
const LFS_BATCH = /^\/datasets\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/;

export async function startMockHubWithDatasets(models: MockRepo[], datasetIds: string[]): Promise<MockHubWithDatasets> {
  const base = await startMockHub(models);
  const blobs = new Map<string, Buffer>();
  const cdnRequests: RecordedRequest[] = [];
  const cdn = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://cdn');
    const recorded: RecordedRequest = { method: req.method ?? '', path: url.pathname };
    if (req.headers.authorization !== undefined) recorded.authorization = req.headers.authorization;
    cdnRequests.push(recorded);
    const match = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    if (!match) return hubError(res, 404, 'NotFound');
    if (req.method === 'PUT') {
      void readBody(req).then((body) => {
        // Like S3 behind the Hub's presigned URL: the object must hash to its oid.
        if (sha256(body) !== match[1]) return hubError(res, 400, 'BadDigest');
        blobs.set(match[1]!, body);
        res.writeHead(200, { etag: `"${match[1]!.slice(0, 32)}"` });
        res.end();
      });
      return;
    }
    const blob = blobs.get(match[1]!);
    if (!blob) return hubError(res, 404, 'NoSuchKey');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
    res.end(blob);
  });
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  const cdnUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;

  const datasets = new Map<string, MockDataset>();
  for (const id of datasetIds) {
    const sha = newSha();
    datasets.set(id.toLowerCase(), { id, refs: { main: sha }, commits: new Map([[sha, { sha, files: new Map() }]]) });
  }
  const pullRequests: MockPullRequest[] = [];

  const find = (id: string) => datasets.get(id.toLowerCase());
  const commitOf = (dataset: MockDataset, revision: string) => {
    const sha = dataset.refs[revision] ?? (dataset.commits.has(revision) ? revision : undefined);
    return sha ? dataset.commits.get(sha) : undefined;
  };
  const addCommit = (dataset: MockDataset, parent: MockDatasetCommit, files: Map<string, Buffer>): MockDatasetCommit => {
    const next: MockDatasetCommit = { sha: newSha(), files: new Map([...parent.files, ...files]) };
    for (const [path, bytes] of files) if (isLfsPath(path)) blobs.set(sha256(bytes), bytes);
    dataset.commits.set(next.sha, next);
    return next;
  };

  const treeEntry = (path: string, bytes: Buffer) =>
    isLfsPath(path)
      ? { type: 'file', path, size: lfsPointer(bytes).length, oid: gitBlobOid(lfsPointer(bytes)), lfs: { oid: sha256(bytes), size: bytes.length, pointerSize: lfsPointer(bytes).length } }
      : { type: 'file', path, size: bytes.length, oid: gitBlobOid(bytes) };

  const needsToken = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (req.headers.authorization?.startsWith('Bearer ')) return false;
    sendJson(res, 401, { error: 'Invalid credentials in Authorization header' });
    return true;
  };

  const route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean => {
    const api = DATASET_API.exec(url.pathname);
    const resolve = DATASET_RESOLVE.exec(url.pathname);
    const batch = LFS_BATCH.exec(url.pathname);
    if (!api && !resolve && !batch) return false;
    const dataset = find((api ?? resolve ?? batch)![1]!);
    if (!dataset) {
      hubError(res, 404, 'RepoNotFound');
      return true;
    }
    if (resolve) {
      const commit = commitOf(dataset, decodeURIComponent(resolve[2]!));
      const path = resolve[3]!.split('/').map(decodeURIComponent).join('/');
      const bytes = commit?.files.get(path);
      if (!commit) hubError(res, 404, 'RevisionNotFound');
      else if (!bytes) hubError(res, 404, 'EntryNotFound');
      else if (isLfsPath(path)) {
        // Like the Hub: LFS content is a redirect to the CDN (another origin).
        res.writeHead(302, { location: `${cdnUrl}/blobs/${sha256(bytes)}` });
        res.end();
      } else {
        res.writeHead(200, { 'content-length': String(bytes.length) });
        res.end(bytes);
      }
      return true;
    }
    if (batch) {
      if (needsToken(req, res)) return true;
      void readBody(req).then((body) => {
        const request = JSON.parse(body.toString('utf8')) as { objects: Array<{ oid: string; size: number }> };
        sendJson(res, 200, {
          transfer: 'basic',
          objects: request.objects.map((o) => ({ oid: o.oid, size: o.size, authenticated: true, actions: { upload: { href: `${cdnUrl}/blobs/${o.oid}`, expires_at: '2099-01-01T00:00:00Z' } } })),
        });
      });
      return true;
    }
    const [, , kind, revText] = api!;
    const revision = decodeURIComponent(revText!);
    if (kind === 'preupload') {
      if (needsToken(req, res)) return true;
      void readBody(req).then((body) => {
        const request = JSON.parse(body.toString('utf8')) as { files: Array<{ path: string }> };
        sendJson(res, 200, { files: request.files.map((f) => ({ path: f.path, uploadMode: isLfsPath(f.path) ? 'lfs' : 'regular', shouldIgnore: false })) });
      });
      return true;
    }
    if (kind === 'commit') {
      if (needsToken(req, res)) return true;
      void readBody(req).then((body) => {
        const parent = commitOf(dataset, revision);
        if (!parent) return hubError(res, 404, 'RevisionNotFound');
        const lines = body.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
        const files = new Map<string, Buffer>();
        let title = '';
        for (const { key, value } of lines) {
          if (key === 'header') title = String(value.summary ?? '');
          else if (key === 'lfsFile') {
            const blob = blobs.get(String(value.oid));
            if (!blob) return hubError(res, 400, 'LfsObjectMissing');
            files.set(String(value.path), blob);
          } else if (key === 'file') files.set(String(value.path), Buffer.from(String(value.content), value.encoding === 'base64' ? 'base64' : 'utf8'));
        }
        const next = addCommit(dataset, parent, files);
        if (url.searchParams.get('create_pr') === '1') {
          const number = pullRequests.length + 1;
          dataset.refs[`refs/pr/${number}`] = next.sha;
          pullRequests.push({ dataset: dataset.id, number, commit: next.sha, title, added: [...files.keys()] });
          return sendJson(res, 200, { commitOid: next.sha, commitUrl: `${hub.url}/datasets/${dataset.id}/commit/${next.sha}`, pullRequestUrl: `${hub.url}/datasets/${dataset.id}/discussions/${number}` });
        }
        dataset.refs[revision] = next.sha;
        return sendJson(res, 200, { commitOid: next.sha, commitUrl: `${hub.url}/datasets/${dataset.id}/commit/${next.sha}` });
      });
      return true;
    }
    const commit = commitOf(dataset, revision);
    if (!commit) {
      hubError(res, 404, 'RevisionNotFound');
      return true;
    }
    if (kind === 'revision') {
      sendJson(res, 200, { _id: 'mock', id: dataset.id, sha: commit.sha, private: false });
      return true;
    }
    if (url.searchParams.get('recursive') !== 'true') {
      hubError(res, 400, 'NotRecursive');
      return true;
    }
    const entries = [...commit.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, bytes]) => treeEntry(path, bytes));
    const cursor = Number(url.searchParams.get('cursor') ?? '0');
    const next = cursor + hub.pageSize;
    const headers: Record<string, string> = {};
    if (next < entries.length) {
      const nextUrl = new URL(url.href);
      nextUrl.searchParams.set('cursor', String(next));
      headers['link'] = `<${nextUrl.href}>; rel="next"`;
    }
    sendJson(res, 200, entries.slice(cursor, next), headers);
    return true;
  };

  const hub = base as MockHubWithDatasets;
  hub.override = route;
  hub.datasets = datasets;
  hub.blobs = blobs;
  hub.cdnUrl = cdnUrl;
  hub.cdnRequests = cdnRequests;
  hub.pullRequests = pullRequests;
  hub.commitToMain = (datasetId, files) => {
    const dataset = find(datasetId)!;
    const next = addCommit(dataset, dataset.commits.get(dataset.refs.main!)!, new Map(Object.entries(files).map(([p, c]) => [p, Buffer.isBuffer(c) ? c : Buffer.from(c)])));
    dataset.refs.main = next.sha;
    return next.sha;
  };
  const closeBase = base.close;
  hub.close = async () => {
    cdn.closeAllConnections();
    await new Promise<void>((resolve) => cdn.close(() => resolve()));
    await closeBase();
  };
  return hub;
}
