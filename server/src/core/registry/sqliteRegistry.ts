// The embedded registry backend: one SQLite file read through WebAssembly (sql.js, no native addon).
// The whole file is loaded into memory; changes are persisted by an atomic whole-file replace.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Database, SqlValue } from 'sql.js';
import { hiddenSize } from '../compare/pairing';
import { MAX_FINGERPRINT_JSON_BYTES, parseFingerprint, serializeFingerprint } from '../fingerprint/encoding';
import type { Fingerprint } from '../fingerprint/types';
import { acquireLock, removeStaleTempFiles, writeFileAtomic, LockedError, type FileLock } from './atomicFile';
import { RegistryError } from './errors';
import { contentIdOf, hasWeightSignals } from './keys';
import { CURRENT_SCHEMA_VERSION, EXPECTED_OBJECTS, MIGRATIONS, REGISTRY_APPLICATION_ID } from './schema';
import { computeWeightSketches, SKETCH_KINDS, SKETCH_VERSION, sketchBytes, vocabularyBandKeys, weightBandKeys, type WeightSketches } from './sketches';
import { loadSqlJs } from './sqlJs';
import type {
  CandidateQuery,
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

/** sql.js holds the whole database in WebAssembly memory (at most 4 GiB, and export() copies it once). */
export const MAX_REGISTRY_FILE_BYTES = 1536 * 1024 * 1024;
const SQLITE_MAGIC = 'SQLite format 3\0';
const MAX_ID_LENGTH = 512;
const MAX_TEXT_LENGTH = 64 * 1024;
const MAX_MINHASH_BYTES = 64 * 1024;
/** Vocabulary candidates returned per query (most shared bands first). */
const MAX_VOCABULARY_CANDIDATES = 32;
/** Entry ids listed per vocabulary candidate. */
const MAX_ENTRY_IDS_PER_VOCABULARY = 16;
const FORMAT_NAME = 'lineage-lens/registry';

export interface OpenRegistryOptions {
  /** Open for writing: takes the file's lock until close(); creates the file on commit if missing. */
  writable?: boolean;
}

/** Opens (or, writable, prepares to create) a registry file. Throws RegistryError for anything that is not a valid registry. */
export async function openSqliteRegistry(file: string, options: OpenRegistryOptions = {}): Promise<SqliteRegistry> {
  const SQL = await loadSqlJs();
  const writable = options.writable === true;
  let lock: FileLock | undefined;
  if (writable) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    lock = acquireLock(file);
    removeStaleTempFiles(file);
  }
  try {
    const bytes = readRegistryBytes(file, writable);
    let db: Database;
    try {
      db = bytes ? new SQL.Database(bytes) : new SQL.Database();
    } catch (err) {
      throw new RegistryError(file, `cannot be opened as SQLite (${errorText(err)}); run "lineage db verify" or rebuild it`);
    }
    const registry = new SqliteRegistry(file, db, writable, lock);
    registry.prepare(bytes === undefined);
    return registry;
  } catch (err) {
    lock?.release();
    throw err;
  }
}

function readRegistryBytes(file: string, mayBeMissing: boolean): Uint8Array | undefined {
  if (!existsSync(file)) {
    if (mayBeMissing) return undefined;
    throw new RegistryError(file, 'no such registry file (create one with "lineage db add <model> --db FILE")');
  }
  const size = statSync(file).size;
  if (size > MAX_REGISTRY_FILE_BYTES) throw new RegistryError(file, `is ${size} bytes, more than the ${MAX_REGISTRY_FILE_BYTES}-byte limit of the embedded backend`);
  if (size === 0) throw new RegistryError(file, 'is empty (a writer died before its first commit, or the file was truncated): delete it and add the models again');
  const bytes = new Uint8Array(readFileSync(file));
  const magic = Buffer.from(bytes.subarray(0, 16)).toString('latin1');
  if (magic !== SQLITE_MAGIC) throw new RegistryError(file, 'is not an SQLite file (bad header): it is not a Lineage Lens registry, or it is corrupt');
  return bytes;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function uint32ToBytes(values: Uint32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v, true));
  return out;
}

export class SqliteRegistry implements Registry {
  private dirty = false;

  constructor(
    readonly location: string,
    private readonly db: Database,
    readonly writable: boolean,
    private lock: FileLock | undefined,
  ) {}

  // ---- low-level access: every value read from the file is type- and size-checked ----------------

