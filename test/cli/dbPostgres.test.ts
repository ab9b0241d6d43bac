// `lineage db` against PostgreSQL through the built CLI: `db migrate`, 8 concurrent `db add`
// processes of 500 entries each (some ids written by all of them) lose and duplicate nothing, a
// writer killed with SIGKILL leaves only whole entries, and export/import/stats/vacuum/scan work.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { serializeFingerprint } from '../../server/src/core/fingerprint/encoding';
import { openPgRegistry } from '../../server/src/core/registry';
import { syntheticEntry, syntheticRegistryState } from '../fixtures/syntheticRegistry';
import { CLI_PATH, runCli } from '../support/cli';
import { createScratchDatabase, postgresTestUrl } from '../support/postgres';

const WRITERS = 8;
const PER_WRITER = 500;
/** Ids every writer adds too: concurrent upserts of one id must leave exactly one row. */
const SHARED = 50;

function runCliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (status) => resolve({ status, stderr }));
  });
}

/** Writes fingerprint JSON files for one writer: its own ids plus the shared ones (same fingerprints for every writer). */
function writeFingerprints(folder: string, writer: number): string[] {
  const dir = path.join(folder, `writer-${writer}`);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const own = syntheticRegistryState(`pg-cli-writer-${writer}`);
  for (let i = 0; i < PER_WRITER - SHARED; i++) {
    const entry = syntheticEntry(own, i, `w${writer}/`);
    const file = path.join(dir, `own-${i}.json`);
    writeFileSync(file, serializeFingerprint(entry.fingerprint));
    files.push(file);
  }
  const shared = syntheticRegistryState('pg-cli-shared');
  for (let i = 0; i < SHARED; i++) {
    const entry = syntheticEntry(shared, i, 'shared/');
    const file = path.join(dir, `shared-${i}.json`);
    writeFileSync(file, serializeFingerprint(entry.fingerprint));
    files.push(file);
  }
  return files;
}

const clusterUrl = postgresTestUrl('lineage db on PostgreSQL');

