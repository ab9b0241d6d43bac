// The embedded registry on a real SQLite file on disk (read page by page; files from sql.js, the old backend, too): round trips, atomic commits, verify, and
// refusing corrupt or hostile files with a clear error.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { closeSide, loadSide } from '../../../server/src/core/compare/compareModels';
import { serializeFingerprint } from '../../../server/src/core/fingerprint/encoding';
import type { Fingerprint } from '../../../server/src/core/fingerprint/types';
import { formatEntryLine, hasWeightSignals, openSqliteRegistry, parseEntryLine, RegistryError, type RegistryEntry } from '../../../server/src/core/registry';
import { loadSqlJs } from '../../support/sqlJs';
import { zooPath } from '../../support/zoo';

async function fingerprintOf(target: string): Promise<Fingerprint> {
  const side = await loadSide(target);
  await closeSide(side);
  return side.fingerprint;
}

function entry(id: string, fp: Fingerprint, tokenizerFamily?: string): RegistryEntry {
  return { meta: { id, kind: hasWeightSignals(fp) ? 'weights' : 'tokenizer', declaredParents: [], ...(tokenizerFamily ? { tokenizerFamily } : {}) }, fingerprint: fp };
}

describe('registry: embedded SQLite backend', function () {
  this.timeout(120_000);
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-registry-'));
  let gpt2: Fingerprint;
  let stories: Fingerprint;
  let llamaTokenizer: Fingerprint;
  before(async () => {
    gpt2 = await fingerprintOf(zooPath('tiny-gpt2'));
    stories = await fingerprintOf(zooPath('tinyllamas-stories260K-gguf'));
    llamaTokenizer = await fingerprintOf(zooPath('tok-llama-spm'));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('stores entries on disk and gives back byte-identical fingerprints after reopening', async () => {
    const file = path.join(folder, 'roundtrip.sqlite');
    const writer = await openSqliteRegistry(file, { writable: true });
    assert.equal(writer.put(entry('zoo/tinyllamas', stories)), 'added');
    assert.equal(writer.put(entry('zoo/tiny-gpt2', gpt2)), 'added');
    assert.equal(writer.put(entry('tokenizer/llama', llamaTokenizer, 'Llama 2')), 'added');
    assert.equal(writer.put(entry('zoo/tiny-gpt2', gpt2)), 'replaced');
    writer.commit();
    writer.close();

    const reader = await openSqliteRegistry(file);
    try {
      assert.deepEqual(reader.list().map((e) => [e.id, e.kind]), [['tokenizer/llama', 'tokenizer'], ['zoo/tiny-gpt2', 'weights'], ['zoo/tinyllamas', 'weights']]);
      assert.equal(serializeFingerprint(reader.get('zoo/tinyllamas')!.fingerprint), serializeFingerprint(stories));
      assert.equal(reader.get('ZOO/TINY-GPT2')?.meta.id, 'zoo/tiny-gpt2', 'ids compare case-insensitively');
      assert.equal(reader.list().find((e) => e.id === 'tokenizer/llama')?.tokenizerFamily, 'Llama 2');
      const stats = reader.stats();
      assert.equal(stats.entries, 3);
      assert.equal(stats.weightEntries, 2);
      assert.ok(stats.weightBands > 0 && stats.vocabularyBands > 0);
      assert.deepEqual(reader.verify(), { ok: true, entries: 3, problems: [] });
      assert.throws(() => reader.put(entry('x/y', gpt2)), /read-only/);
    } finally {
      reader.close();
    }
  });

  it('removes an entry with all its index rows, and its vocabulary when no one else uses it', async () => {
    const file = path.join(folder, 'remove.sqlite');
    const writer = await openSqliteRegistry(file, { writable: true });
    writer.put(entry('a/gpt2', gpt2));
    writer.put(entry('b/stories', stories));
    writer.commit();
    assert.equal(writer.remove('a/gpt2'), true);
    assert.equal(writer.remove('a/gpt2'), false);
    writer.commit();
    const stats = writer.stats();
    assert.equal(stats.entries, 1);
    assert.equal(stats.vocabularies, 1);
    assert.deepEqual(writer.verify().problems, []);
    writer.close();
  });

  it('is not changed on disk before commit (a crash before commit loses only the pending entries)', async () => {
    const file = path.join(folder, 'pending.sqlite');
    const first = await openSqliteRegistry(file, { writable: true });
    first.put(entry('a/gpt2', gpt2));
    first.commit();
    first.put(entry('b/stories', stories));
    const before = readFileSync(file);
    first.close();
    assert.deepEqual(readFileSync(file), before);
    const reader = await openSqliteRegistry(file);
    assert.deepEqual(reader.list().map((e) => e.id), ['a/gpt2']);
    reader.close();
  });

  it('lets only one writer hold the file', async () => {
    const file = path.join(folder, 'locked.sqlite');
    const first = await openSqliteRegistry(file, { writable: true });
    try {
      await assert.rejects(openSqliteRegistry(file, { writable: true }), /being written by another process/);
    } finally {
      first.close();
    }
    (await openSqliteRegistry(file, { writable: true })).close();
  });

  it('refuses files that are not registries, or are corrupt, with a message naming the file', async () => {
    const notSqlite = path.join(folder, 'random.sqlite');
    writeFileSync(notSqlite, Buffer.from('this is not a database at all, just text'.repeat(200)));
    await assert.rejects(openSqliteRegistry(notSqlite), (err: unknown) => err instanceof RegistryError && /random\.sqlite: is not an SQLite file/.test(err.message));

    const empty = path.join(folder, 'empty.sqlite');
    writeFileSync(empty, '');
    await assert.rejects(openSqliteRegistry(empty), /is empty/);

    await assert.rejects(openSqliteRegistry(path.join(folder, 'missing.sqlite')), /no such registry file/);

    const SQL = await loadSqlJs();
    const other = new SQL.Database();
    other.run('CREATE TABLE t (x)');
    const foreign = path.join(folder, 'foreign.sqlite');
    writeFileSync(foreign, other.export());
    other.close();
    await assert.rejects(openSqliteRegistry(foreign), /not a Lineage Lens registry/);

    const good = path.join(folder, 'good.sqlite');
    const writer = await openSqliteRegistry(good, { writable: true });
    writer.put(entry('a/gpt2', gpt2));
    writer.commit();
    writer.close();
    const bytes = readFileSync(good);
    const truncated = path.join(folder, 'truncated.sqlite');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const opened = await openSqliteRegistry(truncated).then(
      (r) => {
        const report = r.verify();
        r.close();
        return report;
      },
      (err: unknown) => ({ ok: false, entries: 0, problems: [String(err)] }),
    );
    assert.equal(opened.ok, false, 'a truncated file must not verify');
  });

  it('refuses a file of a newer schema, and one that carries a trigger', async () => {
    const SQL = await loadSqlJs();
    const base = path.join(folder, 'base.sqlite');
    const writer = await openSqliteRegistry(base, { writable: true });
    writer.put(entry('a/gpt2', gpt2));
    writer.commit();
    writer.close();
    const tamper = async (name: string, sql: string) => {
      const db = new SQL.Database(readFileSync(base));
      db.run(sql);
      const file = path.join(folder, name);
      writeFileSync(file, db.export());
      db.close();
      return file;
    };
    await assert.rejects(openSqliteRegistry(await tamper('newer.sqlite', 'PRAGMA user_version = 99')), /schema version 99, newer than this Lineage Lens/);
    await assert.rejects(openSqliteRegistry(await tamper('trigger.sqlite', 'CREATE TRIGGER evil AFTER INSERT ON models BEGIN DELETE FROM models; END')), /unexpected schema object \(trigger:evil\)/);
  });

  it('verify names an entry whose stored fingerprint was tampered with, and reading it fails clearly', async () => {
    const SQL = await loadSqlJs();
    const file = path.join(folder, 'tampered.sqlite');
    const writer = await openSqliteRegistry(file, { writable: true });
    writer.put(entry('a/gpt2', gpt2));
    writer.put(entry('b/stories', stories));
    writer.commit();
    writer.close();
    const db = new SQL.Database(readFileSync(file));
    db.run(`UPDATE fingerprints SET body = X'00010203' WHERE model_rid = (SELECT rid FROM models WHERE id = 'b/stories')`);
    db.run(`DELETE FROM weight_bands WHERE model_rid = (SELECT rid FROM models WHERE id = 'a/gpt2')`);
    writeFileSync(file, db.export());
    db.close();
    const reader = await openSqliteRegistry(file);
    try {
      const report = reader.verify();
      assert.equal(report.ok, false);
      assert.ok(report.problems.some((p) => /b\/stories/.test(p) && /decompress|sha256/.test(p)), report.problems.join('\n'));
      assert.ok(report.problems.some((p) => /a\/gpt2: missing LSH index rows/.test(p)), report.problems.join('\n'));
      assert.throws(() => reader.get('b/stories'), (err: unknown) => err instanceof RegistryError && /b\/stories/.test(err.message));
    } finally {
      reader.close();
    }
  });

  it('opens a schema-1 file written by another SQLite (sql.js) read-only as it is, and a writer migrates it', async () => {
    const SQL = await loadSqlJs();
    const file = path.join(folder, 'v1.sqlite');
    const writer = await openSqliteRegistry(file, { writable: true });
    writer.put(entry('a/gpt2', gpt2));
    writer.commit();
    writer.close();
    const old = new SQL.Database(readFileSync(file));
    old.run('ALTER TABLE models DROP COLUMN provenance');
    old.run('DROP INDEX blocking_vocabulary');
    old.run('PRAGMA user_version = 1');
    writeFileSync(file, old.export());
    old.close();

    const reader = await openSqliteRegistry(file);
    assert.equal(reader.stats().schemaVersion, 1);
    assert.equal(reader.get('a/gpt2')?.meta.provenance, undefined);
    reader.close();
    const upgrader = await openSqliteRegistry(file, { writable: true });
    upgrader.put({ meta: { ...entry('b/stories', stories).meta, provenance: { tool: 'lineage-lens@test', extractorVersion: stories.extractorVersion, contributor: 'tester' } }, fingerprint: stories });
    upgrader.commit();
    upgrader.close();
    const after = await openSqliteRegistry(file);
    try {
      assert.equal(after.stats().schemaVersion, 2);
      assert.equal(after.get('b/stories')?.meta.provenance?.contributor, 'tester');
      assert.deepEqual(after.verify().problems, []);
    } finally {
      after.close();
    }
  });

  it('lets readers in another connection see each commit of a live writer', async () => {
    const file = path.join(folder, 'shared.sqlite');
    const writer = await openSqliteRegistry(file, { writable: true });
    writer.put(entry('a/gpt2', gpt2));
    writer.commit();
    writer.put(entry('b/stories', stories));
    writer.commit();
    const reader = await openSqliteRegistry(file);
    try {
      assert.equal(reader.entryCount(), 2);
      assert.equal(writer.remove('a/gpt2'), true);
      writer.commit();
      assert.equal(reader.entryCount(), 1, 'the cached count follows the other connection\'s commit');
      assert.equal(writer.upsert(entry('b/stories', stories)), 'unchanged', 'identical bytes and metadata are not rewritten');
    } finally {
      reader.close();
      writer.close();
    }
  });

  it('exports entries as NDJSON lines that import back to the same fingerprints', () => {
    const line = formatEntryLine(entry('zoo/tinyllamas', stories, 'stories'));
    assert.ok(!line.includes('\n'));
    const back = parseEntryLine(line, 'test.ndjson:1');
    assert.equal(back.meta.id, 'zoo/tinyllamas');
    assert.equal(back.meta.tokenizerFamily, 'stories');
    assert.equal(serializeFingerprint(back.fingerprint), serializeFingerprint(stories));
    assert.throws(() => parseEntryLine('{"schema":"lineage-lens/registry-entry","schemaVersion":1,"meta":{"id":"x"}}', 'bad.ndjson:1'), /bad\.ndjson:1/);
  });
});
