// `lineage db` through the built CLI on real files: add/list/remove/verify/export/import exit codes,
// and crash safety: a `db add` killed with SIGKILL mid-write leaves a registry that opens, verifies
// and holds no partial entry.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openSqliteRegistry } from '../../server/src/core/registry';
import { CLI_PATH, runCli } from '../support/cli';
import { zooPath } from '../support/zoo';

interface ListedEntry {
  id: string;
  kind: string;
  revision?: string;
}

function listIds(db: string): string[] {
  const r = runCli(['db', 'list', '--db', db, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as ListedEntry[]).map((e) => e.id);
}

/** Starts `lineage db add`, waits until it pauses before its rename (test hook), kills it with SIGKILL. */
function killDuringAdd(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'db', 'add', ...args], { env: { ...process.env, LINEAGE_TEST_PAUSE_BEFORE_RENAME: '120000' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('paused before rename')) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`db add was not killed (exit ${code}): ${stderr}`))));
  });
}

describe('lineage db', function () {
  this.timeout(240_000);
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-db-cli-'));
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('adds, lists, verifies, removes, exports and imports with stable exit codes', () => {
    const db = path.join(folder, 'reg.sqlite');
    const add = runCli(['db', 'add', zooPath('tiny-gpt2'), '--db', db, '--id', 'sshleifer/tiny-gpt2', '--revision', '5f91d94bd9cd7190a9f3216ff93cd1dd95f2c7be']);
    assert.equal(add.status, 0, add.stderr);
    assert.equal(runCli(['db', 'add', zooPath('tok-llama-spm'), zooPath('tinyllamas-stories260K-gguf'), '--db', db]).status, 0);
    assert.deepEqual(listIds(db), ['sshleifer/tiny-gpt2', 'tinyllamas-stories260K-gguf', 'tok-llama-spm']);
    const listed = JSON.parse(runCli(['db', 'list', '--db', db, '--json']).stdout) as ListedEntry[];
    assert.equal(listed[0]!.revision, '5f91d94bd9cd7190a9f3216ff93cd1dd95f2c7be');
    assert.equal(listed[2]!.kind, 'tokenizer');

    const verify = runCli(['db', 'verify', '--db', db]);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /ok \(3 entries/);
    assert.match(runCli(['db', 'stats', '--db', db]).stdout, /3 \(2 with weights, 1 tokenizer only\)/);

    const exported = path.join(folder, 'export.ndjson');
    assert.equal(runCli(['db', 'export', '--db', db, '-o', exported]).status, 0);
    const copy = path.join(folder, 'copy.sqlite');
    const imported = runCli(['db', 'import', exported, '--db', copy]);
    assert.equal(imported.status, 0, imported.stderr);
    assert.deepEqual(listIds(copy), listIds(db));

    assert.equal(runCli(['db', 'remove', 'tok-llama-spm', '--db', db]).status, 0);
    assert.equal(runCli(['db', 'remove', 'tok-llama-spm', '--db', db]).status, 1);
    assert.deepEqual(listIds(db), ['sshleifer/tiny-gpt2', 'tinyllamas-stories260K-gguf']);

    assert.equal(runCli(['db', 'frobnicate']).status, 2);
    assert.equal(runCli(['db', 'add', zooPath('tiny-gpt2'), zooPath('tok-gpt-2'), '--id', 'x/y', '--db', db]).status, 2, '--id with two models is a usage error');
    assert.equal(runCli(['db', 'add', path.join(folder, 'no-such-model'), '--db', db]).status, 3);
  });

  it('writes to LINEAGE_CACHE_DIR/registry.sqlite when no --db is given', () => {
    const cache = path.join(folder, 'cache');
    const r = runCli(['db', 'add', zooPath('tok-gpt-2')], { LINEAGE_CACHE_DIR: cache, LINEAGE_DB: '' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(cache, 'registry.sqlite')));
  });

  it('db verify and scan say what is wrong with a corrupt file (exit 3)', () => {
    const bad = path.join(folder, 'bad.sqlite');
    writeFileSync(bad, Buffer.alloc(4096, 7));
    const verify = runCli(['db', 'verify', '--db', bad]);
    assert.equal(verify.status, 3);
    assert.match(verify.stdout, /not an SQLite file/);
    const scan = runCli(['scan', zooPath('tiny-gpt2'), '--db', bad]);
    assert.equal(scan.status, 3);
    assert.match(scan.stderr, /bad\.sqlite: is not an SQLite file/);
    assert.ok(!scan.stderr.includes('internal error'));
  });

  it('a db add killed (SIGKILL) just before its commit leaves the previous registry, which opens and verifies', async () => {
    const db = path.join(folder, 'killed.sqlite');
    assert.equal(runCli(['db', 'add', zooPath('tiny-gpt2'), '--db', db]).status, 0);
    await killDuringAdd([zooPath('tinyllamas-stories260K-gguf'), '--db', db]);
    assert.ok(existsSync(`${db}-journal`), 'the kill left a hot rollback journal (pages of the new entry were already in the file)');
    const registry = await openSqliteRegistry(db);
    try {
      assert.deepEqual(registry.list().map((e) => e.id), ['tiny-gpt2'], 'no partial entry');
      assert.deepEqual(registry.verify().problems, []);
    } finally {
      registry.close();
    }
    // The dead writer's lock and temp file do not block the next writer, which cleans them up.
    const again = runCli(['db', 'add', zooPath('tinyllamas-stories260K-gguf'), '--db', db]);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(listIds(db), ['tiny-gpt2', 'tinyllamas-stories260K-gguf']);
    assert.deepEqual(readdirSync(folder).filter((n) => n.startsWith('killed.sqlite.')), []);
  });

  it('db add killed at random points never leaves a registry that fails to open or holds a partial entry', async () => {
    const db = path.join(folder, 'random-kill.sqlite');
    assert.equal(runCli(['db', 'add', zooPath('tok-gpt-2'), '--db', db]).status, 0);
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, [CLI_PATH, 'db', 'add', zooPath('tinyllamas-stories260K-gguf'), '--db', db, '--id', `round/${round}`], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 900)));
      child.kill('SIGKILL');
      await exited;
      const registry = await openSqliteRegistry(db);
      try {
        const ids = registry.list().map((e) => e.id);
        assert.ok(ids.includes('tok-gpt-2'));
        for (const id of ids) assert.ok(registry.get(id), `entry ${id} is complete`);
        assert.deepEqual(registry.verify().problems, []);
      } finally {
        registry.close();
      }
    }
  });
});