(clusterUrl ? describe : describe.skip)('lineage db on PostgreSQL', function () {
  this.timeout(900_000);
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-db-pg-'));
  let scratch: { url: string; drop(): Promise<void> };
  before(async () => {
    scratch = await createScratchDatabase(clusterUrl!);
  });
  after(async () => {
    await scratch?.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('db migrate creates the tables once; a second run is up to date', () => {
    const first = runCli(['db', 'migrate', '--db', scratch.url]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /applied migration\(s\) 1, 2 \(schema version 2\)/);
    const second = runCli(['db', 'migrate'], { LINEAGE_DB_URL: scratch.url });
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /up to date \(schema version 2\)/);
  });

  it(`${WRITERS} concurrent db add processes of ${PER_WRITER} entries each: nothing lost, nothing duplicated`, async () => {
    const perWriter = Array.from({ length: WRITERS }, (_, w) => writeFingerprints(folder, w));
    const results = await Promise.all(perWriter.map((files) => runCliAsync(['db', 'add', ...files, '--db', scratch.url, '--contributor', 'ci'])));
    results.forEach((r, w) => assert.equal(r.status, 0, `writer ${w}: ${r.stderr.slice(-2000)}`));
    const client = new Client({ connectionString: scratch.url });
    await client.connect();
    try {
      const total = Number((await client.query('SELECT COUNT(*) AS n FROM lineage_models')).rows[0].n);
      assert.equal(total, WRITERS * (PER_WRITER - SHARED) + SHARED);
      const duplicates = await client.query('SELECT id_key FROM lineage_models GROUP BY id_key HAVING COUNT(*) > 1');
      assert.equal(duplicates.rowCount, 0);
      for (let w = 0; w < WRITERS; w++) {
        const own = Number((await client.query(`SELECT COUNT(*) AS n FROM lineage_models WHERE id LIKE $1`, [`w${w}/%`])).rows[0].n);
        assert.equal(own, PER_WRITER - SHARED, `every entry of writer ${w} is there`);
      }
      const orphanBands = Number((await client.query('SELECT COUNT(*) AS n FROM lineage_weight_bands b WHERE NOT EXISTS (SELECT 1 FROM lineage_models m WHERE m.rid = b.model_rid)')).rows[0].n);
      assert.equal(orphanBands, 0);
    } finally {
      await client.end();
    }
    const registry = await openPgRegistry(scratch.url);
    try {
      const report = await registry.verify();
      assert.deepEqual(report.problems, []);
      assert.equal(report.entries, WRITERS * (PER_WRITER - SHARED) + SHARED);
    } finally {
      await registry.close();
    }
  });

  it('a db add killed with SIGKILL mid-run leaves whole batches only, and every stored entry verifies', async () => {
    const killed = await createScratchDatabase(clusterUrl!);
    try {
      assert.equal(runCli(['db', 'migrate', '--db', killed.url]).status, 0);
      const files = writeFingerprints(path.join(folder, 'kill'), 99).slice(0, PER_WRITER - SHARED);
      const child = spawn(process.execPath, [CLI_PATH, 'db', 'add', ...files, '--db', killed.url], { stdio: ['ignore', 'ignore', 'pipe'] });
      let written = 0;
      await new Promise<void>((resolve) => {
        child.stderr.on('data', (chunk: Buffer) => {
          written += (chunk.toString().match(/^added /gm) ?? []).length;
          // Kill once a few batches are committed, while later ones are in flight.
          if (written >= 120 && child.exitCode === null) child.kill('SIGKILL');
        });
        child.on('exit', () => resolve());
      });
      assert.equal(child.signalCode, 'SIGKILL', 'the writer was killed before it finished');
      const registry = await openPgRegistry(killed.url);
      try {
        const count = await registry.entryCount();
        assert.ok(count >= 100 && count < files.length, `some batches were committed (${count})`);
        assert.equal(count % 50, 0, 'only whole batches (transactions) are stored');
        const report = await registry.verify();
        assert.deepEqual(report.problems, [], 'no partial entry');
      } finally {
        await registry.close();
      }
    } finally {
      await killed.drop();
    }
  });

  it('exports, imports into SQLite, and reports stats, vacuum and scan against PostgreSQL', () => {
    const exported = path.join(folder, 'pg.ndjson');
    const exportRun = runCli(['db', 'export', '--db', scratch.url, '-o', exported]);
    assert.equal(exportRun.status, 0, exportRun.stderr);
    assert.match(exportRun.stderr, new RegExp(`exported ${WRITERS * (PER_WRITER - SHARED) + SHARED} entries`));
    const sqlite = path.join(folder, 'from-pg.sqlite');
    const importRun = runCli(['db', 'import', exported, '--db', sqlite]);
    assert.equal(importRun.status, 0, importRun.stderr);
    assert.match(importRun.stderr, /3650 added, 0 replaced, 0 unchanged/);
    const again = runCli(['db', 'import', exported, '--db', scratch.url]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /0 added, 0 replaced, 3650 unchanged/, 'importing what is there changes nothing');
    const stats = runCli(['db', 'stats', '--db', scratch.url, '--json']);
    assert.equal(stats.status, 0, stats.stderr);
    const parsed = JSON.parse(stats.stdout) as { entries: number; location: string; families: Array<{ family: string; entries: number }> };
    assert.equal(parsed.entries, 3650);
    assert.deepEqual(parsed.families.map((f) => [f.family, f.entries]), [['llama', 3650]]);
    assert.ok(!parsed.location.includes('password'));
    assert.equal(runCli(['db', 'vacuum', '--db', scratch.url]).status, 0);
    const scan = runCli(['scan', path.join(folder, 'writer-3', 'own-7.json'), '--db', scratch.url, '--json']);
    assert.equal(scan.status, 0, scan.stderr);
    const result = JSON.parse(scan.stdout) as { matches: Array<{ id: string; verdict: string }> };
    assert.equal(result.matches[0]?.id, 'w3/user7/finetune-of-0');
    assert.equal(result.matches[0]?.verdict, 'same-weights', 'the same weights (synthetic entries carry no file hashes, so not "identical")');
  });
});
