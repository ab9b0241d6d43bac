// A cached copy of a Hub commit checked against what the (mock) Hub publishes for that commit.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { verifyCachedCopyWithHub } from '../../../server/src/core/hub/publishedIntegrity';
import { findCachedRepo } from '../../../server/src/core/model/hfCache';
import { writeHfCache } from '../../support/hfCacheWriter';
import { commitOf, repoFromFolder, startMockHub, type MockHub } from '../../support/mockHub';
import { zooPath } from '../../support/zoo';

const ID = 'zoo/tiny-gpt2-medical';

describe('a cached copy against what the Hub publishes', () => {
  let hub: MockHub;
  let tmp: string;
  before(async () => {
    hub = await startMockHub([repoFromFolder(ID, zooPath('tiny-gpt2-medical'))]);
    hub.pageSize = 1000;
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-published-'));
  });
  after(async () => {
    await hub.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('every file matches when the copy is intact', async () => {
    const root = path.join(tmp, 'intact');
    await writeHfCache(root, zooPath('tiny-gpt2-medical'), ID, commitOf(ID));
    const snapshot = (await findCachedRepo(ID, { cacheRoots: [root] }))!;
    const checks = await verifyCachedCopyWithHub(snapshot, { endpoint: hub.url });
    assert.ok(checks.length >= 8);
    assert.deepEqual([...new Set(checks.map((c) => c.status))], ['matches']);
    assert.ok(checks.some((c) => c.algorithm === 'sha256') && checks.some((c) => c.algorithm === 'git-sha1'));
  });

  it('a blob edited after download (its name unchanged) is reported modified, LFS and git files alike', async () => {
    for (const tamper of ['model.safetensors', 'config.json']) {
      const root = path.join(tmp, `tampered-${tamper}`);
      await writeHfCache(root, zooPath('tiny-gpt2-medical'), ID, commitOf(ID), tamper);
      const snapshot = (await findCachedRepo(ID, { cacheRoots: [root] }))!;
      const checks = await verifyCachedCopyWithHub(snapshot, { endpoint: hub.url });
      const modified = checks.filter((c) => c.status === 'modified');
      assert.deepEqual(modified.map((c) => c.relativePath), [tamper]);
      assert.notEqual(modified[0]!.local, modified[0]!.published);
    }
  });

  it('fails clearly when the Hub does not know the commit', async () => {
    const root = path.join(tmp, 'unknown');
    await writeHfCache(root, zooPath('tiny-gpt2-medical'), ID, 'f'.repeat(40));
    const snapshot = (await findCachedRepo(ID, { cacheRoots: [root] }))!;
    await assert.rejects(verifyCachedCopyWithHub(snapshot, { endpoint: hub.url }), /cannot check .*revision-not-found/);
  });
});
