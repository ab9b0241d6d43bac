// Remote reading end to end through the mock Hub: for every zoo model, the fingerprint read by
// range requests equals the local fingerprint of the same files (identity fields aside).
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { serializeFingerprint } from '../../../server/src/core/fingerprint/encoding';
import { extractFingerprint } from '../../../server/src/core/fingerprint/extract';
import type { Fingerprint } from '../../../server/src/core/fingerprint/types';
import { ReadCache } from '../../../server/src/core/io/readCache';
import { openModel } from '../../../server/src/core/model/openModel';
import { openModelAnywhere, openRemoteModel } from '../../../server/src/core/hub/remoteModel';
import { repoFromFolder, startMockHub, type MockHub } from '../../support/mockHub';
import { ZOO_DIR } from '../../support/zoo';

/** Model identity differs by construction (a folder name vs a repo id); claim files are a path vs an hf:// name. */
function comparable(fp: Fingerprint): string {
  const copy: Fingerprint = JSON.parse(serializeFingerprint(fp)) as Fingerprint;
  copy.model = { ...copy.model, name: 'x' };
  delete copy.model.repoId;
  delete copy.model.commit;
  copy.declared = { ...copy.declared, claims: copy.declared.claims.map((c) => ({ ...c, file: path.basename(c.file) })) };
  return JSON.stringify(copy);
}

async function zooModels(): Promise<string[]> {
  const top = (await readdir(ZOO_DIR, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name !== 'generated').map((e) => e.name);
  return [...top, 'generated/tiny-gpt2-medical-torchzip'].sort();
}

describe('remote models through the mock Hub', function () {
  this.timeout(240_000);
  let hub: MockHub;
  let cacheDir: string;
  let models: string[];
  const idOf = (name: string) => `zoo/${name.replace(/\//g, '-')}`;

  before(async () => {
    models = await zooModels();
    hub = await startMockHub([...models.map((m) => repoFromFolder(idOf(m), path.join(ZOO_DIR, m))), repoFromFolder('zoo/hostile', path.join(ZOO_DIR, 'generated', 'hostile'))]);
    hub.pageSize = 1000;
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'lineage-remote-test-'));
  });
  after(async () => {
    await hub.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('fingerprints every zoo model remotely exactly as locally', async () => {
    const checked: string[] = [];
    for (const name of models) {
      const local = await openModel(path.join(ZOO_DIR, name));
      let localFp: Fingerprint;
      try {
        localFp = await extractFingerprint(local, { hashFilesUpToBytes: Number.POSITIVE_INFINITY });
      } finally {
        await local.close();
      }
      const remote = await openRemoteModel(idOf(name), undefined, { endpoint: hub.url, cache: null, env: {} });
      let remoteFp: Fingerprint;
      try {
        remoteFp = await extractFingerprint(remote);
      } finally {
        await remote.close();
      }
      assert.equal(remoteFp.model.commit ?? remote.remote.commit, remote.remote.commit);
      const a = JSON.parse(comparable(remoteFp)) as Record<string, unknown>;
      const b = JSON.parse(comparable(localFp)) as Record<string, unknown>;
      const differing = Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
      assert.deepEqual(differing, [], `${name}: remote fingerprint differs in ${differing.join(', ')}: ${differing.map((k) => `${JSON.stringify(a[k]).slice(0, 300)} vs ${JSON.stringify(b[k]).slice(0, 300)}`).join('; ')}`);
      assert.equal(comparable(remoteFp), comparable(localFp), `${name}: remote fingerprint differs`);
      checked.push(`${name} (${remote.format})`);
    }
    assert.ok(checked.length >= 25, checked.join(', '));
  });

  it('a second fingerprint through the read cache sends nothing to storage', async () => {
    const id = idOf('tiny-gpt2');
    const cache = () => new ReadCache(cacheDir);
    const first = await openRemoteModel(id, undefined, { endpoint: hub.url, cache: cache(), env: {} });
    const fp1 = serializeFingerprint(await extractFingerprint(first));
    await first.close();
    assert.ok(first.remote.stats.storageRequests > 0);
    const commit = first.remote.commit;
    const storageBefore = hub.storage.requests.length;
    const hubBefore = hub.requests.length;
    const second = await openRemoteModel(id, commit, { endpoint: hub.url, cache: cache(), env: {} });
    const fp2 = serializeFingerprint(await extractFingerprint(second));
    await second.close();
    assert.equal(hub.storage.requests.length, storageBefore, 'no request reaches storage');
    assert.equal(hub.requests.length, hubBefore, 'a pinned commit needs no Hub request either');
    assert.equal(second.remote.stats.bytesTransferred, 0);
    assert.ok(second.remote.stats.bytesFromCache > 0);
    assert.equal(comparable(JSON.parse(fp2) as Fingerprint), comparable(JSON.parse(fp1) as Fingerprint));
  });

  it('openModelAnywhere goes remote only for a Hub id not on disk, and never when offline', async () => {
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cacheDir, LINEAGE_CACHE_DIR: cacheDir };
    const before = hub.requests.length;
    await assert.rejects(
      openModelAnywhere(idOf('tiny-gpt2'), { env: { ...env, HF_HUB_OFFLINE: '1' }, cacheRoots: [cacheDir] }),
      /HF_HUB_OFFLINE/,
    );
    assert.equal(hub.requests.length, before, 'offline sends nothing');
    const model = await openModelAnywhere(idOf('tiny-gpt2'), { env, cacheRoots: [cacheDir] });
    await model.close();
    assert.equal(model.location.kind, 'hub-remote');
    assert.ok(model.remote);
  });

  it('hostile files: the same clear error or finding remotely as locally; legacy pickles refused with the reason', async () => {
    const folder = path.join(ZOO_DIR, 'generated', 'hostile');
    for (const name of (await readdir(folder)).sort()) {
      const localOutcome = await openModel(path.join(folder, name)).then(
        async (m) => {
          await m.close();
          return { ok: true as const, dangerous: m.findings.some((f) => f.code === 'pickle-dangerous-global') };
        },
        (err: unknown) => ({ ok: false as const, message: err instanceof Error ? err.message : String(err) }),
      );
      const remoteOutcome = await openRemoteModel('zoo/hostile', undefined, { endpoint: hub.url, cache: null, env: {}, file: name }).then(
        async (m) => {
          await m.close();
          return { ok: true as const, dangerous: m.findings.some((f) => f.code === 'pickle-dangerous-global') };
        },
        (err: unknown) => ({ ok: false as const, message: err instanceof Error ? err.message : String(err) }),
      );
      if (name.endsWith('.pkl')) {
        assert.equal(remoteOutcome.ok, false, name);
        assert.match((remoteOutcome as { message: string }).message, /legacy \(non-zip\) PyTorch pickle is not read remotely/);
        continue;
      }
      assert.equal(remoteOutcome.ok, localOutcome.ok, `${name}: ${JSON.stringify(remoteOutcome)} vs ${JSON.stringify(localOutcome)}`);
      if (!localOutcome.ok) {
        // The same fault, named in the remote file: everything after the file name matches.
        const fault = (m: string) => m.slice(m.indexOf(name) + name.length);
        assert.equal(fault((remoteOutcome as { message: string }).message), fault(localOutcome.message), name);
      } else {
        assert.equal((remoteOutcome as { dangerous: boolean }).dangerous, localOutcome.dangerous, name);
        if (name === 'evil_torchzip.bin') assert.ok(localOutcome.dangerous, 'the zip pickle calling os.system is reported');
      }
    }
  });
});
