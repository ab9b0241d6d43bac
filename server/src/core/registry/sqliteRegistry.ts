// The embedded registry backend: one SQLite file read page by page through WebAssembly SQLite with a
// synchronous Node file VFS (node-sqlite3-wasm; no native addon). Memory stays flat as the file grows.
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { Database, type Statement } from 'node-sqlite3-wasm';
import { hiddenSize } from '../compare/pairing';
import { acquireLock, liveWriterPid, pauseForTest, removeStaleTempFiles, LockedError, PAUSE_BEFORE_RENAME_ENV, type FileLock } from './atomicFile';
import { bytesToUint32, decodeFingerprintBody, encodeEntry, storedMetaMatches, MAX_ID_LENGTH, MAX_MINHASH_BYTES, MAX_TEXT_LENGTH, parseProvenance } from './entryCodec';
import { RegistryError } from './errors';
import { rollBackHotJournal } from './hotJournal';
import { contentIdOf } from './keys';
import { CURRENT_SCHEMA_VERSION, EXPECTED_OBJECTS, MIGRATIONS, REGISTRY_APPLICATION_ID } from './schema';
import { computeWeightSketches, SKETCH_KINDS, SKETCH_VERSION, sketchBytes, vocabularyBandKeys, weightBandKeys, type WeightSketches } from './sketches';
import type {
  AsyncRegistry,
  CandidateQuery,
  PutSummary,
  EntryKind,
  Registry,
  RegistryEntry,
  RegistryEntryMeta,
  RegistryEntrySummary,
  RegistryStats,
  RetrievalLimits,
  RetrievalRoute,
  VerifyReport,
  VocabularyCandidate,
  WeightCandidate,
} from './types';

type SqlValue = number | bigint | string | Uint8Array | null;

const SQLITE_MAGIC = 'SQLite format 3\0';
/** Vocabulary candidates returned per query (most shared bands first). */
const MAX_VOCABULARY_CANDIDATES = 32;
/** Entry ids listed per vocabulary candidate. */
const MAX_ENTRY_IDS_PER_VOCABULARY = 16;
const FORMAT_NAME = 'lineage-lens/registry';
/** A reader waits this long for a writer's commit (SQLite busy handler) before the lock is examined. */
const BUSY_TIMEOUT_MS = 5_000;
/** SQLite page cache per connection (KiB): the hot index pages of a scan, not the file. */
const PAGE_CACHE_KIB = 32 * 1024;
/** Entries read per query when iterating the whole registry (bounded memory, short read locks). */
const ITERATION_PAGE = 256;
/** Prepared statements kept per connection (the IN lists of retrieval vary in length). */
const MAX_CACHED_STATEMENTS = 64;

export interface OpenRegistryOptions {
  /** Open for writing: takes the file's writer lock until close(); creates the file if missing. */
  writable?: boolean;
}

/** Opens (or, writable, creates) a registry file. Throws RegistryError for anything that is not a valid registry. */
export async function openSqliteRegistry(file: string, options: OpenRegistryOptions = {}): Promise<SqliteRegistry> {
  return openSqliteRegistrySync(file, options);
}

export function openSqliteRegistrySync(file: string, options: OpenRegistryOptions = {}): SqliteRegistry {
  const writable = options.writable === true;
  let lock: FileLock | undefined;
  if (writable) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    lock = acquireLock(file);
    removeStaleTempFiles(file);
    recoverUnderWriterLock(file);
  }
  let db: Database | undefined;
  try {
    const isNew = checkHeader(file, writable);
    if (!writable) recoverCrashedWriter(file);
    try {
      db = new Database(file, { fileMustExist: !writable, readOnly: !writable });
    } catch (err) {
      throw new RegistryError(file, `cannot be opened as SQLite (${errorText(err)}); run "lineage db verify" or rebuild it`);
    }
    const registry = new SqliteRegistry(file, db, writable, lock, isNew);
    registry.prepare(isNew);
    return registry;
  } catch (err) {
    try {
      db?.close();
    } catch {
      // The open failed half-way: nothing more to release.
    }
    lock?.release();
    throw err;
  }
}

/** Reads the 16-byte header only (the file is never loaded whole); returns whether the file is new. */
function checkHeader(file: string, mayBeMissing: boolean): boolean {
  if (!existsSync(file)) {
    if (mayBeMissing) return true;
    throw new RegistryError(file, 'no such registry file (create one with "lineage db add <model> --db FILE")');
  }
  const size = statSync(file).size;
  if (size === 0) {
    // A writer that died before its first commit leaves an empty file; the next writer starts it over.
    if (mayBeMissing && !existsSync(`${file}-journal`)) return true;
    throw new RegistryError(file, 'is empty (a writer died before its first commit, or the file was truncated): delete it and add the models again');
  }
  const header = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1') !== SQLITE_MAGIC) throw new RegistryError(file, 'is not an SQLite file (bad header): it is not a Lineage Lens registry, or it is corrupt');
  return false;
}

/**
 * A writer killed mid-transaction leaves a hot journal (and SQLite's lock directory). When no live
 * writer owns the file, a reader takes the writer lock for a moment and rolls the journal back.
 */
function recoverCrashedWriter(file: string): void {
  if (!existsSync(`${file}-journal`) && !existsSync(`${file}.lock`)) return;
  if (liveWriterPid(file) !== undefined) return;
  let lock: FileLock;
  try {
    lock = acquireLock(file);
  } catch {
    return; // A writer has just started: it recovers the file itself.
  }
  try {
    recoverUnderWriterLock(file);
  } finally {
    lock.release();
  }
}

/**
 * With the writer lock held, a journal can only be a dead writer's: its lock directory goes and its
 * journal is rolled back. Otherwise a lock directory older than a statement is a dead reader's.
 */
