// `lineage check` and `lineage lock` ask the Hub as the editor does (a mock Hub on 127.0.0.1), and
// never with --offline or HF_HUB_OFFLINE.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMockHub, type MockHub } from '../support/mockHub';
import { CLI_PATH, type CliRun } from '../support/cli';
import type { LineageLock } from '../../server/src/analysis/lockfile';

const PICKLE_COMMIT = 'b2'.repeat(20);

/** The CLI without blocking this process: the mock Hub answers from this event loop. */
function runCliAsync(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

describe('lineage check with the Hub', function () {
  this.timeout(120_000);
  let hub: MockHub;
  let root: string;
  let repo: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    hub = await startMockHub([{ id: 'acme/hub-pickle', refs: { main: PICKLE_COMMIT }, trees: { [PICKLE_COMMIT]: [{ type: 'file', path: 'config.json', size: 10 }, { type: 'file', path: 'pytorch_model.bin', size: 20 }] } }]);
    root = await mkdtemp(path.join(os.tmpdir(), 'lineage-check-hub-'));
    repo = path.join(root, 'repo');
    await mkdir(repo, { recursive: true });
    await writeFile(path.join(repo, 'app.py'), 'from transformers import AutoModel\nm = AutoModel.from_pretrained("acme/hub-pickle")\n');
    env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: path.join(root, 'empty-cache'), HF_HOME: path.join(root, 'hf-home'), LINEAGE_CACHE_DIR: path.join(root, 'lineage'), HOME: root, HF_HUB_OFFLINE: '' };
  });
  after(async () => {
    await hub.close();
    await rm(root, { recursive: true, force: true });
  });

  it('reports what the Hub says about a model on no disk, and locks the Hub commit', async () => {
    const run = await runCliAsync(['check', '--root', repo, '--fail-on', 'never'], env);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /acme\/hub-pickle ships pickle weights only on the Hub \(pytorch_model\.bin\).*LL005/);
    assert.match(run.stdout, /the Hub has it at commit b2b2b2b2b2b2/);
    assert.ok(hub.requests.length > 0);
    const lock = await runCliAsync(['lock', '--root', repo], env);
    assert.equal(lock.status, 0, lock.stderr);
    const written = JSON.parse(await readFile(path.join(repo, 'lineage.lock.json'), 'utf8')) as LineageLock;
    assert.deepEqual(written.models.map((m) => [m.key, m.commit]), [['hf:acme/hub-pickle', PICKLE_COMMIT]]);
  });

  it('asks nothing with --offline or HF_HUB_OFFLINE=1', async () => {
    hub.requests.length = 0;
    const offline = await runCliAsync(['check', '--root', repo, '--offline', '--fail-on', 'never'], env);
    assert.equal(offline.status, 0, offline.stderr);
    assert.doesNotMatch(offline.stdout, /the Hub has it/);
    const byEnv = await runCliAsync(['check', '--root', repo, '--fail-on', 'never'], { ...env, HF_HUB_OFFLINE: '1' });
    assert.equal(byEnv.status, 0, byEnv.stderr);
    assert.deepEqual(hub.requests, []);
  });
});
