// Hub metadata lookups against a loopback mock of the few Hub API routes @huggingface/hub calls
// (model info per revision, recursive tree listing with Link pagination), including hostile and
// broken servers. Nothing here touches the real internet.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  lookUpHubModel,
  MAX_FILE_LISTING_BYTES,
  MAX_HUB_FILES,
  MAX_MODEL_INFO_BYTES,
  validateHubEndpoint,
  type HubLookupOptions,
  type HubLookupResult,
  type HubModelMetadata,
} from '../../../server/src/core/hub';
import { hubError, sendJson, startMockHub, type MockHub, type MockRepo } from '../../support/mockHub';

const SHA_MAIN = 'a'.repeat(40);
const SHA_PR = 'b'.repeat(40);
const LFS_SHA = 'c'.repeat(64);

function expectOk(result: HubLookupResult): HubModelMetadata {
  if (!result.ok) assert.fail(`expected metadata, got ${result.reason}: ${result.detail}`);
  return result.metadata;
}

function expectFailure(result: HubLookupResult, reason: string): string {
  if (result.ok) assert.fail(`expected ${reason}, got metadata of ${result.metadata.repoId}`);
  assert.equal(result.reason, reason, result.detail);
  return result.detail;
}

const REPOS: MockRepo[] = [
  {
    id: 'Org/Model-A',
    refs: { main: SHA_MAIN, 'refs/pr/1': SHA_PR },
    info: {
      pipeline_tag: 'text-generation',
      library_name: 'transformers',
      lastModified: '2024-05-01T12:00:00.000Z',
      cardData: { license: 'apache-2.0', base_model: 'meta-llama/Llama-2-7b-hf' },
    },
    trees: {
      [SHA_MAIN]: [
        { type: 'file', path: 'config.json', size: 612, oid: '1'.repeat(40) },
        { type: 'directory', path: 'onnx', size: 0, oid: '2'.repeat(40) },
        { type: 'file', path: 'onnx/model.onnx', size: 134, oid: '3'.repeat(40), lfs: { oid: LFS_SHA, size: 1_000_000, pointerSize: 134 } },
        { type: 'file', path: 'model.safetensors', size: 2_000_000, oid: '4'.repeat(40), lfs: { oid: LFS_SHA, size: 2_000_000, pointerSize: 134 } },
      ],
      [SHA_PR]: [{ type: 'file', path: 'pr-only.json', size: 3 }],
    },
  },
  {
    id: 'org/merge',
    refs: { main: SHA_MAIN },
    info: { cardData: { license: ['mit', 'apache-2.0'], base_model: ['a/b', 'A/B', '../evil', 'c/d', 42, 'x--y', 'gpt2'] } },
    trees: { [SHA_MAIN]: [] },
  },
  { id: 'org/gated', refs: { main: SHA_MAIN }, info: { gated: 'manual' }, trees: { [SHA_MAIN]: [{ type: 'file', path: 'README.md', size: 10 }] } },
  { id: 'org/gated-files', refs: { main: SHA_MAIN }, info: { gated: 'auto' }, trees: {}, treeGated: true },
  { id: 'org/private', refs: { main: SHA_MAIN }, trees: {}, privateRepo: true },
  { id: 'openai-community/gpt2', refs: { main: SHA_MAIN }, trees: { [SHA_MAIN]: [{ type: 'file', path: 'vocab.json', size: 5 }] } },
  {
    id: 'org/hostile-files',
    refs: { main: SHA_MAIN },
    trees: {
      [SHA_MAIN]: [
        { type: 'file', path: '../x' },
        { type: 'file', path: '/etc/passwd' },
        { type: 'file', path: 'a/../../b' },
        { type: 'file', path: 'a\\..\\b' },
        { type: 'file', path: 'C:/Windows/x' },
        { type: 'file', path: 'a//b' },
        { type: 'file', path: '' },
        { type: 'file', path: 42 },
        { type: 'file', path: 'ok.bin', size: -5 },
        { type: 'file', path: 'ok.bin', size: 7 },
        { type: 'file', path: 'sub/ok.txt', size: 1.5, lfs: { oid: 'not-a-sha', size: 3, pointerSize: 1 } },
      ],
    },
  },
  {
    id: 'org/many-files',
    refs: { main: SHA_MAIN },
    trees: { [SHA_MAIN]: Array.from({ length: MAX_HUB_FILES + 5 }, (_, i) => ({ type: 'file', path: `f/${i}.bin`, size: i })) },
  },
];

