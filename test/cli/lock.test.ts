// `lineage lock` and `lineage check --locked` on the generated 50-reference repository: the lock's
// contents, then each kind of drift in its own fresh repository (moved commit, changed blob, missing entry, new reference).
import * as assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { buildHfCache } from '../fixtures/hfCacheBuilder';
import { buildReferenceRepo, medicalRepoSpec, REPO_COMMITS, repoEnv, UNCACHED_PIN, type ReferenceRepo } from '../fixtures/referenceRepo';
import { runCli } from '../support/cli';
import type { LineageLock } from '../../server/src/analysis/lockfile';

interface JsonReport {
  files: Array<{ path: string; findings: Array<{ code: string; line: number; message: string }> }>;
}

describe('lineage lock and check --locked', function () {
  this.timeout(240_000);
  const fixtures: ReferenceRepo[] = [];
  const cli = (fixture: ReferenceRepo, args: string[]) => runCli([...args, '--root', fixture.repo], repoEnv(fixture));
  const lockFile = (fixture: ReferenceRepo) => path.join(fixture.repo, 'lineage.lock.json');

  /** A fresh repository with its lock written; `check --locked` passes on it. */
  async function lockedRepo(): Promise<ReferenceRepo> {
    const fixture = await buildReferenceRepo();
    fixtures.push(fixture);
    const lock = cli(fixture, ['lock']);
    assert.equal(lock.status, 0, lock.stderr);
    const clean = cli(fixture, ['check', '--locked', '--fail-on', 'never', '--format', 'json']);
    assert.equal(clean.status, 0, `a fresh lock matches: ${clean.stdout.slice(0, 2000)} ${clean.stderr}`);
    return fixture;
  }

  function lockDrift(fixture: ReferenceRepo): Array<{ path: string; line: number; message: string }> {
    const run = cli(fixture, ['check', '--locked', '--fail-on', 'never', '--format', 'json']);
    assert.equal(run.status, 1, `--locked fails on drift whatever --fail-on says: ${run.stderr}`);
    const report = JSON.parse(run.stdout) as JsonReport;
    return report.files.flatMap((f) => f.findings.filter((x) => x.code === 'LL011').map((x) => ({ path: f.path, line: x.line, message: x.message })));
  }

  after(async () => {
    for (const fixture of fixtures) await rm(fixture.root, { recursive: true, force: true });
  });

  it('records per model the commit, every weight file sha256 (the LFS oid), the fingerprint digest and the declared-base verdict', async () => {
    const fixture = await lockedRepo();
    const lock = JSON.parse(await readFile(lockFile(fixture), 'utf8')) as LineageLock;
    assert.equal(lock.lockfileVersion, 1);
    const medical = lock.models.find((m) => m.key === 'hf:acme/tiny-gpt2-medical' && m.revision === undefined)!;
    assert.equal(medical.commit, REPO_COMMITS.medical);
    const blob = fixture.cache.repos.find((r) => r.repoId === 'acme/tiny-gpt2-medical')!.blobs['model.safetensors']!;
    assert.deepEqual(medical.files, [{ path: 'model.safetensors', sha256: blob.sha256 }]);
    assert.equal(blob.blobName, blob.sha256, 'the cache names LFS blobs by their sha256: the Hub\'s oid');
    assert.match(medical.fingerprint!, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(medical.declaredBases.map((d) => [d.baseModel, d.status]), [['sshleifer/tiny-gpt2', 'confirmed']]);
    assert.ok(medical.declaredBases[0]!.verdict, 'the verdict against the declared base');
    const pinned = lock.models.find((m) => m.key === 'hf:sshleifer/tiny-gpt2' && m.revision === REPO_COMMITS.base)!;
    assert.equal(pinned.commit, REPO_COMMITS.base);
    const uncached = lock.models.find((m) => m.key === 'hf:nobody/pinned-a')!;
    assert.equal(uncached.commit, UNCACHED_PIN);
    assert.deepEqual(uncached.files, []);
    // Sorted and stable: a second lock of the same repository is byte-identical.
    const first = await readFile(lockFile(fixture), 'utf8');
    assert.equal(cli(fixture, ['lock']).status, 0);
    assert.equal(await readFile(lockFile(fixture), 'utf8'), first);
  });

  it('catches a moved commit: the cached branch now points elsewhere', async () => {
    const fixture = await lockedRepo();
    await buildHfCache(fixture.cacheRoot, [medicalRepoSpec(REPO_COMMITS.medicalMoved)]);
    const drift = lockDrift(fixture);
    const unpinned = drift.find((d) => d.path === 'warnings/unpinned.py')!;
    assert.match(unpinned.message, /acme\/tiny-gpt2-medical: the commit moved from 222222222222 \(locked\) to 777777777777/);
    // In one file: the unpinned reference moved, the one pinned to the locked commit still matches.
    assert.deepEqual(drift.filter((d) => d.path === 'src/train_0.py').map((d) => d.line), [5]);
  });

  it('catches a changed blob: the bytes in the cache no longer match the locked hash', async () => {
    const fixture = await lockedRepo();
    const blob = fixture.cache.repos.find((r) => r.repoId === 'acme/tiny-gpt2-medical')!.blobs['model.safetensors']!;
    const bytes = await readFile(blob.blobPath);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
    await writeFile(blob.blobPath, bytes);
    const drift = lockDrift(fixture);
    const changed = drift.find((d) => d.path === 'configs/sft_0.yaml')!;
    assert.match(changed.message, new RegExp(`model\\.safetensors changed \\(locked sha256 ${blob.sha256.slice(0, 12)}…, now [0-9a-f]{12}…\\)`));
    assert.ok(!drift.some((d) => d.path === 'scripts/serve.sh'), 'the untouched base model still matches');
  });

  it('catches a missing entry: a referenced model removed from the lock', async () => {
    const fixture = await lockedRepo();
    const lock = JSON.parse(await readFile(lockFile(fixture), 'utf8')) as LineageLock;
    lock.models = lock.models.filter((m) => m.key !== 'hf:nobody/pinned-a');
    await writeFile(lockFile(fixture), JSON.stringify(lock, null, 2));
    const drift = lockDrift(fixture);
    assert.deepEqual(drift.map((d) => `${d.path}:${d.line}`), ['notes/pinned_only.py:2']);
    assert.equal(drift[0]!.message, 'nobody/pinned-a: not in lineage.lock.json. Review the change, then run "lineage lock" to accept it.');
  });

  it('catches a new reference that was never locked', async () => {
    const fixture = await lockedRepo();
    await writeFile(path.join(fixture.repo, 'src', 'new_model.py'), `from transformers import AutoModel\nm = AutoModel.from_pretrained("nobody/brand-new", revision="${UNCACHED_PIN}")\n`);
    const drift = lockDrift(fixture);
    assert.deepEqual(drift.map((d) => `${d.path}:${d.line}`), ['src/new_model.py:2']);
    assert.match(drift[0]!.message, /^nobody\/brand-new: not in lineage\.lock\.json/);
  });

  it('fails --locked without a lock, and reports nothing about locks when there is none', async () => {
    const fixture = await buildReferenceRepo();
    fixtures.push(fixture);
    const run = cli(fixture, ['check', '--locked', '--fail-on', 'never']);
    assert.equal(run.status, 3);
    assert.match(run.stderr, /lineage\.lock\.json does not exist: run "lineage lock" first/);
    const plain = cli(fixture, ['check', '--fail-on', 'never', '--format', 'json']);
    assert.doesNotMatch(plain.stdout, /LL011/);
  });
});
