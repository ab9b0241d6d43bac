// `lineage db publish` and `db pull` through the built CLI against the loopback mock Hub: publish
// opens a pull request (LFS upload to the CDN origin without the token), main is untouched, and the
// PR's commit pulls back with its provenance; `db build --from-list` reads the shipped list.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isValidRepoId } from '../../server/src/core/model/reference';
import { TOOL_VERSION } from '../../server/src/core/registry';
import { CLI_PATH, runCli } from '../support/cli';
import { startMockHubWithDatasets, type MockHubWithDatasets } from '../support/mockHubDatasets';
import { zooPath } from '../support/zoo';

const DATASET = 'acme/fingerprints';

/** runCli is synchronous; the mock Hub lives in this process, so the CLI runs in a child that we await. */
function runCliAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('lineage db publish / pull (mock Hub)', function () {
  this.timeout(240_000);
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-db-hub-'));
  let hub: MockHubWithDatasets;
  before(async () => {
    hub = await startMockHubWithDatasets([], [DATASET]);
  });
  after(async () => {
    await hub.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('publish opens a pull request with a contribution shard; pulling that PR merges its entries with provenance', async () => {
    const mainBefore = hub.datasets.get(DATASET)!.refs.main;
    const env = { HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_writer_token', LINEAGE_CONTRIBUTOR: 'ci-bot' };
    const noToken = await runCliAsync(['db', 'publish', zooPath('tiny-gpt2'), '--dataset', DATASET], { HF_ENDPOINT: hub.url, HF_TOKEN: '' });
    assert.equal(noToken.status, 2, 'publishing needs a token');
    const publish = await runCliAsync(['db', 'publish', zooPath('tiny-gpt2'), zooPath('tinyllamas-stories260K-gguf'), '--dataset', DATASET], env);
    assert.equal(publish.status, 0, publish.stderr);
    assert.match(publish.stderr, /opened a pull request on acme\/fingerprints: .*discussions\/1/);
    assert.equal(hub.pullRequests.length, 1);
    const pr = hub.pullRequests[0]!;
    assert.match(pr.added[0]!, /^shards\/contrib-ci-bot-[0-9a-f]{16}\.ndjson$/);
    assert.equal(hub.datasets.get(DATASET)!.refs.main, mainBefore, 'main is untouched: a contribution is a pull request');
    assert.ok(hub.cdnRequests.some((r) => r.method === 'PUT'), 'the shard went through LFS');
    assert.ok(hub.cdnRequests.every((r) => r.authorization === undefined), 'the token never reaches the upload origin');

    const db = path.join(folder, 'pulled.sqlite');
    const pull = await runCliAsync(['db', 'pull', DATASET, '--revision', 'refs/pr/1', '--db', db, '--json'], env);
    assert.equal(pull.status, 0, pull.stderr);
    const report = JSON.parse(pull.stdout) as { commit: string; added: number; rejected: unknown[] };
    assert.equal(report.commit, pr.commit);
    assert.equal(report.added, 2);
    const listed = JSON.parse(runCli(['db', 'list', '--db', db, '--json']).stdout) as Array<{ id: string; provenance?: { contributor?: string; tool?: string; pulledFrom?: string } }>;
    assert.deepEqual(listed.map((e) => e.id), ['tiny-gpt2', 'tinyllamas-stories260K-gguf']);
    for (const e of listed) {
      assert.equal(e.provenance?.contributor, 'ci-bot');
      assert.equal(e.provenance?.tool, TOOL_VERSION);
      assert.equal(e.provenance?.pulledFrom, `hf-dataset:${DATASET}@${pr.commit}`);
    }
  });

  it('the tool version in provenance is the package version, and data/base-models.txt lists valid Hub ids per family', () => {
    const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    assert.equal(TOOL_VERSION, `lineage-lens@${pkg.version}`);
    const lines = readFileSync(path.resolve(__dirname, '..', '..', 'data', 'base-models.txt'), 'utf8').split('\n');
    const ids = lines.map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    assert.ok(ids.length >= 30, `${ids.length} ids`);
    assert.deepEqual(ids.filter((id) => !isValidRepoId(id)), []);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  });
});