describe('hub: metadata lookup (validateHubEndpoint)', () => {
  it('accepts http(s), strips trailing slashes and keeps a path prefix', () => {
    assert.deepEqual(validateHubEndpoint('https://huggingface.co/'), { ok: true, url: 'https://huggingface.co' });
    assert.deepEqual(validateHubEndpoint(' http://127.0.0.1:8080 '), { ok: true, url: 'http://127.0.0.1:8080' });
    assert.deepEqual(validateHubEndpoint('https://hub.example.com/hf//'), { ok: true, url: 'https://hub.example.com/hf' });
  });

  it('refuses other schemes, credentials, queries and non-URLs without echoing secrets', () => {
    for (const bad of ['ftp://hub.example.com', 'file:///etc', 'javascript:alert(1)', 'https://user:hf_secret@hub.example.com', 'https://hub.example.com/?a=1', 'https://hub.example.com/#x', 'hf_secret', '']) {
      const result = validateHubEndpoint(bad);
      assert.equal(result.ok, false, bad);
      if (!result.ok) assert.ok(!result.detail.includes('hf_secret'), result.detail);
    }
  });
});

describe('hub: metadata lookup against a mock Hub', function () {
  this.timeout(20_000);
  let hub: MockHub;
  let options: HubLookupOptions;
  before(async () => {
    hub = await startMockHub(REPOS);
  });
  beforeEach(() => {
    hub.requests.length = 0;
    hub.override = undefined;
    hub.refusedTokens.clear();
    hub.pageSize = 2;
    hub.ignoresBlobs = false;
    options = { endpoint: `${hub.url}/`, timeoutMs: 5_000 };
  });
  after(() => hub.close());

  const MODEL_A_METADATA = {
      repoId: 'Org/Model-A',
      revisionAsked: 'main',
      commit: SHA_MAIN,
      files: [
        { path: 'config.json', sizeBytes: 612, gitOid: '1'.repeat(40) },
        { path: 'onnx/model.onnx', sizeBytes: 1_000_000, lfsSha256: LFS_SHA },
        { path: 'model.safetensors', sizeBytes: 2_000_000, lfsSha256: LFS_SHA },
      ],
      filesTruncated: false,
      rejectedPaths: 0,
      gated: false,
      private: false,
      licence: 'apache-2.0',
      baseModels: ['meta-llama/Llama-2-7b-hf'],
      libraryName: 'transformers',
      pipelineTag: 'text-generation',
      lastModified: '2024-05-01T12:00:00.000Z',
  };

  it('returns canonical casing, the resolved commit, card fields and the files with their sizes and hashes, in one request', async () => {
    const metadata = expectOk(await lookUpHubModel('org/model-a', undefined, { ...options, accessToken: 'hf_test' }));
    assert.deepEqual(metadata, MODEL_A_METADATA);
    assert.equal(hub.requests.length, 1, 'the listing comes with the model info');
    const query = new URLSearchParams(hub.requests[0]!.path.split('?')[1]);
    assert.equal(query.get('blobs'), 'true');
    assert.ok(query.getAll('expand').includes('siblings'));
    assert.equal(hub.requests[0]!.authorization, 'Bearer hf_test');
  });

  it('lists the tree, every page of it at the resolved commit, when the model info has no file sizes (a mirror that ignores blobs)', async () => {
    hub.ignoresBlobs = true;
    const metadata = expectOk(await lookUpHubModel('org/model-a', undefined, { ...options, accessToken: 'hf_test' }));
    assert.deepEqual(metadata, MODEL_A_METADATA);
    const paths = hub.requests.map((r) => r.path);
    assert.match(paths[0]!, /^\/api\/models\/org\/model-a\/revision\/main\?.*expand=sha.*expand=cardData/);
    // The listing is taken at the resolved commit and follows the Link header (4 entries, pages of 2).
    assert.deepEqual(paths.slice(1).map((p) => p.split('?')[0]), [`/api/models/Org/Model-A/tree/${SHA_MAIN}`, `/api/models/Org/Model-A/tree/${SHA_MAIN}`]);
    assert.ok(paths.slice(1).every((p) => new URLSearchParams(p.split('?')[1]).get('recursive') === 'true'), 'the listing is recursive');
    assert.ok(hub.requests.every((r) => r.authorization === 'Bearer hf_test'), 'the token goes to the endpoint');
  });

  it('sends a token that does not start with hf_ (the library would refuse it) and none when absent', async () => {
    expectOk(await lookUpHubModel('org/gated', undefined, { ...options, accessToken: 'api_org_enterprise' }));
    assert.ok(hub.requests.every((r) => r.authorization === 'Bearer api_org_enterprise'));
    hub.requests.length = 0;
    expectOk(await lookUpHubModel('org/gated', undefined, options));
    assert.ok(hub.requests.every((r) => r.authorization === undefined));
  });

  it('reads base_model given as a list: deduplicated case-insensitively, only valid ids; licence lists joined', async () => {
    const metadata = expectOk(await lookUpHubModel('org/merge', undefined, options));
    assert.deepEqual(metadata.baseModels, ['a/b', 'c/d', 'gpt2']);
    assert.equal(metadata.licence, 'mit, apache-2.0');
    assert.deepEqual(metadata.files, []);
  });

  it('resolves refs/pr/N (URL-encoded) to its commit and lists that commit', async () => {
    const metadata = expectOk(await lookUpHubModel('Org/Model-A', 'refs/pr/1', options));
    assert.equal(metadata.revisionAsked, 'refs/pr/1');
    assert.equal(metadata.commit, SHA_PR);
    assert.deepEqual(metadata.files, [{ path: 'pr-only.json', sizeBytes: 3 }]);
    assert.match(hub.requests[0]!.path, /\/revision\/refs%2Fpr%2F1\?/);
    hub.requests.length = 0;
    hub.ignoresBlobs = true;
    assert.deepEqual(expectOk(await lookUpHubModel('Org/Model-A', 'refs/pr/1', options)).files, metadata.files);
    assert.equal(hub.requests[1]!.path.split('?')[0], `/api/models/Org/Model-A/tree/${SHA_PR}`);
  });

  it('follows a same-origin redirect of a renamed repo and reports the new id', async () => {
    hub.override = (_req, res, url) => {
      if (!url.pathname.startsWith('/api/models/gpt2/')) return false;
      res.writeHead(307, { location: url.pathname.replace('/api/models/gpt2/', '/api/models/openai-community/gpt2/') + url.search });
      res.end();
      return true;
    };
    const metadata = expectOk(await lookUpHubModel('gpt2', undefined, options));
    assert.equal(metadata.repoId, 'openai-community/gpt2');
    assert.deepEqual(metadata.files, [{ path: 'vocab.json', sizeBytes: 5 }]);
  });

  it('maps RepoNotFound (401 without a token, 404 with one) to not-found, naming repo and endpoint', async () => {
    const missing = expectFailure(await lookUpHubModel('org/missing', undefined, options), 'not-found');
    assert.ok(missing.includes('org/missing') && missing.includes(hub.url), missing);
    assert.match(missing, /or private: set HF_TOKEN \(HTTP 401\)/);
    assert.ok(!missing.includes('\n'), 'one line');
    const hidden = expectFailure(await lookUpHubModel('org/private', undefined, { ...options, accessToken: 'hf_secret_token' }), 'not-found');
    assert.match(hidden, /repo not found \(HTTP 404\)/);
    assert.ok(!hidden.includes('hf_secret_token'), 'the token is never in a detail');
    hub.override = (_req, res) => (hubError(res, 404, 'EntryNotFound'), true);
    expectFailure(await lookUpHubModel('org/model-a', undefined, options), 'not-found');
  });

  it('maps RevisionNotFound to revision-not-found and a refused token to unauthorized', async () => {
    assert.match(expectFailure(await lookUpHubModel('org/model-a', 'no-such-branch', options), 'revision-not-found'), /revision not found/);
    hub.refusedTokens.add('hf_revoked_token');
    const denied = expectFailure(await lookUpHubModel('org/model-a', undefined, { ...options, accessToken: 'hf_revoked_token' }), 'unauthorized');
    assert.match(denied, /the token was refused/);
    assert.ok(!denied.includes('hf_revoked_token'), 'the token is never in a detail');
  });

  it('reports a gated repo: metadata with gated when the files are listed, gated when the listing is refused', async () => {
    assert.equal(expectOk(await lookUpHubModel('org/gated', undefined, options)).gated, 'manual');
    expectFailure(await lookUpHubModel('org/gated-files', undefined, options), 'gated');
  });

  it('maps a 5xx, even with a body that is not JSON, to http-error', async () => {
    hub.override = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{not json');
      return true;
    };
    assert.match(expectFailure(await lookUpHubModel('org/model-a', undefined, options), 'http-error'), /HTTP 503/);
  });

  it('times out on a server that never answers', async () => {
    hub.override = () => true; // accept the request, never respond
    const started = Date.now();
    expectFailure(await lookUpHubModel('org/model-a', undefined, { ...options, timeoutMs: 200 }), 'timeout');
    assert.ok(Date.now() - started < 3_000);
  });

  it('times out on a server that sends the headers, then stalls in the body', async () => {
    hub.override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
      return true;
    };
    expectFailure(await lookUpHubModel('org/model-a', undefined, { ...options, timeoutMs: 200 }), 'timeout');
  });

  it('cuts off an endless body past the cap, without reading it all', async () => {
    let bytesSent = 0;
    let clientHungUp = false;
    hub.override = (req, res) => {
      // Chunked, no length announced: streams with backpressure until the client hangs up.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && bytesSent < 256 * 1024 * 1024) {
          bytesSent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      req.socket.once('close', () => (clientHungUp = true));
      pump();
      return true;
    };
    assert.match(expectFailure(await lookUpHubModel('org/model-a', undefined, options), 'invalid-response'), /exceeded 4194304 bytes/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(clientHungUp, 'the connection was dropped');
    assert.ok(bytesSent > MAX_MODEL_INFO_BYTES && bytesSent < 64 * 1024 * 1024, `${bytesSent} bytes sent`);
  });

  it('cuts off an over-long listing page whose Content-Length is announced', async () => {
    hub.ignoresBlobs = true;
    hub.override = (_req, res, url) => {
      if (!url.pathname.includes('/tree/')) return false;
      const page = Buffer.from(`["${'x'.repeat(17 * 1024 * 1024)}"]`);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(page.length) });
      res.end(page);
      return true;
    };
    assert.match(expectFailure(await lookUpHubModel('org/model-a', undefined, options), 'invalid-response'), /exceeded 16777216 bytes/);
  });

  it('reports malformed JSON and wrong shapes as invalid-response', async () => {
    hub.ignoresBlobs = true;
    const bodies: Record<string, string> = {
      revision: '{"id": "Org/Model-A", "sha": ',
      tree: '{"not": "an array"}',
    };
    for (const [route, body] of Object.entries(bodies)) {
      hub.override = (_req, res, url) => {
        if (!url.pathname.includes(`/${route}/`)) return false;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return true;
      };
      expectFailure(await lookUpHubModel('org/model-a', undefined, options), 'invalid-response');
    }
    for (const info of [null, [], 'text', { id: 'Org/Model-A', sha: 'main' }, { id: '../evil', sha: SHA_MAIN }, { id: 'Org/Model-A' }]) {
      hub.override = (_req, res, url) => (url.pathname.includes('/revision/') ? (sendJson(res, 200, info), true) : false);
      expectFailure(await lookUpHubModel('org/model-a', undefined, options), 'invalid-response');
    }
  });

  it('refuses a commit other than the one pinned in the request', async () => {
    hub.override = (_req, res, url) =>
      url.pathname.includes('/revision/') ? (sendJson(res, 200, { id: 'Org/Model-A', sha: SHA_MAIN }), true) : false;
    assert.match(expectFailure(await lookUpHubModel('org/model-a', SHA_PR, options), 'invalid-response'), /asked for commit/);
  });

  it('drops and counts hostile or duplicate file paths', async () => {
    const metadata = expectOk(await lookUpHubModel('org/hostile-files', undefined, options));
    assert.deepEqual(metadata.files, [{ path: 'ok.bin' }, { path: 'sub/ok.txt', sizeBytes: 3 }]);
    assert.equal(metadata.rejectedPaths, 9);
  });

  it(`keeps at most ${MAX_HUB_FILES} files and says the list is truncated`, async () => {
    hub.pageSize = 4_000;
    for (const ignoresBlobs of [false, true]) {
      hub.ignoresBlobs = ignoresBlobs;
      const metadata = expectOk(await lookUpHubModel('org/many-files', undefined, options));
      assert.equal(metadata.files.length, MAX_HUB_FILES);
      assert.equal(metadata.filesTruncated, true);
    }
  });

  it('reads the same files from the model info (blobs=true) as from the tree', async () => {
    for (const id of ['org/model-a', 'org/merge', 'org/gated', 'openai-community/gpt2', 'org/hostile-files']) {
      hub.ignoresBlobs = false;
      const fromInfo = expectOk(await lookUpHubModel(id, undefined, options));
      hub.ignoresBlobs = true;
      assert.deepEqual(fromInfo, expectOk(await lookUpHubModel(id, undefined, options)), id);
    }
  });

  it('drops and counts hostile or duplicate siblings; siblings without sizes mean the tree is listed', async () => {
    const siblings: unknown[] = [
      { rfilename: '../x', size: 1 },
      { rfilename: '/etc/passwd', size: 1 },
      { rfilename: 42, size: 1 },
      { rfilename: 'a//b', size: 1 },
      { rfilename: 'ok.bin', size: 7, blobId: 'not-an-oid' },
      { rfilename: 'ok.bin', size: 8, blobId: '5'.repeat(40) },
      { rfilename: 'w.safetensors', size: 134, blobId: '6'.repeat(40), lfs: { sha256: LFS_SHA, size: 9, pointerSize: 134 } },
      { rfilename: 'bad-lfs.bin', size: 3, lfs: { sha256: 'not-a-sha', size: 3, pointerSize: 1 } },
      { rfilename: 'git.txt', size: 2, blobId: '7'.repeat(40) },
    ];
    hub.override = (_req, res, url) => (url.pathname.includes('/revision/') ? (sendJson(res, 200, { id: 'Org/Model-A', sha: SHA_MAIN, siblings }), true) : false);
    const metadata = expectOk(await lookUpHubModel('org/model-a', undefined, options));
    assert.deepEqual(metadata.files, [
      { path: 'ok.bin', sizeBytes: 7 },
      { path: 'w.safetensors', sizeBytes: 9, lfsSha256: LFS_SHA },
      { path: 'bad-lfs.bin', sizeBytes: 3 },
      { path: 'git.txt', sizeBytes: 2, gitOid: '7'.repeat(40) },
    ]);
    assert.equal(metadata.rejectedPaths, 5);
    assert.equal(hub.requests.length, 1);

    siblings.push({ rfilename: 'no-size.bin' });
    hub.requests.length = 0;
    assert.deepEqual(expectOk(await lookUpHubModel('org/model-a', undefined, options)).files, MODEL_A_METADATA.files);
    assert.ok(hub.requests.some((r) => r.path.includes('/tree/')), 'the tree was listed');
  });

  it('asks for the model info alone, then lists the tree, when the answer with the files is too large', async () => {
    hub.override = (_req, res, url) => {
      if (url.searchParams.get('blobs') !== 'true') return false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(MAX_FILE_LISTING_BYTES + 1, 0x20));
      return true;
    };
    assert.deepEqual(expectOk(await lookUpHubModel('org/model-a', undefined, options)), MODEL_A_METADATA);
    assert.deepEqual(hub.requests.map((r) => r.path.split('?')[0]), ['/api/models/org/model-a/revision/main', '/api/models/org/model-a/revision/main', `/api/models/Org/Model-A/tree/${SHA_MAIN}`, `/api/models/Org/Model-A/tree/${SHA_MAIN}`]);
  });

  it('refuses pagination links and redirects that leave the endpoint, without requesting them', async () => {
    hub.ignoresBlobs = true;
    const elsewhere = await startMockHub(REPOS);
    try {
      hub.override = (_req, res, url) => {
        if (!url.pathname.includes('/tree/')) return false;
        sendJson(res, 200, [{ type: 'file', path: 'a.json', size: 1 }], { link: `<${elsewhere.url}/api/models/org/model-a/tree/x?cursor=1>; rel="next"` });
        return true;
      };
      assert.match(expectFailure(await lookUpHubModel('org/model-a', undefined, { ...options, accessToken: 'hf_test' }), 'invalid-response'), /outside the endpoint/);
      hub.override = (_req, res) => {
        res.writeHead(302, { location: `${elsewhere.url}/api/models/org/model-a/revision/main` });
        res.end();
        return true;
      };
      assert.match(expectFailure(await lookUpHubModel('org/model-a', undefined, { ...options, accessToken: 'hf_test' }), 'invalid-response'), /outside the endpoint/);
      assert.equal(elsewhere.requests.length, 0);
    } finally {
      await elsewhere.close();
    }
  });

  it('rejects invalid ids and revisions without any request', async () => {
    const ids = ['', '../etc', 'a/b/c', 'foo--bar', 'a..b', '-a/b', 'a/b.git', `a/${'x'.repeat(97)}`, 'a b', 'org/model\n', 'https://huggingface.co/a/b'];
    for (const id of ids) expectFailure(await lookUpHubModel(id, undefined, options), 'invalid-id');
    for (const revision of ['', 'main..x', '../main', '/main', 'main/', 'a b', 'main?x=1', 'main#x', 'refs//pr', '%2e%2e']) {
      expectFailure(await lookUpHubModel('org/model-a', revision, options), 'invalid-id');
    }
    assert.equal(hub.requests.length, 0);
  });

  it('reports a refused connection as offline', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const detail = expectFailure(await lookUpHubModel('org/model-a', undefined, { ...options, endpoint: `http://127.0.0.1:${port}` }), 'offline');
    assert.match(detail, /ECONNREFUSED/);
  });

  it('reports an invalid endpoint without a request', async () => {
    expectFailure(await lookUpHubModel('org/model-a', undefined, { ...options, endpoint: 'file:///etc' }), 'http-error');
    assert.equal(hub.requests.length, 0);
  });

  it('rejects with an AbortError when the caller cancels, before or during the lookup', async () => {
    const cancelled = new AbortController();
    cancelled.abort();
    await assert.rejects(lookUpHubModel('org/model-a', undefined, { ...options, signal: cancelled.signal }), { name: 'AbortError' });
    assert.equal(hub.requests.length, 0);

    hub.override = () => true; // never answers
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(lookUpHubModel('org/model-a', undefined, { ...options, signal: controller.signal }), { name: 'AbortError' });
    assert.equal(hub.requests.length, 1);
  });

  it('uses the fetch seam for every request', async () => {
    let calls = 0;
    const countingFetch: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    expectOk(await lookUpHubModel('org/gated', undefined, { ...options, fetch: countingFetch }));
    assert.equal(calls, hub.requests.length);
    assert.ok(calls >= 1);
  });
});
