import { strict as assert } from 'node:assert';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyCachedBlobs } from '../../../server/src/core/checks/cacheIntegrity';
import { gitBlobSha1File, sha256File } from '../../../server/src/core/io/fileHash';
import { findCachedRepo } from '../../../server/src/core/model/hfCache';
import { buildHfCache } from '../../fixtures/hfCacheBuilder';
import { zooPath } from '../../support/zoo';

describe('cache integrity', () => {
  let tmp: string;
  let cacheRoot: string;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-integrity-'));
    cacheRoot = path.join(tmp, 'hub');
    await buildHfCache(cacheRoot, [
      {
        repoId: 'org/tiny',
        files: {
          'config.json': zooPath('tiny-gpt2', 'config.json'),
          'model.safetensors': zooPath('tiny-gpt2', 'model.safetensors'),
          'tokenizer.json': zooPath('tiny-gpt2', 'tokenizer.json'),
        },
      },
    ]);
  });

  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('sha256File streams a zoo file to the hash zoo/README.md lists', async () => {
    const progress: number[] = [];
    const digest = await sha256File(zooPath('tiny-gpt2', 'model.safetensors'), (done, total) => {
      assert.equal(total, 413296);
      progress.push(done);
    });
    assert.match(digest, /^5b562022d3f53a1e[0-9a-f]{48}$/);
    assert.equal(progress[progress.length - 1], 413296);
    assert.ok(progress.every((p, i) => i === 0 || p > progress[i - 1]!));
  });

  it('hashes known contents exactly (empty file, git blob of "hello\\n")', async () => {
    const empty = path.join(tmp, 'empty');
    await writeFile(empty, '');
    assert.equal(await sha256File(empty), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const hello = path.join(tmp, 'hello');
    await writeFile(hello, 'hello\n');
    // `git hash-object` of "hello\n"
    assert.equal(await gitBlobSha1File(hello), 'ce013625030ba8dba906f756967f9e9ca394464a');
  });

  it('refuses to hash something that is not a regular file', async () => {
    await assert.rejects(sha256File(tmp), /not a regular file/);
  });

  it('verifies every LFS blob of an intact snapshot', async () => {
    const snapshot = (await findCachedRepo('org/tiny', { cacheRoots: [cacheRoot] }))!;
    const checks = await verifyCachedBlobs(snapshot, { onlyLfs: true });
    // config.json is under the builder's LFS threshold: a git blob, not checked with onlyLfs.
    assert.deepEqual(checks.map((c) => [c.relativePath, c.algorithm, c.status]), [
      ['model.safetensors', 'sha256', 'ok'],
      ['tokenizer.json', 'sha256', 'ok'],
    ]);
    assert.ok(checks.every((c) => c.ok && c.actualSha256 === c.blobName));
  });

  it('checks git blobs by their git sha1 when asked', async () => {
    const snapshot = (await findCachedRepo('org/tiny', { cacheRoots: [cacheRoot] }))!;
    const checks = await verifyCachedBlobs(snapshot, { onlyLfs: false });
    const config = checks.find((c) => c.relativePath === 'config.json')!;
    assert.equal(config.algorithm, 'git-sha1');
    assert.equal(config.ok, true);
    assert.equal(config.actualGitSha1, config.blobName);
  });

  it('detects a blob whose bytes no longer hash to its name', async () => {
    const snapshot = (await findCachedRepo('org/tiny', { cacheRoots: [cacheRoot] }))!;
    const weights = snapshot.files.find((f) => f.relativePath === 'model.safetensors')!;
    // Flip one byte deep in the tensor data, keeping the size: a silent corruption or tampering.
    const handle = await open(weights.blobPath, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 200_000);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, 200_000);
    await handle.close();

    const checks = await verifyCachedBlobs(snapshot);
    const check = checks.find((c) => c.relativePath === 'model.safetensors')!;
    assert.equal(check.status, 'mismatch');
    assert.equal(check.ok, false);
    assert.notEqual(check.actualSha256, check.blobName);
    assert.match(check.actualSha256!, /^[0-9a-f]{64}$/);
    assert.equal(checks.find((c) => c.relativePath === 'tokenizer.json')!.status, 'ok');
  });

  it('detects a corrupted git blob too', async () => {
    const snapshot = (await findCachedRepo('org/tiny', { cacheRoots: [cacheRoot] }))!;
    const config = snapshot.files.find((f) => f.relativePath === 'config.json')!;
    await writeFile(config.blobPath, '{"model_type": "llama"}');
    const checks = await verifyCachedBlobs(snapshot, { onlyLfs: false });
    assert.equal(checks.find((c) => c.relativePath === 'config.json')!.status, 'mismatch');
  });

  it('skips files above maxBytes and reports them as skipped, not as ok', async () => {
    const snapshot = (await findCachedRepo('org/tiny', { cacheRoots: [cacheRoot] }))!;
    const checks = await verifyCachedBlobs(snapshot, { maxBytes: 1_000_000 });
    const tokenizer = checks.find((c) => c.relativePath === 'tokenizer.json')!;
    assert.equal(tokenizer.status, 'skipped');
    assert.equal(tokenizer.ok, false);
    assert.equal(tokenizer.actualSha256, undefined);
    assert.equal(checks.find((c) => c.relativePath === 'model.safetensors')!.status, 'ok');
  });
});