  private rows(sql: string, params: SqlValue[] = []): SqlValue[][] {
    const statement = this.db.prepare(sql);
    try {
      statement.bind(params);
      const out: SqlValue[][] = [];
      while (statement.step()) out.push(statement.get());
      return out;
    } finally {
      statement.free();
    }
  }

  private run(sql: string, params: SqlValue[] = []): void {
    this.db.run(sql, params);
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
      if (err instanceof RegistryError || err instanceof LockedError) throw err;
      throw new RegistryError(this.location, `corrupt or unreadable registry (${errorText(err)}); run "lineage db verify" for details`);
    }
  }

  // ---- opening, schema, migrations ----------------------------------------------------------------

  /** Checks that the file is ours and of a known schema; creates or migrates the schema (in memory until commit). */
  prepare(isNew: boolean): void {
    this.guard(() => {
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
      if (version < CURRENT_SCHEMA_VERSION) this.migrate(version);
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

  private migrate(fromVersion: number): void {
    this.run('BEGIN');
    try {
      for (const migration of MIGRATIONS) {
        if (migration.version <= fromVersion) continue;
        for (const statement of migration.statements) this.run(statement);
        this.run(`PRAGMA user_version = ${migration.version}`);
      }
      this.run(`PRAGMA application_id = ${REGISTRY_APPLICATION_ID}`);
      this.run(`INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?), ('sketch_version', ?)`, [FORMAT_NAME, String(SKETCH_VERSION)]);
      this.run('COMMIT');
    } catch (err) {
      this.run('ROLLBACK');
      throw err;
    }
    this.dirty = true;
  }

  // ---- writing ------------------------------------------------------------------------------------

  private requireWritable(): void {
    if (!this.writable) throw new RegistryError(this.location, 'is open read-only');
  }

  put(entry: RegistryEntry): 'added' | 'replaced' {
    this.requireWritable();
    const meta = validateMeta(entry.meta);
    const fp = entry.fingerprint;
    const json = serializeFingerprint(fp);
    const body = deflateRawSync(Buffer.from(json, 'utf8'));
    const jsonSha = createHash('sha256').update(json, 'utf8').digest('hex');
    const sketches = meta.kind === 'weights' ? computeWeightSketches(fp) : {};
    const hidden = meta.kind === 'weights' ? hiddenSize(fp) : undefined;
    return this.guard(() => {
      this.run('BEGIN');
      try {
        const replaced = this.deleteEntry(meta.id);
        const vocabularyRid = fp.tokenizer ? this.upsertVocabulary(fp, meta.tokenizerFamily) : undefined;
        this.run(
          `INSERT INTO models (id, revision, family, declared_parents, licence, source, kind, content_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [meta.id, meta.revision ?? null, meta.family ?? null, JSON.stringify(meta.declaredParents), meta.licence ?? null, meta.source ?? null, meta.kind, meta.kind === 'weights' ? contentIdOf(fp) ?? null : null],
        );
        const rid = this.integer(this.rows('SELECT last_insert_rowid()')[0]?.[0] ?? null, 'rowid');
        this.run(`INSERT INTO fingerprints (model_rid, extractor_version, json_sha256, json_bytes, body) VALUES (?, ?, ?, ?, ?)`, [rid, fp.extractorVersion, jsonSha, Buffer.byteLength(json, 'utf8'), body]);
        this.run(`INSERT INTO blocking_keys (model_rid, architecture_hash, hidden_size, vocabulary_rid) VALUES (?, ?, ?, ?)`, [rid, fp.architecture?.hash ?? null, hidden ?? null, vocabularyRid ?? null]);
        if (meta.kind === 'weights') {
          this.run(`INSERT INTO sketches (model_rid, norm, anchor, profile) VALUES (?, ?, ?, ?)`, [rid, sketches.norm ?? null, sketches.anchor ?? null, sketches.profile ?? null]);
          if (hidden !== undefined) for (const key of weightBandKeys(sketches, hidden)) this.run(`INSERT OR IGNORE INTO weight_bands (key, model_rid) VALUES (?, ?)`, [key, rid]);
        }
        this.run('COMMIT');
        this.dirty = true;
        return replaced ? 'replaced' : 'added';
      } catch (err) {
        this.run('ROLLBACK');
        throw err;
      }
    });
  }

  private upsertVocabulary(fp: Fingerprint, family: string | undefined): number {
    const t = fp.tokenizer!;
    const existing = this.rows(`SELECT rid FROM vocabularies WHERE tokens_hash = ?`, [t.tokensHash])[0];
    if (existing) {
      const rid = this.integer(existing[0] ?? null, 'vocabulary rid');
      if (family) this.run(`UPDATE vocabularies SET family = ? WHERE rid = ?`, [family, rid]);
      return rid;
    }
    this.run(`INSERT INTO vocabularies (tokens_hash, size, convention, family, minhash) VALUES (?, ?, ?, ?, ?)`, [t.tokensHash, t.size, t.convention, family ?? null, uint32ToBytes(t.minhash)]);
    const rid = this.integer(this.rows('SELECT last_insert_rowid()')[0]?.[0] ?? null, 'rowid');
    for (const key of vocabularyBandKeys(t.minhash)) this.run(`INSERT OR IGNORE INTO vocab_bands (key, vocabulary_rid) VALUES (?, ?)`, [key, rid]);
    return rid;
  }

  remove(id: string): boolean {
    this.requireWritable();
    return this.guard(() => {
      this.run('BEGIN');
      try {
        const removed = this.deleteEntry(id);
        this.run('COMMIT');
        if (removed) this.dirty = true;
        return removed;
      } catch (err) {
        this.run('ROLLBACK');
        throw err;
      }
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

  /** Persists atomically (temp file, fsync, rename). `compact` VACUUMs first: smallest file, and byte-reproducible builds. */
  commit(options: { compact?: boolean } = {}): void {
    this.requireWritable();
    this.guard(() => {
      if (options.compact) this.run('VACUUM');
      writeFileAtomic(this.location, this.db.export());
      this.dirty = false;
    });
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
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Uint32Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(i * 4, true));
  }

  has(id: string): boolean {
    return this.guard(() => this.rows(`SELECT 1 FROM models WHERE id = ?`, [id]).length > 0);
  }

  get(id: string): RegistryEntry | undefined {
    return this.guard(() => {
      const row = this.rows(
        `SELECT m.id, m.revision, m.family, m.declared_parents, m.licence, m.source, m.kind, v.family, f.json_sha256, f.body
         FROM models m LEFT JOIN fingerprints f ON f.model_rid = m.rid LEFT JOIN blocking_keys b ON b.model_rid = m.rid
         LEFT JOIN vocabularies v ON v.rid = b.vocabulary_rid WHERE m.id = ?`,
        [id],
      )[0];
      if (!row) return undefined;
      const meta = this.metaFrom(row);
      return { meta, fingerprint: this.decodeFingerprint(meta.id, row[8] ?? null, row[9] ?? null) };
    });
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
    return meta;
  }

  /** Inflates (bounded) and validates a stored fingerprint: the file is untrusted, like any model file. */
  private decodeFingerprint(id: string, shaValue: SqlValue, bodyValue: SqlValue): Fingerprint {
    if (bodyValue === null) this.fail(`entry ${id} has no fingerprint`);
    const body = this.blob(bodyValue, `fingerprint of ${id}`, MAX_FINGERPRINT_JSON_BYTES);
    let json: string;
    try {
      json = inflateRawSync(body, { maxOutputLength: MAX_FINGERPRINT_JSON_BYTES }).toString('utf8');
    } catch (err) {
      this.fail(`the fingerprint of ${id} does not decompress (${errorText(err)})`);
    }
    if (createHash('sha256').update(json, 'utf8').digest('hex') !== shaValue) this.fail(`the fingerprint of ${id} does not match its stored sha256`);
    try {
      return parseFingerprint(json, `${this.location}#${id}`);
    } catch (err) {
      this.fail(`the fingerprint of ${id} is invalid (${errorText(err)})`);
    }
  }

  list(): RegistryEntrySummary[] {
    return this.guard(() =>
      this.rows(
        `SELECT m.id, m.revision, m.family, m.declared_parents, m.licence, m.source, m.kind, v.family, b.hidden_size, b.architecture_hash, v.size, f.extractor_version, length(f.body)
         FROM models m LEFT JOIN fingerprints f ON f.model_rid = m.rid LEFT JOIN blocking_keys b ON b.model_rid = m.rid
         LEFT JOIN vocabularies v ON v.rid = b.vocabulary_rid ORDER BY m.id COLLATE BINARY`,
      ).map((row) => {
        const summary: RegistryEntrySummary = {
          ...this.metaFrom(row),
          extractorVersion: this.text(row[11] ?? null, 'extractor version', 64),
          storedBytes: this.integer(row[12] ?? null, 'fingerprint size'),
        };
        const hidden = this.optionalInteger(row[8] ?? null, 'hidden size');
        const architectureHash = this.optionalText(row[9] ?? null, 'architecture hash');
        const vocabularySize = this.optionalInteger(row[10] ?? null, 'vocabulary size');
        if (hidden !== undefined) summary.hiddenSize = hidden;
        if (architectureHash !== undefined) summary.architectureHash = architectureHash;
        if (vocabularySize !== undefined) summary.vocabularySize = vocabularySize;
        return summary;
      }),
    );
  }

  private ids(): string[] {
    return this.rows(`SELECT id FROM models ORDER BY id COLLATE BINARY`).map((r) => this.text(r[0] ?? null, 'model id', MAX_ID_LENGTH));
  }

  *entries(): Iterable<RegistryEntry> {
    for (const id of this.guard(() => this.ids())) {
      const entry = this.get(id);
      if (entry) yield entry;
    }
  }

  private count(sql: string, params: SqlValue[] = []): number {
    return this.integer(this.rows(sql, params)[0]?.[0] ?? null, 'count');
  }

  entryCount(): number {
    return this.guard(() => this.count(`SELECT COUNT(*) FROM models`));
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
      blocks: this.rows(`SELECT hidden_size, COUNT(*) FROM blocking_keys WHERE hidden_size IS NOT NULL GROUP BY hidden_size ORDER BY 2 DESC, 1`).map((r) => ({
        hiddenSize: this.integer(r[0] ?? null, 'hidden size'),
        entries: this.integer(r[1] ?? null, 'count'),
      })),
      tokenizerFamilies: this.rows(
        `SELECT COALESCE(v.family, '(unlabelled)'), COUNT(*) FROM blocking_keys b JOIN vocabularies v ON v.rid = b.vocabulary_rid GROUP BY 1 ORDER BY 2 DESC, 1`,
      ).map((r) => ({ family: this.text(r[0] ?? null, 'tokenizer family'), entries: this.integer(r[1] ?? null, 'count') })),
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
      const ids = this.ids();
      entries = ids.length;
      let expectedWeightBands = 0;
      for (const id of ids) {
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
          const rows = this.rows(
            `SELECT model_rid, COUNT(*) AS hits FROM weight_bands WHERE key IN (${keys.map(() => '?').join(',')}) GROUP BY model_rid ORDER BY hits DESC, model_rid LIMIT ?`,
            [...keys, limits.maxLshCandidates],
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
          entryIds: this.rows(`SELECT m.id FROM blocking_keys b JOIN models m ON m.rid = b.model_rid WHERE b.vocabulary_rid = ? ORDER BY m.id COLLATE BINARY LIMIT ?`, [
            rid,
            MAX_ENTRY_IDS_PER_VOCABULARY,
          ]).map((r) => this.text(r[0] ?? null, 'model id', MAX_ID_LENGTH)),
        };
        const family = this.optionalText(row[2] ?? null, 'tokenizer family');
        if (family !== undefined) candidate.family = family;
        out.push(candidate);
      }
      return out;
    });
  }

  close(): void {
    this.db.close();
    this.lock?.release();
    this.lock = undefined;
  }
}

/** Checks the user-supplied metadata of an entry (ids end up in tables, terminals and JSON). */
function validateMeta(meta: RegistryEntryMeta): RegistryEntryMeta {
  const checkText = (value: string | undefined, what: string, max: number) => {
    if (value === undefined) return;
    // eslint-disable-next-line no-control-regex
    if (value.length === 0 || value.length > max || /[\u0000-\u001f\u007f]/.test(value)) throw new RangeError(`${what} must be 1 to ${max} printable characters`);
  };
  checkText(meta.id, 'the entry id', MAX_ID_LENGTH);
  for (const [key, value] of Object.entries(meta)) if (typeof value === 'string') checkText(value, key, MAX_TEXT_LENGTH);
  meta.declaredParents.forEach((p) => checkText(p, 'a declared parent', MAX_TEXT_LENGTH));
  if (meta.kind !== 'weights' && meta.kind !== 'tokenizer') throw new RangeError(`unknown entry kind ${String(meta.kind)}`);
  return meta;
}

