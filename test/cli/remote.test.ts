// The CLI with Hub ids that are not on disk, against the mock Hub: bytes and requests on stderr,
// a second run served by the read cache, --offline / HF_HUB_OFFLINE=1 sending nothing, `cache`.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_PATH, type CliRun } from '../support/cli';
import { writeHfCache } from '../support/hfCacheWriter';
import { commitOf, repoFromFolder, startMockHub, type MockHub } from '../support/mockHub';
import { zooPath } from '../support/zoo';

/** Asynchronous, so the in-process mock Hub keeps answering while the CLI runs. */
function runCliAsync(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

describe('lineage CLI with Hub models not on disk', function () {
  this.timeout(120_000);
  const ID = 'zoo/tiny-gpt2';
  const MEDICAL = 'zoo/tiny-gpt2-medical';
  /** A renamed re-upload: the same files under another id (so the same LFS blobs). */
  const COPY = 'someone/tiny-gpt2-copy';
  let hub: MockHub;
  let home: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    hub = await startMockHub([repoFromFolder(ID, zooPath('tiny-gpt2')), repoFromFolder(MEDICAL, zooPath('tiny-gpt2-medical')), repoFromFolder(COPY, zooPath('tiny-gpt2'))]);
    hub.pageSize = 1000;
    home = await mkdtemp(path.join(os.tmpdir(), 'lineage-cli-remote-'));
    env = { HF_ENDPOINT: hub.url, LINEAGE_CACHE_DIR: path.join(home, 'lineage'), HF_HOME: path.join(home, 'hf'), HF_HUB_CACHE: path.join(home, 'hf', 'hub'), HF_TOKEN: '', HF_HUB_OFFLINE: '' };
  });
  after(async () => {
    await hub.close();
    await rm(home, { recursive: true, force: true });
  });

  it('fingerprints a Hub id, then again from the read cache with no request to storage', async () => {
    const first = await runCliAsync(['fingerprint', ID], env);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`${ID}@${commitOf(ID)}: read from ${hub.url}: .* in \\d+ requests \\(\\d+ to storage\\)`));
    const fp = JSON.parse(first.stdout) as { model: { repoId: string; commit: string } };
    assert.equal(fp.model.commit, commitOf(ID));
    const storageBefore = hub.storage.requests.length;
    const second = await runCliAsync(['fingerprint', `${ID}@${commitOf(ID)}`], env);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(hub.storage.requests.length, storageBefore);
    assert.match(second.stderr, /\(0 to storage\), .* from the read cache/);
    assert.equal(second.stdout, first.stdout);

    const info = await runCliAsync(['cache', 'info', '--json'], env);
    const parsed = JSON.parse(info.stdout) as { files: number; bytes: number };
    assert.ok(parsed.files > 0 && parsed.bytes > 0);
    const clean = await runCliAsync(['cache', 'clean'], env);
    assert.equal(clean.status, 0);
    const after = JSON.parse((await runCliAsync(['cache', 'info', '--json'], env)).stdout) as { files: number };
    assert.equal(after.files, 0);
  });

  it('exits once its output is written: no connection to the Hub or its storage is left open', async function () {
    // Servers that keep idle connections open for ten minutes, as CDNs keep them for long: a
    // connection the CLI left busy (an answer never read to its end, such as the Hub's redirect)
    // kept the process alive until Node's server dropped it (30 s here), and this test times out.
    // The run itself takes about a second.
    this.timeout(20_000);
    const patientHub = await startMockHub([repoFromFolder(ID, zooPath('tiny-gpt2'))], { idleConnectionMs: 600_000 });
    patientHub.pageSize = 1000;
    try {
      const run = await runCliAsync(['fingerprint', ID], { ...env, HF_ENDPOINT: patientHub.url, LINEAGE_CACHE_DIR: path.join(home, 'patient') });
      assert.equal(run.status, 0, run.stderr);
      assert.ok(patientHub.storage.requests.length > 0, 'the weights were read from storage');
    } finally {
      await patientHub.close();
    }
  });

  it('compares two Hub models and inspects one (with the cost in --json)', async () => {
    const compare = await runCliAsync(['compare', ID, MEDICAL, '--json'], env);
    assert.equal(compare.status, 0, compare.stderr);
    assert.equal((JSON.parse(compare.stdout) as { verdict: string }).verdict, 'derived');
    assert.equal(compare.stderr.match(/read from/g)?.length, 2);
    const inspect = await runCliAsync(['inspect', ID, '--json'], env);
    assert.equal(inspect.status, 0, inspect.stderr);
    const summary = JSON.parse(inspect.stdout) as { remote: { requests: number; bytesTransferred: number } };
    assert.ok(summary.remote.requests > 0);
  });

  it('compares a renamed copy with its original reading the shared blobs once: identical', async () => {
    const clean = await runCliAsync(['cache', 'clean'], env);
    assert.equal(clean.status, 0, clean.stderr);
    const storageBefore = hub.storage.requests.length;
    const compare = await runCliAsync(['compare', ID, COPY, '--json'], env);
    assert.equal(compare.status, 0, compare.stderr);
    assert.equal((JSON.parse(compare.stdout) as { verdict: string }).verdict, 'identical');
    const [first, second] = compare.stderr.split('\n').filter((l) => l.includes('read from'));
    assert.match(first!, new RegExp(`^${ID}@.*\\((\\d+) to storage\\)`));
    assert.ok(!/\(0 to storage\)/.test(first!), first);
    // The copy's weights come from what the original's read left in memory: nothing to storage.
    assert.match(second!, new RegExp(`^${COPY}@.*\\(0 to storage\\), .* from the read cache`));
    const storageForFirst = Number(/\((\d+) to storage\)/.exec(first!)![1]);
    assert.equal(hub.storage.requests.length - storageBefore, storageForFirst);
  });

  it('--offline and HF_HUB_OFFLINE=1 forbid the network with a clear message', async () => {
    const before = hub.requests.length + hub.storage.requests.length;
    const offline = await runCliAsync(['fingerprint', ID, '--offline'], env);
    assert.equal(offline.status, 3);
    assert.match(offline.stderr, /not in the local Hugging Face cache.*reading it from the Hub is off \(--offline or HF_HUB_OFFLINE=1\)/);
    const byEnv = await runCliAsync(['scan', ID], { ...env, HF_HUB_OFFLINE: '1' });
    assert.equal(byEnv.status, 3);
    assert.match(byEnv.stderr, /HF_HUB_OFFLINE=1/);
    assert.equal(hub.requests.length + hub.storage.requests.length, before, 'the mock saw no request');
  });

  it('inspect --verify-hub reports a cached file modified after download (exit 3)', async () => {
    const hubCache = path.join(home, 'verify-cache');
    await writeHfCache(hubCache, zooPath('tiny-gpt2-medical'), MEDICAL, commitOf(MEDICAL), 'model.safetensors');
    const run = await runCliAsync(['inspect', MEDICAL, '--verify-hub'], { ...env, HF_HUB_CACHE: hubCache });
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stdout, /model\.safetensors: modified after download: its sha256 is [0-9a-f]{64}, the Hub publishes [0-9a-f]{64} for zoo\/tiny-gpt2-medical@/);
    const offline = await runCliAsync(['inspect', MEDICAL, '--verify-hub', '--offline'], { ...env, HF_HUB_CACHE: hubCache });
    assert.equal(offline.status, 2);
    assert.match(offline.stderr, /network is off/);
  });
});