function recoverUnderWriterLock(file: string): void {
  if (existsSync(`${file}-journal`)) {
    removeSqliteLockDirectory(file);
    rollBackHotJournal(file);
  } else {
    removeStaleSqliteLock(file);
  }
}

/** A reader holds SQLite's lock for one statement (milliseconds); one this old belongs to a dead process. */
const STALE_SQLITE_LOCK_MS = 2_000;

/** Called by the writer (holding the writer lock): clears a lock directory a killed process left. */
function removeStaleSqliteLock(file: string): void {
  try {
    if (Date.now() - statSync(`${file}.lock`).mtimeMs > STALE_SQLITE_LOCK_MS) removeSqliteLockDirectory(file);
  } catch {
    // No lock directory.
  }
}

/** SQLite's VFS lock is a directory `<file>.lock`; a process killed while holding it leaves it behind. */
function removeSqliteLockDirectory(file: string): boolean {
  try {
    rmdirSync(`${file}.lock`);
    return true;
  } catch {
    return false;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked|SQLITE_BUSY/i.test(err.message);
}

export class SqliteRegistry implements Registry {
  private dirty = false;
  private inWrite = false;
  private schemaVersion = CURRENT_SCHEMA_VERSION;
  private readonly statements = new Map<string, Statement>();
  private countCache: { dataVersion: number; count: number } | undefined;
  /** Open readSnapshot() calls (a writer's transaction must not start inside one). */
  private readDepth = 0;

  constructor(
    readonly location: string,
    private readonly db: Database,
    readonly writable: boolean,
    private lock: FileLock | undefined,
    /** Created by this writer: removed again if closed before anything was committed. */
    private createdHere: boolean,
  ) {}

  // ---- low-level access: every value read from the file is type- and size-checked ----------------

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) {
        const [oldest, old] = this.statements.entries().next().value as [string, Statement];
        old.finalize();
        this.statements.delete(oldest);
      }
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Rows as arrays in column order (queries alias duplicate column names). */
  private rows(sql: string, params: SqlValue[] = []): SqlValue[][] {
    return this.withLockRecovery(() => this.statement(sql).all(params).map((row) => Object.values(row) as SqlValue[]));
  }

  private run(sql: string, params: SqlValue[] = []): void {
    this.withLockRecovery(() => (params.length ? this.statement(sql).run(params) : this.db.exec(sql)));
  }

  /**
   * A lock directory left by a killed process blocks every connection for ever. Once the busy timeout
   * has passed and no live writer owns the file, the lock is stale: it is removed and the statement retried.
   */
  private withLockRecovery<T>(body: () => T): T {
    try {
      return body();
    } catch (err) {
      if (!isBusy(err) || this.inWrite) throw err;
      const writer = liveWriterPid(this.location);
      if (writer !== undefined && writer !== process.pid) throw new LockedError(this.location, writer);
      if (!removeSqliteLockDirectory(this.location)) throw err;
      return body();
    }
  }

  private fail(what: string): never {
    throw new RegistryError(this.location, `corrupt registry: ${what}; run "lineage db verify" for details`);
  }

  private text(value: SqlValue, what: string, maxLength = MAX_TEXT_LENGTH): string {
    if (typeof value !== 'string' || value.length > maxLength) this.fail(`${what} is not text of at most ${maxLength} characters`);
    return value;
  }

  private optionalText(value: SqlValue, what: string): string | undefined {
    return value === null ? undefined : this.text(value, what);
  }

  private integer(value: SqlValue, what: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) this.fail(`${what} is not an integer`);
    return value;
  }

  private optionalInteger(value: SqlValue, what: string): number | undefined {
    return value === null ? undefined : this.integer(value, what);
  }

  private blob(value: SqlValue, what: string, maxBytes: number): Uint8Array {
    if (!(value instanceof Uint8Array) || value.length > maxBytes) this.fail(`${what} is not a blob of at most ${maxBytes} bytes`);
    return value;
  }

  /** Runs `body`, turning SQLite faults (a malformed page, a missing table) into RegistryError. */
  private guard<T>(body: () => T): T {
    try {
      return body();
    } catch (err) {
      if (err instanceof RegistryError || err instanceof LockedError || err instanceof RangeError) throw err;
      if (isBusy(err)) throw new RegistryError(this.location, `is locked by another process (${errorText(err)}); try again`);
      throw new RegistryError(this.location, `corrupt or unreadable registry (${errorText(err)}); run "lineage db verify" for details`);
    }
  }

  // ---- opening, schema, migrations ----------------------------------------------------------------

  /** Checks that the file is ours and of a known schema; creates or migrates the schema (writers only). */
  prepare(isNew: boolean): void {
    this.guard(() => {
      this.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // The crash test pauses before COMMIT: a tiny cache makes SQLite spill pages to the file first,
      // so the kill leaves a hot journal that the next opener must roll back.
      this.run(process.env[PAUSE_BEFORE_RENAME_ENV] ? 'PRAGMA cache_size = 2' : `PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
      if (isNew) {
        this.migrate(0);
        return;
      }
      const applicationId = this.integer(this.rows('PRAGMA application_id')[0]?.[0] ?? null, 'application_id');
      if (applicationId !== REGISTRY_APPLICATION_ID) throw new RegistryError(this.location, 'is an SQLite file but not a Lineage Lens registry (wrong application_id)');
      const version = this.integer(this.rows('PRAGMA user_version')[0]?.[0] ?? null, 'user_version');
      if (version > CURRENT_SCHEMA_VERSION) {
        throw new RegistryError(this.location, `has schema version ${version}, newer than this Lineage Lens understands (${CURRENT_SCHEMA_VERSION}): upgrade Lineage Lens`);
      }
      if (version < 1) this.fail(`schema version ${version}`);
      this.checkObjects();
      this.schemaVersion = version;
      // Readers read an older schema as it is (no provenance column); the first writer migrates it.
      if (version < CURRENT_SCHEMA_VERSION && this.writable) this.migrate(version);
      const sketchVersion = this.rows(`SELECT value FROM meta WHERE key = 'sketch_version'`)[0]?.[0];
      if (sketchVersion !== String(SKETCH_VERSION)) {
        throw new RegistryError(this.location, `stores weight sketches of version ${String(sketchVersion)}, this Lineage Lens computes version ${SKETCH_VERSION}: re-create it with "lineage db export" and "lineage db import"`);
      }
    });
  }

  /** A hostile file could carry triggers or views that run on our statements: only our own objects are allowed. */
  private checkObjects(): void {
    for (const [type, name] of this.rows(`SELECT type, name FROM sqlite_master`)) {
      const key = `${String(type)}:${String(name)}`;
      if (EXPECTED_OBJECTS.has(key) || (type === 'index' && typeof name === 'string' && name.startsWith('sqlite_autoindex_'))) continue;
      throw new RegistryError(this.location, `holds an unexpected schema object (${key}): refusing to use it; rebuild the registry from an export`);
    }
  }

  /** Migrations run in the writer's transaction: committed with its first commit(), or not at all. */
  private migrate(fromVersion: number): void {
    this.beginWrite();
    for (const migration of MIGRATIONS) {
      if (migration.version <= fromVersion) continue;
      for (const statement of migration.statements) this.run(statement);
      this.run(`PRAGMA user_version = ${migration.version}`);
    }
    this.run(`PRAGMA application_id = ${REGISTRY_APPLICATION_ID}`);
    this.run(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?), (?, ?)`, ['format', FORMAT_NAME, 'sketch_version', String(SKETCH_VERSION)]);
    this.schemaVersion = CURRENT_SCHEMA_VERSION;
    this.dirty = true;
  }

  // ---- writing ------------------------------------------------------------------------------------

  private requireWritable(): void {
    if (!this.writable) throw new RegistryError(this.location, 'is open read-only');
  }

  /** Pending changes live in one open transaction until commit(); SQLite's journal makes it atomic. */
  private beginWrite(): void {
    if (this.inWrite) return;
    if (this.readDepth > 0) throw new RegistryError(this.location, 'cannot be written inside a read snapshot');
    this.withLockRecovery(() => this.db.exec('BEGIN IMMEDIATE'));
    this.inWrite = true;
  }

  /** Runs one change inside a savepoint: a failing put leaves the other pending changes intact. */
  private change<T>(body: () => T): T {
    this.requireWritable();
    return this.guard(() => {
      this.beginWrite();
      this.db.exec('SAVEPOINT entry');
      try {
        const result = body();
        this.db.exec('RELEASE entry');
        return result;
      } catch (err) {
        this.db.exec('ROLLBACK TO entry');
        this.db.exec('RELEASE entry');
        throw err;
      }
    });
  }

  put(entry: RegistryEntry): 'added' | 'replaced' {
    const outcome = this.upsert(entry);
    return outcome === 'unchanged' ? 'replaced' : outcome;
  }

  /** put(), but an entry stored with the same fingerprint bytes and metadata is left alone (idempotent merges). */
  upsert(entry: RegistryEntry): 'added' | 'replaced' | 'unchanged' {
    this.requireWritable();
    const e = encodeEntry(entry);
    return this.change(() => {
      if (this.isStoredAlready(e.meta, e.jsonSha256)) return 'unchanged';
      const replaced = this.deleteEntry(e.meta.id);
      const vocabularyRid = e.vocabulary ? this.upsertVocabulary(e.vocabulary, e.meta.tokenizerFamily) : undefined;
      const meta = e.meta;
      this.run(
        `INSERT INTO models (id, revision, family, declared_parents, licence, source, kind, content_id, provenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [meta.id, meta.revision ?? null, meta.family ?? null, JSON.stringify(meta.declaredParents), meta.licence ?? null, meta.source ?? null, meta.kind, e.contentId ?? null, e.provenanceJson ?? null],
      );
      const rid = this.integer(this.rows('SELECT last_insert_rowid()')[0]?.[0] ?? null, 'rowid');
      this.run(`INSERT INTO fingerprints (model_rid, extractor_version, json_sha256, json_bytes, body) VALUES (?, ?, ?, ?, ?)`, [rid, e.extractorVersion, e.jsonSha256, e.jsonBytes, e.body]);
      this.run(`INSERT INTO blocking_keys (model_rid, architecture_hash, hidden_size, vocabulary_rid) VALUES (?, ?, ?, ?)`, [rid, e.architectureHash ?? null, e.hiddenSize ?? null, vocabularyRid ?? null]);
      if (meta.kind === 'weights') {
        this.run(`INSERT INTO sketches (model_rid, norm, anchor, profile) VALUES (?, ?, ?, ?)`, [rid, e.sketches.norm ?? null, e.sketches.anchor ?? null, e.sketches.profile ?? null]);
        for (const key of e.weightBandKeys) this.run(`INSERT OR IGNORE INTO weight_bands (key, model_rid) VALUES (?, ?)`, [key, rid]);
      }
      this.dirty = true;
      this.countCache = undefined;
      return replaced ? 'replaced' : 'added';
    });
  }

  private isStoredAlready(meta: RegistryEntryMeta, jsonSha256: string): boolean {
    const row = this.rows(
      `SELECT ${this.metaColumns}, f.json_sha256 FROM models m LEFT JOIN fingerprints f ON f.model_rid = m.rid LEFT JOIN blocking_keys b ON b.model_rid = m.rid
       LEFT JOIN vocabularies v ON v.rid = b.vocabulary_rid WHERE m.id = ?`,
      [meta.id],
    )[0];
    if (!row || row[9] !== jsonSha256) return false;
    return storedMetaMatches(this.metaFrom(row), meta);
  }

  private upsertVocabulary(v: NonNullable<ReturnType<typeof encodeEntry>['vocabulary']>, family: string | undefined): number {
    const existing = this.rows(`SELECT rid FROM vocabularies WHERE tokens_hash = ?`, [v.tokensHash])[0];
    if (existing) {
      const rid = this.integer(existing[0] ?? null, 'vocabulary rid');
      if (family) this.run(`UPDATE vocabularies SET family = ? WHERE rid = ?`, [family, rid]);
      return rid;
    }
    this.run(`INSERT INTO vocabularies (tokens_hash, size, convention, family, minhash) VALUES (?, ?, ?, ?, ?)`, [v.tokensHash, v.size, v.convention, family ?? null, v.minhash]);
    const rid = this.integer(this.rows('SELECT last_insert_rowid()')[0]?.[0] ?? null, 'rowid');
    for (const key of v.bandKeys) this.run(`INSERT OR IGNORE INTO vocab_bands (key, vocabulary_rid) VALUES (?, ?)`, [key, rid]);
    return rid;
  }

  remove(id: string): boolean {
    return this.change(() => {
      const removed = this.deleteEntry(id);
      if (removed) {
        this.dirty = true;
        this.countCache = undefined;
      }
      return removed;
    });
  }

  /** Deletes an entry and its index rows (band keys recomputed from its stored sketches); drops its vocabulary when unused. */
  private deleteEntry(id: string): boolean {
    const row = this.rows(
      `SELECT m.rid, b.hidden_size, b.vocabulary_rid, s.norm, s.anchor, s.profile FROM models m
       LEFT JOIN blocking_keys b ON b.model_rid = m.rid LEFT JOIN sketches s ON s.model_rid = m.rid WHERE m.id = ?`,
      [id],
    )[0];
    if (!row) return false;
    const rid = this.integer(row[0] ?? null, 'model rid');
    const hidden = this.optionalInteger(row[1] ?? null, 'hidden size');
    const vocabularyRid = this.optionalInteger(row[2] ?? null, 'vocabulary rid');
    const sketches = this.sketchesFrom(row.slice(3));
    if (hidden !== undefined) for (const key of weightBandKeys(sketches, hidden)) this.run(`DELETE FROM weight_bands WHERE key = ? AND model_rid = ?`, [key, rid]);
    for (const table of ['fingerprints', 'blocking_keys', 'sketches']) this.run(`DELETE FROM ${table} WHERE model_rid = ?`, [rid]);
    this.run(`DELETE FROM models WHERE rid = ?`, [rid]);
    if (vocabularyRid !== undefined) {
      const users = this.rows(`SELECT COUNT(*) FROM blocking_keys WHERE vocabulary_rid = ?`, [vocabularyRid])[0]?.[0];
      if (users === 0) {
        const minhash = this.rows(`SELECT minhash FROM vocabularies WHERE rid = ?`, [vocabularyRid])[0]?.[0];
        if (minhash !== undefined) for (const key of vocabularyBandKeys(this.minhashFrom(minhash))) this.run(`DELETE FROM vocab_bands WHERE key = ? AND vocabulary_rid = ?`, [key, vocabularyRid]);
        this.run(`DELETE FROM vocabularies WHERE rid = ?`, [vocabularyRid]);
      }
    }
    return true;
  }

  /** Commits the pending transaction (journalled: a crash leaves the previous state). `compact` VACUUMs after: smallest file, byte-reproducible builds. */
  commit(options: { compact?: boolean } = {}): void {
    this.requireWritable();
    this.guard(() => {
      if (this.inWrite) {
        if (process.env[PAUSE_BEFORE_RENAME_ENV]) pauseForTest(this.location);
        this.db.exec('COMMIT');
        this.inWrite = false;
      }
      this.createdHere = false;
      if (options.compact) this.db.exec('VACUUM');
      this.dirty = false;
    });
  }

  /** Reclaims the pages of removed entries and refreshes the query planner's statistics. */
  vacuum(): void {
    this.commit({ compact: true });
    this.guard(() => this.db.exec('ANALYZE'));
  }

  get hasPendingChanges(): boolean {
    return this.dirty;
  }

  // ---- reading ------------------------------------------------------------------------------------

  private sketchesFrom(values: SqlValue[]): WeightSketches {
    const out: WeightSketches = {};
    SKETCH_KINDS.forEach((kind, i) => {
      const v = values[i] ?? null;
      if (v === null) return;
      const code = this.blob(v, `${kind} sketch`, sketchBytes(kind));
      if (code.length !== sketchBytes(kind)) this.fail(`a ${kind} sketch has ${code.length} bytes, expected ${sketchBytes(kind)}`);
      out[kind] = code;
    });
    return out;
  }

  private minhashFrom(value: SqlValue): Uint32Array {
    const bytes = this.blob(value, 'vocabulary minhash', MAX_MINHASH_BYTES);
    if (bytes.length % 4 !== 0) this.fail('a vocabulary minhash is not a whole number of 32-bit values');
    return bytesToUint32(bytes);
  }

  /** The provenance column exists from schema version 2; an older file read-only has none. */
  private get provenanceColumn(): string {
    return this.schemaVersion >= 2 ? 'm.provenance' : 'NULL';
  }

  private get metaColumns(): string {
    return `m.id, m.revision, m.family, m.declared_parents, m.licence, m.source, m.kind, v.family AS tokenizer_family, ${this.provenanceColumn} AS provenance`;
  }

  has(id: string): boolean {
    return this.guard(() => this.rows(`SELECT 1 FROM models WHERE id = ?`, [id]).length > 0);
  }

  get(id: string): RegistryEntry | undefined {
    return this.guard(() => {
      const row = this.rows(
        `SELECT ${this.metaColumns}, f.json_sha256, f.body
         FROM models m LEFT JOIN fingerprints f ON f.model_rid = m.rid LEFT JOIN blocking_keys b ON b.model_rid = m.rid
         LEFT JOIN vocabularies v ON v.rid = b.vocabulary_rid WHERE m.id = ?`,
        [id],
      )[0];
      if (!row) return undefined;
      const meta = this.metaFrom(row);
      return { meta, fingerprint: decodeFingerprintBody(this.location, meta.id, row[9], row[10]) };
    });
  }

  getMany(ids: readonly string[]): Map<string, RegistryEntry> {
    // In-process reads are cheap one by one (inside a scan's snapshot they share its lock).
    const out = new Map<string, RegistryEntry>();
    for (const id of ids) {
      const entry = this.get(id);
      if (entry) out.set(id, entry);
    }
    return out;
  }

  private metaFrom(row: SqlValue[]): RegistryEntryMeta {
    const id = this.text(row[0] ?? null, 'model id', MAX_ID_LENGTH);
    let parents: unknown;
    try {
      parents = JSON.parse(this.text(row[3] ?? null, `declared parents of ${id}`));
    } catch {
      this.fail(`declared parents of ${id} are not JSON`);
    }
    if (!Array.isArray(parents) || !parents.every((p) => typeof p === 'string')) this.fail(`declared parents of ${id} are not a list of strings`);
    const kind = row[6];
    if (kind !== 'weights' && kind !== 'tokenizer') this.fail(`entry ${id} has kind ${String(kind)}`);
    const meta: RegistryEntryMeta = { id, declaredParents: parents as string[], kind: kind as EntryKind };
    const optional: Array<[keyof RegistryEntryMeta, SqlValue | undefined]> = [['revision', row[1]], ['family', row[2]], ['licence', row[4]], ['source', row[5]], ['tokenizerFamily', row[7]]];
    for (const [key, value] of optional) {
      const text = this.optionalText(value ?? null, `${key} of ${id}`);
      if (text !== undefined) (meta as unknown as Record<string, string>)[key] = text;
    }
    const provenance = this.optionalText(row[8] ?? null, `provenance of ${id}`);
    if (provenance !== undefined) {
      try {
        meta.provenance = parseProvenance(JSON.parse(provenance));
      } catch (err) {
        this.fail(`provenance of ${id} is invalid (${errorText(err)})`);
      }
    }
    return meta;
  }

  list(): RegistryEntrySummary[] {
    return this.guard(() =>
      this.rows(
        `SELECT ${this.metaColumns}, b.hidden_size, b.architecture_hash, v.size, f.extractor_version, length(f.body) AS stored_bytes
         FROM models m LEFT JOIN fingerprints f ON f.model_rid = m.rid LEFT JOIN blocking_keys b ON b.model_rid = m.rid
         LEFT JOIN vocabularies v ON v.rid = b.vocabulary_rid ORDER BY m.id COLLATE BINARY`,
      ).map((row) => {
        const summary: RegistryEntrySummary = {
          ...this.metaFrom(row),
          extractorVersion: this.text(row[12] ?? null, 'extractor version', 64),
          storedBytes: this.integer(row[13] ?? null, 'fingerprint size'),
        };
        const hidden = this.optionalInteger(row[9] ?? null, 'hidden size');
        const architectureHash = this.optionalText(row[10] ?? null, 'architecture hash');
        const vocabularySize = this.optionalInteger(row[11] ?? null, 'vocabulary size');
        if (hidden !== undefined) summary.hiddenSize = hidden;
        if (architectureHash !== undefined) summary.architectureHash = architectureHash;
        if (vocabularySize !== undefined) summary.vocabularySize = vocabularySize;
        return summary;
      }),
    );
  }

  /** Ids after `after` in id order, one page at a time: iteration never holds the read lock for long. */
  private idsAfter(after: string | undefined, limit: number): string[] {
    const rows = after === undefined
      ? this.rows(`SELECT id FROM models ORDER BY id COLLATE BINARY LIMIT ?`, [limit])
      : this.rows(`SELECT id FROM models WHERE id > ? COLLATE BINARY ORDER BY id COLLATE BINARY LIMIT ?`, [after, limit]);
    return rows.map((r) => this.text(r[0] ?? null, 'model id', MAX_ID_LENGTH));
  }

  private *ids(): Iterable<string> {
    let after: string | undefined;
    for (;;) {
      const page = this.guard(() => this.idsAfter(after, ITERATION_PAGE));
      yield* page;
      if (page.length < ITERATION_PAGE) return;
      after = page[page.length - 1];
    }
  }

  *entries(): Iterable<RegistryEntry> {
    for (const id of this.ids()) {
      const entry = this.get(id);
      if (entry) yield entry;
    }
  }

  private count(sql: string, params: SqlValue[] = []): number {
    return this.integer(this.rows(sql, params)[0]?.[0] ?? null, 'count');
  }

  /** Cached until this or another connection changes the file (PRAGMA data_version): a scan asks on every call. */
  entryCount(): number {
    return this.guard(() => {
      const dataVersion = this.integer(this.rows('PRAGMA data_version')[0]?.[0] ?? null, 'data_version');
      if (this.countCache && this.countCache.dataVersion === dataVersion) return this.countCache.count;
      const count = this.count(`SELECT COUNT(*) FROM models`);
      if (!this.inWrite) this.countCache = { dataVersion, count };
      return count;
    });
  }

  stats(): RegistryStats {
    return this.guard(() => ({
      schemaVersion: this.integer(this.rows('PRAGMA user_version')[0]?.[0] ?? null, 'user_version'),
      sketchVersion: SKETCH_VERSION,
      entries: this.count(`SELECT COUNT(*) FROM models`),
      weightEntries: this.count(`SELECT COUNT(*) FROM models WHERE kind = 'weights'`),
      tokenizerEntries: this.count(`SELECT COUNT(*) FROM models WHERE kind = 'tokenizer'`),
      vocabularies: this.count(`SELECT COUNT(*) FROM vocabularies`),
      weightBands: this.count(`SELECT COUNT(*) FROM weight_bands`),
      vocabularyBands: this.count(`SELECT COUNT(*) FROM vocab_bands`),
      fileBytes: existsSync(this.location) ? statSync(this.location).size : 0,
      fingerprintBytes: this.count(`SELECT COALESCE(SUM(length(body)), 0) FROM fingerprints`),
      blocks: this.rows(`SELECT hidden_size, COUNT(*) AS n FROM blocking_keys WHERE hidden_size IS NOT NULL GROUP BY hidden_size ORDER BY 2 DESC, 1`).map((r) => ({
        hiddenSize: this.integer(r[0] ?? null, 'hidden size'),
        entries: this.integer(r[1] ?? null, 'count'),
      })),
      tokenizerFamilies: this.rows(
        `SELECT COALESCE(v.family, '(unlabelled)') AS family, COUNT(*) AS n FROM blocking_keys b JOIN vocabularies v ON v.rid = b.vocabulary_rid GROUP BY 1 ORDER BY 2 DESC, 1`,
      ).map((r) => ({ family: this.text(r[0] ?? null, 'tokenizer family'), entries: this.integer(r[1] ?? null, 'count') })),
      families: this.rows(
        `SELECT COALESCE(m.family, '(unknown)') AS family, COUNT(*) AS n, COALESCE(SUM(length(f.body)), 0) AS bytes FROM models m LEFT JOIN fingerprints f ON f.model_rid = m.rid GROUP BY 1 ORDER BY 2 DESC, 1`,
      ).map((r) => ({ family: this.text(r[0] ?? null, 'family'), entries: this.integer(r[1] ?? null, 'count'), fingerprintBytes: this.integer(r[2] ?? null, 'bytes') })),
    }));
  }

  verify(): VerifyReport {
    const problems: string[] = [];
    const note = (what: string) => {
      if (problems.length < 200) problems.push(what);
    };
    let entries = 0;
    try {
      const integrity = this.rows('PRAGMA integrity_check').map((r) => String(r[0]));
      if (integrity.join() !== 'ok') integrity.slice(0, 20).forEach((line) => note(`SQLite integrity check: ${line}`));
      let expectedWeightBands = 0;
      for (const id of this.ids()) {
        entries++;
        const problem = this.verifyEntry(id);
        if (typeof problem === 'string') note(problem);
        else expectedWeightBands += problem;
      }
      const weightBands = this.count(`SELECT COUNT(*) FROM weight_bands`);
      if (weightBands !== expectedWeightBands) note(`the weight LSH index has ${weightBands} rows, the entries' sketches give ${expectedWeightBands} (stale or missing index rows)`);
      for (const table of ['fingerprints', 'blocking_keys', 'sketches']) {
        const orphans = this.count(`SELECT COUNT(*) FROM ${table} WHERE model_rid NOT IN (SELECT rid FROM models)`);
        if (orphans) note(`${orphans} row(s) of ${table} belong to no model (a partial write)`);
      }
      const unused = this.count(`SELECT COUNT(*) FROM vocabularies WHERE rid NOT IN (SELECT vocabulary_rid FROM blocking_keys WHERE vocabulary_rid IS NOT NULL)`);
      if (unused) note(`${unused} vocabularies are used by no entry`);
      for (const [rid, minhash] of this.rows(`SELECT rid, minhash FROM vocabularies`)) {
        const keys = vocabularyBandKeys(this.minhashFrom(minhash ?? null));
        const present = this.count(`SELECT COUNT(*) FROM vocab_bands WHERE vocabulary_rid = ?`, [rid ?? null]);
        if (present !== new Set(keys).size) note(`vocabulary ${String(rid)} has ${present} LSH rows, expected ${new Set(keys).size}`);
      }
    } catch (err) {
      note(err instanceof RegistryError ? err.message : `SQLite error: ${errorText(err)}`);
    }
    return { ok: problems.length === 0, entries, problems };
  }

  /** Re-derives one entry's index rows from its fingerprint; returns a problem, or its number of weight band rows. */
  private verifyEntry(id: string): string | number {
    let entry: RegistryEntry | undefined;
    try {
      entry = this.get(id);
    } catch (err) {
      return `entry ${id}: ${errorText(err)}`;
    }
    if (!entry) return `entry ${id}: vanished while reading`;
    const fp = entry.fingerprint;
    const row = this.rows(
      `SELECT m.rid, b.hidden_size, b.architecture_hash, v.tokens_hash, s.norm, s.anchor, s.profile, m.content_id, f.extractor_version FROM models m
       LEFT JOIN blocking_keys b ON b.model_rid = m.rid LEFT JOIN vocabularies v ON v.rid = b.vocabulary_rid
       LEFT JOIN sketches s ON s.model_rid = m.rid LEFT JOIN fingerprints f ON f.model_rid = m.rid WHERE m.id = ?`,
      [id],
    )[0]!;
    const isWeights = entry.meta.kind === 'weights';
    const hidden = isWeights ? hiddenSize(fp) : undefined;
    if ((row[1] ?? null) !== (hidden ?? null)) return `entry ${id}: stored hidden size ${String(row[1])} differs from its fingerprint's ${String(hidden)}`;
    if ((row[2] ?? null) !== (fp.architecture?.hash ?? null)) return `entry ${id}: stored architecture hash differs from its fingerprint's`;
    if ((row[3] ?? null) !== (fp.tokenizer?.tokensHash ?? null)) return `entry ${id}: stored vocabulary differs from its fingerprint's tokenizer`;
    if (row[8] !== fp.extractorVersion) return `entry ${id}: stored extractor version differs from its fingerprint's`;
    if (isWeights && (row[7] ?? null) !== (contentIdOf(fp) ?? null)) return `entry ${id}: stored content id differs from its fingerprint's file hashes`;
    if (!isWeights) return 0;
    const stored = this.sketchesFrom(row.slice(4, 7));
    const expected = computeWeightSketches(fp);
    for (const kind of SKETCH_KINDS) {
      const a = stored[kind];
      const b = expected[kind];
      if (Boolean(a) !== Boolean(b) || (a && b && Buffer.compare(a, b) !== 0)) return `entry ${id}: stored ${kind} sketch differs from its fingerprint's`;
    }
    if (hidden === undefined) return 0;
    const keys = [...new Set(weightBandKeys(expected, hidden))];
    for (const key of keys) {
      if (this.rows(`SELECT 1 FROM weight_bands WHERE key = ? AND model_rid = ?`, [key, row[0] ?? null]).length === 0) return `entry ${id}: missing LSH index rows`;
    }
    return keys.length;
  }

  // ---- retrieval ------------------------------------------------------------------------------------

  retrieveWeightCandidates(query: CandidateQuery, limits: RetrievalLimits): WeightCandidate[] {
    return this.guard(() => {
      const found = new Map<number, { routes: Set<RetrievalRoute>; bandHits: number }>();
      const mark = (rid: SqlValue | undefined, route: RetrievalRoute, bandHits = 0) => {
        const key = this.integer(rid ?? null, 'model rid');
        const slot = found.get(key) ?? { routes: new Set<RetrievalRoute>(), bandHits: 0 };
        slot.routes.add(route);
        slot.bandHits = Math.max(slot.bandHits, bandHits);
        found.set(key, slot);
      };
      if (query.contentId) for (const [rid] of this.rows(`SELECT rid FROM models WHERE content_id = ? AND kind = 'weights'`, [query.contentId])) mark(rid, 'identity');
      for (const parent of query.declaredParents) for (const [rid] of this.rows(`SELECT rid FROM models WHERE id = ? AND kind = 'weights'`, [parent])) mark(rid, 'declared');
      if (query.hiddenSize !== undefined) {
        const keys = [...new Set(weightBandKeys(query.sketches, query.hiddenSize))];
        if (keys.length) {
          // Each bucket is read through the primary key (key, model_rid), at most maxRowsPerBand rows of it.
          const bucket = `SELECT model_rid FROM (SELECT model_rid FROM weight_bands WHERE key = ? ORDER BY model_rid LIMIT ?)`;
          const rows = this.rows(
            `SELECT model_rid, COUNT(*) AS hits FROM (${keys.map(() => bucket).join(' UNION ALL ')}) GROUP BY model_rid ORDER BY hits DESC, model_rid LIMIT ?`,
            [...keys.flatMap((key) => [key, limits.maxRowsPerBand]), limits.maxLshCandidates],
          );
          for (const [rid, hits] of rows) mark(rid, 'lsh', this.integer(hits ?? null, 'band hits'));
        }
        if (query.tokensHash) {
          const block = this.rows(
            `SELECT b.model_rid FROM blocking_keys b JOIN vocabularies v ON v.rid = b.vocabulary_rid JOIN models m ON m.rid = b.model_rid
             WHERE b.hidden_size = ? AND v.tokens_hash = ? AND m.kind = 'weights' LIMIT ?`,
            [query.hiddenSize, query.tokensHash, limits.maxBlockSize + 1],
          );
          if (block.length <= limits.maxBlockSize) for (const [rid] of block) mark(rid, 'block');
        }
      }
      if (found.size === 0) return [];
      const rids = [...found.keys()];
      return this.rows(
        `SELECT m.rid, m.id, b.hidden_size, s.norm, s.anchor, s.profile FROM models m LEFT JOIN blocking_keys b ON b.model_rid = m.rid
         LEFT JOIN sketches s ON s.model_rid = m.rid WHERE m.rid IN (${rids.map(() => '?').join(',')}) ORDER BY m.id COLLATE BINARY`,
        rids,
      ).map((row) => {
        const slot = found.get(this.integer(row[0] ?? null, 'model rid'))!;
        const candidate: WeightCandidate = {
          id: this.text(row[1] ?? null, 'model id', MAX_ID_LENGTH),
          sketches: this.sketchesFrom(row.slice(3, 6)),
          routes: [...slot.routes].sort(),
          bandHits: slot.bandHits,
        };
        const hidden = this.optionalInteger(row[2] ?? null, 'hidden size');
        if (hidden !== undefined) candidate.hiddenSize = hidden;
        return candidate;
      });
    });
  }

  weightWidths(ids: readonly string[]): Map<string, number> {
    return this.guard(() => {
      const out = new Map<string, number>();
      if (ids.length === 0) return out;
      // Ids are matched case-insensitively (the column is NOCASE); the answer is keyed by the ids as asked.
      const fold = (id: string) => id.replace(/[A-Z]/g, (c) => c.toLowerCase());
      const asked = new Map(ids.map((id) => [fold(id), id]));
      const rows = this.rows(
        `SELECT m.id, b.hidden_size FROM models m JOIN blocking_keys b ON b.model_rid = m.rid
         WHERE m.id IN (${ids.map(() => '?').join(',')}) AND m.kind = 'weights' AND b.hidden_size IS NOT NULL`,
        [...ids],
      );
      for (const [id, hidden] of rows) {
        const key = asked.get(fold(this.text(id ?? null, 'model id', MAX_ID_LENGTH)));
        if (key !== undefined) out.set(key, this.integer(hidden ?? null, 'hidden size'));
      }
      return out;
    });
  }

  /** One read transaction around `body` (nested calls and a writer's open transaction run it as it is). */
  readSnapshot<T>(body: () => T): T {
    if (this.inWrite || this.readDepth > 0) {
      this.readDepth++;
      try {
        return body();
      } finally {
        this.readDepth--;
      }
    }
    this.guard(() => this.db.exec('BEGIN'));
    this.readDepth++;
    try {
      return body();
    } finally {
      this.readDepth--;
      // A read transaction has nothing to keep: ending it releases the file lock.
      try {
        if (this.db.inTransaction) this.db.exec('COMMIT');
      } catch {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      }
    }
  }

  retrieveVocabularies(minhash: Uint32Array, tokensHash: string | undefined): VocabularyCandidate[] {
    return this.guard(() => {
      const rids = new Set<number>();
      if (tokensHash) for (const [rid] of this.rows(`SELECT rid FROM vocabularies WHERE tokens_hash = ?`, [tokensHash])) rids.add(this.integer(rid ?? null, 'vocabulary rid'));
      const keys = [...new Set(vocabularyBandKeys(minhash))];
      if (keys.length) {
        const rows = this.rows(
          `SELECT vocabulary_rid, COUNT(*) AS hits FROM vocab_bands WHERE key IN (${keys.map(() => '?').join(',')}) GROUP BY vocabulary_rid ORDER BY hits DESC, vocabulary_rid LIMIT ?`,
          [...keys, MAX_VOCABULARY_CANDIDATES],
        );
        for (const [rid] of rows) rids.add(this.integer(rid ?? null, 'vocabulary rid'));
      }
      const out: VocabularyCandidate[] = [];
      for (const rid of [...rids].sort((a, b) => a - b)) {
        const row = this.rows(`SELECT tokens_hash, size, family, minhash FROM vocabularies WHERE rid = ?`, [rid])[0];
        if (!row) continue;
        const candidate: VocabularyCandidate = {
          tokensHash: this.text(row[0] ?? null, 'tokens hash', 128),
          size: this.integer(row[1] ?? null, 'vocabulary size'),
          minhash: this.minhashFrom(row[3] ?? null),
          // The first entries added with this vocabulary (by index, whatever its size), listed sorted.
          entryIds: this.rows(`SELECT m.id FROM blocking_keys b JOIN models m ON m.rid = b.model_rid WHERE b.vocabulary_rid = ? ORDER BY b.model_rid LIMIT ?`, [
            rid,
            MAX_ENTRY_IDS_PER_VOCABULARY,
          ])
            .map((r) => this.text(r[0] ?? null, 'model id', MAX_ID_LENGTH))
            .sort(),
        };
        const family = this.optionalText(row[2] ?? null, 'tokenizer family');
        if (family !== undefined) candidate.family = family;
        out.push(candidate);
      }
      return out;
    });
  }

  /** Closes the file; pending (uncommitted) changes are rolled back, and a file created here with nothing committed is removed. */
  close(): void {
    if (!this.db.isOpen) return;
    for (const statement of this.statements.values()) statement.finalize();
    this.statements.clear();
    try {
      if (this.inWrite) this.db.exec('ROLLBACK');
    } finally {
      this.inWrite = false;
      this.db.close();
      if (this.createdHere && this.writable) {
        for (const leftover of [this.location, `${this.location}-journal`]) {
          try {
            unlinkSync(leftover);
          } catch {
            // Not there: nothing to clean.
          }
        }
      }
      this.lock?.release();
      this.lock = undefined;
    }
  }
}

/** The embedded backend behind the asynchronous interface, so each command is written once for both backends. */
export function asAsyncRegistry(registry: SqliteRegistry): AsyncRegistry {
  return {
    location: registry.location,
    writable: registry.writable,
    async putMany(entries) {
      const outcome: PutSummary = { added: 0, replaced: 0, unchanged: 0, byId: new Map() };
      for (const entry of entries) {
        const result = registry.upsert(entry);
        outcome[result]++;
        outcome.byId.set(entry.meta.id, result);
      }
      registry.commit();
      return outcome;
    },
    async remove(id) {
      const removed = registry.remove(id);
      registry.commit();
      return removed;
    },
    has: async (id) => registry.has(id),
    get: async (id) => registry.get(id),
    getMany: async (ids) => registry.getMany(ids),
    list: async () => registry.list(),
    async *entries() {
      yield* registry.entries();
    },
    entryCount: async () => registry.entryCount(),
    stats: async () => registry.stats(),
    verify: async () => registry.verify(),
    vacuum: async () => registry.vacuum(),
    retrieveWeightCandidates: async (query, limits) => registry.retrieveWeightCandidates(query, limits),
    retrieveVocabularies: async (minhash, tokensHash) => registry.retrieveVocabularies(minhash, tokensHash),
    weightWidths: async (ids) => registry.weightWidths(ids),
    close: async () => registry.close(),
  };
}
