// Remote reads under faults, through the mock Hub and its storage origin: each fault ends in a
// retry (and the exact local fingerprint) or a clear error, never a wrong fingerprint or more
// bytes than the budget; the token never leaves the Hub's origin.
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { serializeFingerprint } from '../../../server/src/core/fingerprint/encoding';
import { extractFingerprint } from '../../../server/src/core/fingerprint/extract';
import type { Fingerprint } from '../../../server/src/core/fingerprint/types';
import { HttpRangeSource } from '../../../server/src/core/io/httpRangeSource';
import { parseRetryAfter, RemoteReadError, RemoteSession } from '../../../server/src/core/io/remoteSession';
import { openModel } from '../../../server/src/core/model/openModel';
import { openRemoteModel, type RemoteOpenOptions } from '../../../server/src/core/hub/remoteModel';
import { commitOf, repoFromFolder, startMockHub, type MockHub } from '../../support/mockHub';
import { zooPath } from '../../support/zoo';

const ID = 'zoo/tiny-gpt2';
const GATED_ID = 'zoo/gated-gpt2';
const TOKEN = 'hf_mock_token';
const GGUF_ID = 'zoo/stories260K';

function weightsOf(fp: Fingerprint): string {
  const { tensors, vectors, tokenRows, matrices, files } = JSON.parse(serializeFingerprint(fp)) as Fingerprint;
  return JSON.stringify({ tensors, vectors, tokenRows, matrices, files });
}

