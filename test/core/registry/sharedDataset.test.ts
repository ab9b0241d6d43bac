// The shared fingerprint dataset against the loopback mock Hub: pull pins a commit, verifies every
// shard's sha256 (a tampered shard is refused and nothing is merged), checks entries' provenance
// against the Hub (a poisoned entry is rejected), keeps sources, and merges idempotently.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Fingerprint } from '../../../server/src/core/fingerprint/types';
import { HubDatasetError } from '../../../server/src/core/hub/hubDataset';
import { asAsyncRegistry, formatEntryLine, openSqliteRegistry, type RegistryEntry } from '../../../server/src/core/registry';
import { pullSharedDataset } from '../../../server/src/core/registry/sharedDataset';
import { syntheticEntry, syntheticRegistryState } from '../../fixtures/syntheticRegistry';
import type { MockRepo } from '../../support/mockHub';
import { startMockHubWithDatasets, type MockHubWithDatasets } from '../../support/mockHubDatasets';

const DATASET = 'lineage-lens/fingerprints';
const COMMIT = 'a'.repeat(40);
const REAL_SHA = createHash('sha256').update('the real weights').digest('hex');
const OTHER_SHA = createHash('sha256').update('some other weights').digest('hex');

/** An entry claiming to be `repo` at COMMIT, with weight file hash `sha` in its fingerprint and provenance. */
function claimedEntry(base: RegistryEntry, repo: string, sha: string): RegistryEntry {
  const fingerprint: Fingerprint = {
    ...base.fingerprint,
    model: { ...base.fingerprint.model, name: repo, repoId: repo, commit: COMMIT },
    files: [{ relativePath: 'model.safetensors', role: 'weights', sizeBytes: 1000, sha256: sha }],
  };
  return {
    meta: {
      id: repo,
      kind: 'weights',
      declaredParents: [],
      family: 'llama',
      source: `hf:${repo}@${COMMIT}`,
      provenance: { tool: 'lineage-lens@0.1.0', extractorVersion: fingerprint.extractorVersion, repo, commit: COMMIT, lfsSha256: { 'model.safetensors': sha }, contributor: 'someone' },
    },
    fingerprint,
  };
}

function modelRepo(id: string, sha: string): MockRepo {
  return {
    id,
    refs: { main: COMMIT },
    trees: { [COMMIT]: [{ type: 'file', path: 'model.safetensors', size: 134, oid: 'b'.repeat(40), lfs: { oid: sha, size: 1000, pointerSize: 134 } }, { type: 'file', path: 'config.json', size: 10, oid: 'c'.repeat(40) }] },
  };
}

describe('registry: shared dataset on the Hub (pull)', function () {
  this.timeout(120_000);
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-shared-'));
  let hub: MockHubWithDatasets;
  const state = syntheticRegistryState('shared-dataset');
  const honest = claimedEntry(syntheticEntry(state, 0), 'org/real-model', REAL_SHA);
  const poisoned = claimedEntry(syntheticEntry(state, 1), 'org/popular-base', OTHER_SHA);
  const unverifiable = syntheticEntry(state, 2, 'local/');
  unverifiable.meta.source = 'local:my-finetune';

  before(async () => {
    hub = await startMockHubWithDatasets([modelRepo('org/real-model', REAL_SHA), modelRepo('org/popular-base', REAL_SHA)], [DATASET]);
    hub.pageSize = 1;
  });
  after(async () => {
    await hub.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const open = async (name: string) => asAsyncRegistry(await openSqliteRegistry(path.join(folder, name), { writable: true }));

  it('merges verified shards pinned to a commit, rejects an entry whose hashes contradict the Hub, and is idempotent', async () => {
    const commit = hub.commitToMain(DATASET, {
      'README.md': '# fingerprints\n',
      'shards/0001.ndjson': [honest, unverifiable].map((e) => formatEntryLine(e) + '\n').join(''),
      'shards/0002.ndjson': formatEntryLine(poisoned) + '\n',
    });
    const registry = await open('pulled.sqlite');
    try {
      const report = await pullSharedDataset(registry, DATASET, { endpoint: hub.url });
      assert.equal(report.commit, commit);
      assert.equal(report.shards, 2);
      assert.deepEqual([report.added, report.verified, report.unverifiable], [2, 1, 1]);
      assert.equal(report.rejected.length, 1);
      assert.equal(report.rejected[0]!.id, 'org/popular-base');
      assert.match(report.rejected[0]!.reason, /differs from the Hub's/);
      assert.equal(await registry.has('org/popular-base'), false, 'the poisoned entry is not in the registry');
      const pulled = (await registry.get('org/real-model'))!;
      assert.equal(pulled.meta.provenance?.pulledFrom, `hf-dataset:${DATASET}@${commit}`);
      assert.equal(pulled.meta.provenance?.contributor, 'someone');
      assert.equal(pulled.meta.source, `hf:org/real-model@${COMMIT}`, 'entries keep their source');
      assert.equal((await registry.get('local/user2/finetune-of-0'))?.meta.source, 'local:my-finetune');

      const again = await pullSharedDataset(registry, DATASET, { endpoint: hub.url, revision: commit });
      assert.deepEqual([again.added, again.replaced, again.unchanged], [0, 0, 2], 'a second pull of the same commit changes nothing');
      const strict = await pullSharedDataset(registry, DATASET, { endpoint: hub.url, strict: true });
      assert.equal(strict.rejected.length, 2, '--strict also rejects what cannot be checked');
      assert.ok(hub.cdnRequests.every((r) => r.authorization === undefined), 'the CDN never sees a token');
    } finally {
      await registry.close();
    }
  });

  it('refuses a tampered shard (sha256 differs from the Hub listing) and merges nothing', async () => {
    const good = formatEntryLine(syntheticEntry(state, 3, 'extra/')) + '\n';
    hub.commitToMain(DATASET, { 'shards/0003.ndjson': good });
    const oid = createHash('sha256').update(good).digest('hex');
    // The mirror serves different bytes of the same length under the listed LFS oid.
    const tampered = Buffer.from(good.replace('extra/', 'extrb/'));
    assert.equal(tampered.length, Buffer.byteLength(good));
    hub.blobs.set(oid, tampered);
    const registry = await open('tampered.sqlite');
    try {
      await assert.rejects(pullSharedDataset(registry, DATASET, { endpoint: hub.url, accessToken: 'hf_secret' }), (err: unknown) => err instanceof HubDatasetError && /shards\/0003\.ndjson: sha256 does not match/.test(err.message));
      assert.equal(await registry.entryCount(), 0, 'nothing merged from a pull with a refused shard');
      assert.ok(hub.requests.some((r) => r.authorization === 'Bearer hf_secret'), 'the token goes to the Hub');
      assert.ok(hub.cdnRequests.every((r) => r.authorization === undefined), 'and never to the CDN');
    } finally {
      await registry.close();
    }
  });
});