describe('HttpRangeSource under faults (mock Hub)', function () {
  this.timeout(120_000);
  let hub: MockHub;
  let expected: string;

  before(async () => {
    const gated = repoFromFolder(GATED_ID, zooPath('tiny-gpt2'));
    gated.gatedToken = TOKEN;
    hub = await startMockHub([repoFromFolder(ID, zooPath('tiny-gpt2')), gated, repoFromFolder(GGUF_ID, zooPath('tinyllamas-stories260K-gguf'))]);
    hub.pageSize = 1000;
    const local = await openModel(zooPath('tiny-gpt2'));
    try {
      expected = weightsOf(await extractFingerprint(local, { hashFilesUpToBytes: Number.POSITIVE_INFINITY }));
    } finally {
      await local.close();
    }
  });
  after(() => hub.close());
  beforeEach(() => {
    hub.faults = {};
  });

  const options = (extra: RemoteOpenOptions = {}): RemoteOpenOptions => ({ endpoint: hub.url, cache: null, env: {}, retryBaseMs: 1, ...extra });

  async function remoteFingerprint(id: string, extra: RemoteOpenOptions = {}) {
    const model = await openRemoteModel(id, undefined, options(extra));
    try {
      const fp = await extractFingerprint(model);
      return { fp, stats: model.remote.stats };
    } finally {
      await model.close();
    }
  }

  it('retries a connection reset mid-body and gets the exact fingerprint', async () => {
    hub.faults = { resetMidBody: 2 };
    const { fp, stats } = await remoteFingerprint(ID);
    assert.equal(hub.faults.resetMidBody, 0, 'both resets fired');
    assert.ok(stats.retries >= 2, `retries ${stats.retries}`);
    assert.equal(weightsOf(fp), expected);
  });

  it('retries 500s', async () => {
    hub.faults = { serverErrors: 3 };
    const { fp, stats } = await remoteFingerprint(ID);
    assert.equal(hub.faults.serverErrors, 0);
    assert.ok(stats.retries >= 3);
    assert.equal(weightsOf(fp), expected);
  });

  it('waits out a burst of 429s, and refuses a Retry-After longer than it may wait', async () => {
    hub.faults = { tooManyRequests: 4, retryAfterSeconds: 0 };
    const { fp, stats } = await remoteFingerprint(ID);
    assert.equal(hub.faults.tooManyRequests, 0);
    assert.ok(stats.retries >= 4);
    assert.equal(weightsOf(fp), expected);

    hub.faults = { tooManyRequests: 1, retryAfterSeconds: 120 };
    await assert.rejects(remoteFingerprint(ID), (err: unknown) => err instanceof RemoteReadError && /retry after 120 s/.test(err.message));
    assert.equal(parseRetryAfter('7'), 7000);
    assert.ok((parseRetryAfter(new Date(Date.now() + 60_000).toUTCString(), Date.now()) ?? 0) > 55_000);
  });

  it('follows a redirect to a third origin, without the token anywhere but the Hub', async () => {
    hub.faults = { redirectToThirdOrigin: true };
    const storageBefore = hub.storage.requests.length;
    const thirdBefore = hub.third.requests.length;
    const { fp } = await remoteFingerprint(ID, { accessToken: TOKEN });
    assert.equal(weightsOf(fp), expected);
    const third = hub.third.requests.slice(thirdBefore);
    const storage = hub.storage.requests.slice(storageBefore);
    assert.ok(third.length > 0 && storage.length > 0);
    assert.ok([...third, ...storage].every((r) => r.authorization === undefined), 'no Authorization off the Hub');
    assert.ok(hub.requests.some((r) => r.authorization === `Bearer ${TOKEN}`), 'the Hub itself gets the token');
  });

  it('never sends the Authorization header to the storage origin (gated repo with a token)', async () => {
    const storageBefore = hub.storage.requests.length;
    const { fp } = await remoteFingerprint(GATED_ID, { accessToken: TOKEN });
    assert.equal(weightsOf(fp), expected);
    const storage = hub.storage.requests.slice(storageBefore);
    assert.ok(storage.length > 0);
    assert.ok(storage.every((r) => r.authorization === undefined));
  });

  it('a gated repo without a token: "gated: accept the licence on the Hub and set a token"', async () => {
    await assert.rejects(remoteFingerprint(GATED_ID), (err: unknown) => err instanceof RemoteReadError && err.reason === 'gated' && /gated: accept the licence on the Hub and set a token/.test(err.message));
  });

  it('a storage origin ignoring Range is cut off: a clear error, nothing downloaded', async () => {
    hub.faults = { ignoreRange: true };
    const budget = 20_000_000;
    let received = -1;
    await assert.rejects(
      remoteFingerprint(ID, { maxBytes: budget, onProgress: (s) => (received = s.bytesTransferred) }),
      (err: unknown) => err instanceof RemoteReadError && /ignores Range/.test(err.message),
    );
    assert.ok(received <= budget);
  });

  it('content that changes between requests (the ETag moves) is an error, never a fingerprint', async () => {
    // The GGUF is read in several requests (header window, then tensors): the second sees a new ETag.
    hub.faults = { changeEtagAfter: 1 };
    await assert.rejects(remoteFingerprint(GGUF_ID), (err: unknown) => err instanceof RemoteReadError && err.reason === 'changed' && /changed while being read/.test(err.message));
    // tiny-gpt2's safetensors is small enough to be read whole: its bytes must hash to the published sha256.
    hub.faults = { changeEtagAfter: 0 };
    await assert.rejects(remoteFingerprint(ID), (err: unknown) => err instanceof RemoteReadError && err.reason === 'changed' && /the Hub publishes/.test(err.message));
  });

  it('holds the byte budget', async () => {
    let received = 0;
    await assert.rejects(
      remoteFingerprint(ID, { maxBytes: 200_000, onProgress: (s) => (received = s.bytesTransferred) }),
      (err: unknown) => err instanceof RemoteReadError && err.reason === 'budget',
    );
    assert.ok(received <= 200_000, `received ${received}`);
  });

  it('coalesces reads: one multi-range request for many ranges, and checks every part', async () => {
    const session = new RemoteSession({ endpoint: hub.url, maxBytes: 10_000_000 });
    const commit = commitOf(GGUF_ID);
    const file = path.basename(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const tree = repoFromFolder(GGUF_ID, zooPath('tinyllamas-stories260K-gguf')).trees[commit]!.find((e) => e.path === file)!;
    const source = new HttpRangeSource(
      { name: `hf://${GGUF_ID}/${file}`, url: new URL(`${hub.url}/${GGUF_ID}/resolve/${commit}/${file}`), sizeBytes: tree.lfs!.size, commit, sha256: tree.lfs!.oid },
      session,
    );
    const local = await readFile(zooPath('tinyllamas-stories260K-gguf', file));
    await source.read(0, 8); // locates the file (the Hub's redirect) and keeps the head window
    const before = hub.storage.requests.length;
    // Outside the head and tail windows, far enough apart not to merge.
    const offsets = [300_000, 400_000, 500_000, 600_000, 700_000, 800_000];
    const parts = await Promise.all(offsets.map((o) => source.read(o, 100)));
    offsets.forEach((o, i) => assert.deepEqual(Buffer.from(parts[i]!), local.subarray(o, o + 100)));
    const sent = hub.storage.requests.slice(before);
    assert.equal(sent.length, 1, 'one request');
    assert.equal(sent[0]!.range!.split(',').length, offsets.length);
  });
});
