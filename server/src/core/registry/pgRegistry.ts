// The organisation registry backend: PostgreSQL through a connection pool (`pg`). Candidates are
// retrieved by SQL over indexed band and blocking tables, so a client never loads the table; writes
// are idempotent upserts in transactions, safe for many concurrent writers.
import { readFileSync } from 'node:fs';
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { hiddenSize } from '../compare/pairing';
import { bytesToUint32, decodeFingerprintBody, encodeEntry, MAX_ID_LENGTH, MAX_MINHASH_BYTES, parseProvenance, storedMetaMatches, type EncodedEntry } from './entryCodec';
import { RegistryError } from './errors';
import { PG_CURRENT_VERSION, PG_MIGRATION_LOCK_KEY, PG_MIGRATIONS } from './pgSchema';
import { computeWeightSketches, SKETCH_KINDS, SKETCH_VERSION, sketchBytes, vocabularyBandKeys, weightBandKeys, type WeightSketches } from './sketches';
import type {
  AsyncRegistry,
  CandidateQuery,
  PutOutcome,
  PutSummary,
  EntryKind,
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

const FORMAT_NAME = 'lineage-lens/registry';
const MAX_VOCABULARY_CANDIDATES = 32;
const MAX_ENTRY_IDS_PER_VOCABULARY = 16;
const ITERATION_PAGE = 200;
/** Transient PostgreSQL failures of concurrent writers: serialization failure, deadlock, unique race. */
const RETRYABLE_CODES = new Set(['40001', '40P01', '23505']);
const MAX_ATTEMPTS = 6;
/** How long an entry count is reused (see entryCount). */
const COUNT_TTL_MS = 10_000;

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The URL without its password, for messages and `location`: credentials never reach a terminal or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

export interface PgRegistryOptions {
  writable?: boolean;
  /** Pool size (default 4: a CLI run needs few connections; a server may want more). */
  maxConnections?: number;
  /** Run pending migrations on open (default: writers yes, readers no). */
  migrate?: boolean;
  /** Open without checking the schema (only `db migrate` does this, to create it). */
  skipSchemaCheck?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * TLS as libpq users expect: `sslmode`, `sslrootcert`, `sslcert`, `sslkey` in the URL (handled by pg),
 * else the PGSSLMODE / PGSSLROOTCERT / PGSSLCERT / PGSSLKEY environment variables.
 */
export function poolConfigFor(url: string, env: NodeJS.ProcessEnv, maxConnections: number): PoolConfig {
  const u = new URL(url);
  const fromEnv: Array<[string, string | undefined]> = [['sslmode', env.PGSSLMODE], ['sslrootcert', env.PGSSLROOTCERT], ['sslcert', env.PGSSLCERT], ['sslkey', env.PGSSLKEY]];
  for (const [param, value] of fromEnv) if (value && !u.searchParams.has(param)) u.searchParams.set(param, value);
  const config: PoolConfig = { connectionString: u.toString(), max: maxConnections, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 15_000, application_name: 'lineage-lens' };
  // pg reads the files named by sslrootcert/sslcert/sslkey itself; check them here for a clear error.
  for (const param of ['sslrootcert', 'sslcert', 'sslkey']) {
    const file = u.searchParams.get(param);
    if (file && file !== 'system') readFileSync(file);
  }
  return config;
}

export async function openPgRegistry(url: string, options: PgRegistryOptions = {}): Promise<PgRegistry> {
  const location = redactUrl(url);
  let pool: Pool;
  try {
    pool = new Pool(poolConfigFor(url, options.env ?? process.env, options.maxConnections ?? 4));
  } catch (err) {
    throw new RegistryError(location, `cannot configure the connection (${errorText(err)})`);
  }
  // An idle client's error (server restart) must not crash the process: the next query reconnects.
  pool.on('error', () => undefined);
  const registry = new PgRegistry(location, pool, options.writable === true);
  try {
    if (options.migrate ?? options.writable === true) await registry.migrate();
    if (!options.skipSchemaCheck) await registry.checkSchema();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return registry;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
}

/** The case-insensitive identity of an id (SQLite's NOCASE folds ASCII only; so does this). */
function idKey(id: string): string {
  return id.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

type Row = Record<string, unknown>;

export class PgRegistry implements AsyncRegistry {
  private countCache: { at: number; count: number } | undefined;

  constructor(
    readonly location: string,
    private readonly pool: Pool,
    readonly writable: boolean,
  ) {}

  // ---- plumbing ------------------------------------------------------------------------------------

  private fail(what: string): never {
    throw new RegistryError(this.location, `corrupt registry: ${what}; run "lineage db verify" for details`);
  }

  private async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query(sql, params)).rows as Row[];
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private wrap(err: unknown): Error {
    if (err instanceof RegistryError || err instanceof RangeError) return err;
    const code = pgCode(err);
    if (code === '42P01') return new RegistryError(this.location, 'has no Lineage Lens tables: run "lineage db migrate --db URL"');
    return new RegistryError(this.location, `PostgreSQL error${code ? ` ${code}` : ''}: ${errorText(err)}`);
  }

  /** Runs `body` in a transaction, retrying it when concurrent writers collide (deadlock, serialization, unique race). */
  private async transaction<T>(body: (client: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw this.wrap(err);
      }
      try {
        await client.query('BEGIN');
        const result = await body(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt < MAX_ATTEMPTS && RETRYABLE_CODES.has(pgCode(err) ?? '')) {
          await new Promise((resolve) => setTimeout(resolve, 10 * attempt + Math.random() * 40));
          continue;
        }
        throw this.wrap(err);
      } finally {
        client.release();
      }
    }
  }

  private requireWritable(): void {
    if (!this.writable) throw new RegistryError(this.location, 'is open read-only');
  }

  // ---- schema ----------------------------------------------------------------------------------------

  /** Applies pending migrations, one transaction each, under an advisory lock (concurrent migrators wait). */
  async migrate(): Promise<number[]> {
    const applied: number[] = [];
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.wrap(err);
    }
    try {
      await client.query('SELECT pg_advisory_lock($1)', [PG_MIGRATION_LOCK_KEY]);
      await client.query(`CREATE TABLE IF NOT EXISTS lineage_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set((await client.query('SELECT version FROM lineage_migrations')).rows.map((r: Row) => Number(r.version)));
      const newest = Math.max(0, ...done);
      if (newest > PG_CURRENT_VERSION) throw new RegistryError(this.location, `has schema version ${newest}, newer than this Lineage Lens understands (${PG_CURRENT_VERSION}): upgrade Lineage Lens`);
      for (const migration of PG_MIGRATIONS) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          for (const statement of migration.statements) await client.query(statement);
          await client.query('INSERT INTO lineage_migrations (version, description) VALUES ($1, $2)', [migration.version, migration.description]);
          await client.query(`INSERT INTO lineage_meta (key, value) VALUES ('format', $1), ('sketch_version', $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [FORMAT_NAME, String(SKETCH_VERSION)]);
          await client.query('COMMIT');
          applied.push(migration.version);
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
      return applied;
    } catch (err) {
      throw this.wrap(err);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATION_LOCK_KEY]).catch(() => undefined);
      client.release();
    }
  }

  async schemaVersion(): Promise<number> {
    const rows = await this.query(`SELECT COALESCE(MAX(version), 0) AS v FROM lineage_migrations`).catch((err: unknown) => {
      if (err instanceof RegistryError && /no Lineage Lens tables/.test(err.message)) return [{ v: 0 }];
      throw err;
    });
    return Number(rows[0]?.v ?? 0);
  }

  /** The database is ours, at a schema this version understands, with the same sketches. */
  async checkSchema(): Promise<void> {
    const version = await this.schemaVersion();
    if (version === 0) throw new RegistryError(this.location, 'has no Lineage Lens tables: run "lineage db migrate --db URL"');
    if (version > PG_CURRENT_VERSION) throw new RegistryError(this.location, `has schema version ${version}, newer than this Lineage Lens understands (${PG_CURRENT_VERSION}): upgrade Lineage Lens`);
    if (version < PG_CURRENT_VERSION) throw new RegistryError(this.location, `has schema version ${version}, this Lineage Lens needs ${PG_CURRENT_VERSION}: run "lineage db migrate --db URL"`);
    const meta = await this.query(`SELECT key, value FROM lineage_meta`);
    const sketch = meta.find((r) => r.key === 'sketch_version')?.value;
    if (sketch !== String(SKETCH_VERSION)) throw new RegistryError(this.location, `stores weight sketches of version ${String(sketch)}, this Lineage Lens computes version ${SKETCH_VERSION}: re-create it with "lineage db export" and "lineage db import"`);
  }

  // ---- writing ---------------------------------------------------------------------------------------

  async put(entry: RegistryEntry): Promise<PutOutcome> {
    const outcome = await this.putMany([entry]);
    return outcome.byId.get(entry.meta.id) ?? 'unchanged';
  }

  /**
   * One transaction for the batch: all entries or none. Writers of the same id are serialised by
   * transaction-scoped advisory locks, taken in id order in one statement (no lock-order deadlocks
   * between batches). The batch is written with a handful of set-based statements (array parameters
   * unnested server-side), not a round trip per entry.
   */
  async putMany(entries: RegistryEntry[]): Promise<PutSummary> {
    this.requireWritable();
    const byKey = new Map<string, EncodedEntry>();
    for (const entry of entries) {
      const encoded = encodeEntry(entry);
      byKey.set(idKey(encoded.meta.id), encoded); // the last of duplicate ids in one batch wins, as with put()
    }
    const sorted = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    try {
      return await this.transaction((client) => this.upsertBatch(client, sorted));
    } finally {
      this.countCache = undefined;
    }
  }

  private async upsertBatch(client: PoolClient, sorted: Array<[string, EncodedEntry]>): Promise<PutSummary> {
    const outcome: PutSummary = { added: 0, replaced: 0, unchanged: 0, byId: new Map() };
    if (sorted.length === 0) return outcome;
    const keys = sorted.map(([key]) => key);
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM (SELECT unnest($1::text[]) AS k ORDER BY 1) AS ordered`, [keys]);
    const existing = new Map<string, Row>();
    for (const row of (await client.query(`SELECT m.rid, m.id_key, m.json_sha256, ${META_COLUMNS} FROM lineage_models m LEFT JOIN lineage_vocabularies v ON v.rid = m.vocabulary_rid WHERE m.id_key = ANY($1::text[])`, [keys])).rows as Row[]) {
      existing.set(String(row.id_key), row);
    }
    const toWrite: Array<[string, EncodedEntry]> = [];
    const replacedRids: string[] = [];
    for (const [key, e] of sorted) {
      const old = existing.get(key);
      if (old && old.json_sha256 === e.jsonSha256 && storedMetaMatches(this.metaFrom(old), e.meta)) {
        outcome.unchanged++;
        outcome.byId.set(e.meta.id, 'unchanged');
        continue;
      }
      if (old) replacedRids.push(String(old.rid));
      toWrite.push([key, e]);
    }
    if (replacedRids.length) await this.deleteModels(client, replacedRids);
    const vocabularyRids = await this.upsertVocabularies(client, toWrite.map(([, e]) => e));
    if (toWrite.length) {
      const column = <T>(pick: (e: EncodedEntry, key: string) => T) => toWrite.map(([key, e]) => pick(e, key));
      const inserted = (
        await client.query(
          `INSERT INTO lineage_models (id, id_key, revision, family, declared_parents, licence, source, kind, content_id, provenance, extractor_version, json_sha256, json_bytes, body,
             architecture_hash, hidden_size, vocabulary_rid, norm, anchor, profile)
           SELECT id, id_key, revision, family, declared_parents::jsonb, licence, source, kind, content_id, provenance::jsonb, extractor_version, json_sha256, json_bytes, body,
             architecture_hash, hidden_size, vocabulary_rid, norm, anchor, profile
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::bytea[],
             $15::text[], $16::int[], $17::bigint[], $18::bytea[], $19::bytea[], $20::bytea[])
             AS t (id, id_key, revision, family, declared_parents, licence, source, kind, content_id, provenance, extractor_version, json_sha256, json_bytes, body,
               architecture_hash, hidden_size, vocabulary_rid, norm, anchor, profile)
           RETURNING rid, id_key`,
          [
            column((e) => e.meta.id), column((_e, key) => key), column((e) => e.meta.revision ?? null), column((e) => e.meta.family ?? null),
            column((e) => JSON.stringify(e.meta.declaredParents)), column((e) => e.meta.licence ?? null), column((e) => e.meta.source ?? null), column((e) => e.meta.kind),
            column((e) => e.contentId ?? null), column((e) => e.provenanceJson ?? null), column((e) => e.extractorVersion), column((e) => e.jsonSha256), column((e) => e.jsonBytes),
            column((e) => e.body), column((e) => e.architectureHash ?? null), column((e) => e.hiddenSize ?? null),
            column((e) => (e.vocabulary ? vocabularyRids.get(e.vocabulary.tokensHash) ?? null : null)),
            column((e) => sketchParam(e.sketches.norm)), column((e) => sketchParam(e.sketches.anchor)), column((e) => sketchParam(e.sketches.profile)),
          ],
        )
      ).rows as Row[];
      const ridByKey = new Map(inserted.map((r) => [String(r.id_key), String(r.rid)]));
      const bandKeys: string[] = [];
      const bandRids: string[] = [];
      for (const [key, e] of toWrite) {
        const rid = ridByKey.get(key);
        if (rid === undefined) throw new RegistryError(this.location, `the insert of ${e.meta.id} returned no row`);
        for (const band of e.weightBandKeys) {
          bandKeys.push(String(band));
          bandRids.push(rid);
        }
        const result = existing.has(key) ? 'replaced' : 'added';
        outcome[result]++;
        outcome.byId.set(e.meta.id, result);
      }
      if (bandKeys.length) await client.query(`INSERT INTO lineage_weight_bands (key, model_rid) SELECT * FROM unnest($1::bigint[], $2::bigint[])`, [bandKeys, bandRids]);
    }
    return outcome;
  }

  /** Deletes entries with their band rows (no foreign key cascades them: see migration 2). */
  private async deleteModels(client: PoolClient, rids: string[]): Promise<void> {
    await client.query(`DELETE FROM lineage_weight_bands WHERE model_rid = ANY($1::bigint[])`, [rids]);
    await client.query(`DELETE FROM lineage_models WHERE rid = ANY($1::bigint[])`, [rids]);
  }

  /** The rid of every vocabulary the entries use, inserting new ones (with their LSH rows); labels a vocabulary with a family when given. */
  private async upsertVocabularies(client: PoolClient, entries: EncodedEntry[]): Promise<Map<string, string>> {
    const distinct = new Map<string, { v: NonNullable<EncodedEntry['vocabulary']>; family?: string }>();
    for (const e of entries) {
      if (!e.vocabulary) continue;
      const slot = distinct.get(e.vocabulary.tokensHash) ?? { v: e.vocabulary };
      if (e.meta.tokenizerFamily) slot.family = e.meta.tokenizerFamily; // the last label in the batch wins, as entry by entry
      distinct.set(e.vocabulary.tokensHash, slot);
    }
    const rids = new Map<string, string>();
    if (distinct.size === 0) return rids;
    const hashes = [...distinct.keys()].sort();
    for (const row of (await client.query(`SELECT rid, tokens_hash FROM lineage_vocabularies WHERE tokens_hash = ANY($1::text[])`, [hashes])).rows as Row[]) rids.set(String(row.tokens_hash), String(row.rid));
    for (const hash of hashes) {
      const { v, family } = distinct.get(hash)!;
      const known = rids.get(hash);
      if (known !== undefined) {
        if (family) await client.query(`UPDATE lineage_vocabularies SET family = $1 WHERE rid = $2 AND family IS DISTINCT FROM $1`, [family, known]);
        continue;
      }
      // A concurrent writer may insert the same vocabulary first: then its row is used.
      const inserted = await client.query(
        `INSERT INTO lineage_vocabularies (tokens_hash, size, convention, family, minhash) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tokens_hash) DO NOTHING RETURNING rid`,
        [v.tokensHash, v.size, v.convention, family ?? null, Buffer.from(v.minhash)],
      );
      if (inserted.rows[0]) {
        const rid = String((inserted.rows[0] as Row).rid);
        await client.query(`INSERT INTO lineage_vocab_bands (key, vocabulary_rid) SELECT unnest($1::bigint[]), $2 ON CONFLICT DO NOTHING`, [v.bandKeys.map(String), rid]);
        rids.set(hash, rid);
      } else {
        const rid = String(((await client.query(`SELECT rid FROM lineage_vocabularies WHERE tokens_hash = $1`, [hash])).rows[0] as Row).rid);
        if (family) await client.query(`UPDATE lineage_vocabularies SET family = $1 WHERE rid = $2 AND family IS DISTINCT FROM $1`, [family, rid]);
        rids.set(hash, rid);
      }
    }
    return rids;
  }

  async remove(id: string): Promise<boolean> {
    this.requireWritable();
    try {
      return await this.transaction(async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [idKey(id)]);
        const rids = ((await client.query(`SELECT rid FROM lineage_models WHERE id_key = $1`, [idKey(id)])).rows as Row[]).map((r) => String(r.rid));
        if (rids.length) await this.deleteModels(client, rids);
        return rids.length > 0;
      });
    } finally {
      this.countCache = undefined;
    }
  }

  /** Drops vocabularies no entry uses any more, then VACUUM ANALYZE (outside any transaction). */
  async vacuum(): Promise<void> {
    this.requireWritable();
    await this.query(`DELETE FROM lineage_vocabularies v WHERE NOT EXISTS (SELECT 1 FROM lineage_models m WHERE m.vocabulary_rid = v.rid)`).catch((err: unknown) => {
      // A writer started using one of them meanwhile: leave it for the next vacuum.
      if (!(err instanceof RegistryError && /23503/.test(err.message))) throw err;
    });
    for (const table of ['lineage_models', 'lineage_weight_bands', 'lineage_vocabularies', 'lineage_vocab_bands']) await this.query(`VACUUM ANALYZE ${table}`);
  }

  // ---- reading ---------------------------------------------------------------------------------------

  private text(value: unknown, what: string, max = 64 * 1024): string {
    if (typeof value !== 'string' || value.length > max) this.fail(`${what} is not text of at most ${max} characters`);
    return value;
  }

  private optionalText(value: unknown, what: string): string | undefined {
    return value === null || value === undefined ? undefined : this.text(value, what);
  }

  private integer(value: unknown, what: string): number {
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) this.fail(`${what} is not an integer`);
    return n;
  }

  private sketchesFrom(row: Row): WeightSketches {
    const out: WeightSketches = {};
    for (const kind of SKETCH_KINDS) {
      const v = row[kind];
      if (v === null || v === undefined) continue;
      if (!(v instanceof Uint8Array) || v.length !== sketchBytes(kind)) this.fail(`a ${kind} sketch is not ${sketchBytes(kind)} bytes`);
      out[kind] = new Uint8Array(v);
    }
    return out;
  }

  private metaFrom(row: Row): RegistryEntryMeta {
    const id = this.text(row.id, 'model id', MAX_ID_LENGTH);
    const parents = row.declared_parents;
    if (!Array.isArray(parents) || !parents.every((p) => typeof p === 'string')) this.fail(`declared parents of ${id} are not a list of strings`);
    const kind = row.kind;
    if (kind !== 'weights' && kind !== 'tokenizer') this.fail(`entry ${id} has kind ${String(kind)}`);
    const meta: RegistryEntryMeta = { id, declaredParents: parents as string[], kind: kind as EntryKind };
    for (const [key, column] of [['revision', 'revision'], ['family', 'family'], ['licence', 'licence'], ['source', 'source'], ['tokenizerFamily', 'tokenizer_family']] as const) {
      const text = this.optionalText(row[column], `${key} of ${id}`);
      if (text !== undefined) meta[key] = text;
    }
    if (row.provenance !== null && row.provenance !== undefined) {
      try {
        meta.provenance = parseProvenance(row.provenance);
      } catch (err) {
        this.fail(`provenance of ${id} is invalid (${errorText(err)})`);
      }
    }
    return meta;
  }

  async has(id: string): Promise<boolean> {
    return (await this.query(`SELECT 1 FROM lineage_models WHERE id_key = $1`, [idKey(id)])).length > 0;
  }

  async get(id: string): Promise<RegistryEntry | undefined> {
    const row = (await this.query(`SELECT ${META_COLUMNS}, m.json_sha256, m.body FROM lineage_models m LEFT JOIN lineage_vocabularies v ON v.rid = m.vocabulary_rid WHERE m.id_key = $1`, [idKey(id)]))[0];
    if (!row) return undefined;
    const meta = this.metaFrom(row);
    return { meta, fingerprint: decodeFingerprintBody(this.location, meta.id, row.json_sha256, row.body) };
  }

  async getMany(ids: readonly string[]): Promise<Map<string, RegistryEntry>> {
    const out = new Map<string, RegistryEntry>();
    if (ids.length === 0) return out;
    const asked = new Map(ids.map((id) => [idKey(id), id]));
    const rows = await this.query(
      `SELECT m.id_key, ${META_COLUMNS}, m.json_sha256, m.body FROM lineage_models m LEFT JOIN lineage_vocabularies v ON v.rid = m.vocabulary_rid WHERE m.id_key = ANY($1::text[])`,
      [[...asked.keys()]],
    );
    for (const row of rows) {
      const id = asked.get(this.text(row.id_key, 'model id', MAX_ID_LENGTH));
      if (id === undefined) continue;
      const meta = this.metaFrom(row);
      out.set(id, { meta, fingerprint: decodeFingerprintBody(this.location, meta.id, row.json_sha256, row.body) });
    }
    return out;
  }

  async list(): Promise<RegistryEntrySummary[]> {
    const rows = await this.query(
      `SELECT ${META_COLUMNS}, m.hidden_size, m.architecture_hash, v.size AS vocabulary_size, m.extractor_version, octet_length(m.body) AS stored_bytes
       FROM lineage_models m LEFT JOIN lineage_vocabularies v ON v.rid = m.vocabulary_rid ORDER BY m.id COLLATE "C"`,
    );
    return rows.map((row) => {
      const summary: RegistryEntrySummary = { ...this.metaFrom(row), extractorVersion: this.text(row.extractor_version, 'extractor version', 64), storedBytes: this.integer(row.stored_bytes, 'fingerprint size') };
      if (row.hidden_size !== null) summary.hiddenSize = this.integer(row.hidden_size, 'hidden size');
      if (row.architecture_hash !== null) summary.architectureHash = this.text(row.architecture_hash, 'architecture hash');
      if (row.vocabulary_size !== null) summary.vocabularySize = this.integer(row.vocabulary_size, 'vocabulary size');
      return summary;
    });
  }

  /** Keyset pages in id order: a million entries stream with bounded memory. */
  async *entries(): AsyncIterable<RegistryEntry> {
    let after: string | undefined;
    for (;;) {
      const rows = await this.query(
        `SELECT ${META_COLUMNS}, m.json_sha256, m.body FROM lineage_models m LEFT JOIN lineage_vocabularies v ON v.rid = m.vocabulary_rid
         WHERE $1::text IS NULL OR m.id COLLATE "C" > $1 ORDER BY m.id COLLATE "C" LIMIT $2`,
        [after ?? null, ITERATION_PAGE],
      );
      for (const row of rows) {
        const meta = this.metaFrom(row);
        yield { meta, fingerprint: decodeFingerprintBody(this.location, meta.id, row.json_sha256, row.body) };
      }
      if (rows.length < ITERATION_PAGE) return;
      after = this.text(rows[rows.length - 1]!.id, 'model id', MAX_ID_LENGTH);
    }
  }

  /**
   * Exact, but remembered for COUNT_TTL_MS: a scan reports the count every time, and counting a
   * million rows takes a PostgreSQL backend 100 ms or more. This client's own writes forget it at once;
   * other writers' show within COUNT_TTL_MS.
   */
  async entryCount(): Promise<number> {
    if (this.countCache && Date.now() - this.countCache.at < COUNT_TTL_MS) return this.countCache.count;
    const count = this.integer((await this.query(`SELECT COUNT(*) AS n FROM lineage_models`))[0]?.n, 'count');
    this.countCache = { at: Date.now(), count };
    return count;
  }

  async stats(): Promise<RegistryStats> {
    const counts = (
      await this.query(`SELECT
        (SELECT COUNT(*) FROM lineage_models) AS entries,
        (SELECT COUNT(*) FROM lineage_models WHERE kind = 'weights') AS weights,
        (SELECT COUNT(*) FROM lineage_vocabularies) AS vocabularies,
        (SELECT COUNT(*) FROM lineage_weight_bands) AS weight_bands,
        (SELECT COUNT(*) FROM lineage_vocab_bands) AS vocab_bands,
        (SELECT COALESCE(SUM(octet_length(body)), 0) FROM lineage_models) AS fingerprint_bytes,
        (SELECT COALESCE(SUM(pg_total_relation_size(c)), 0) FROM unnest(ARRAY['lineage_models', 'lineage_weight_bands', 'lineage_vocabularies', 'lineage_vocab_bands', 'lineage_meta', 'lineage_migrations']::regclass[]) AS c) AS table_bytes`)
    )[0]!;
    const entries = this.integer(counts.entries, 'count');
    const weightEntries = this.integer(counts.weights, 'count');
    return {
      schemaVersion: await this.schemaVersion(),
      sketchVersion: SKETCH_VERSION,
      entries,
      weightEntries,
      tokenizerEntries: entries - weightEntries,
      vocabularies: this.integer(counts.vocabularies, 'count'),
      weightBands: this.integer(counts.weight_bands, 'count'),
      vocabularyBands: this.integer(counts.vocab_bands, 'count'),
      fileBytes: this.integer(counts.table_bytes, 'size'),
      fingerprintBytes: this.integer(counts.fingerprint_bytes, 'size'),
      blocks: (await this.query(`SELECT hidden_size, COUNT(*) AS n FROM lineage_models WHERE hidden_size IS NOT NULL GROUP BY hidden_size ORDER BY 2 DESC, 1`)).map((r) => ({
        hiddenSize: this.integer(r.hidden_size, 'hidden size'),
        entries: this.integer(r.n, 'count'),
      })),
      tokenizerFamilies: (
        await this.query(`SELECT COALESCE(v.family, '(unlabelled)') AS family, COUNT(*) AS n FROM lineage_models m JOIN lineage_vocabularies v ON v.rid = m.vocabulary_rid GROUP BY 1 ORDER BY 2 DESC, 1`)
      ).map((r) => ({ family: this.text(r.family, 'tokenizer family'), entries: this.integer(r.n, 'count') })),
      families: (
        await this.query(`SELECT COALESCE(family, '(unknown)') AS family, COUNT(*) AS n, COALESCE(SUM(octet_length(body)), 0) AS bytes FROM lineage_models GROUP BY 1 ORDER BY 2 DESC, 1`)
      ).map((r) => ({ family: this.text(r.family, 'family'), entries: this.integer(r.n, 'count'), fingerprintBytes: this.integer(r.bytes, 'bytes') })),
    };
  }

  /** Every entry decodes and matches its sha256, and its index rows are the ones its fingerprint gives. */
  async verify(): Promise<VerifyReport> {
    const problems: string[] = [];
    const note = (what: string) => {
      if (problems.length < 200) problems.push(what);
    };
    let entries = 0;
    try {
      await this.checkSchema();
      let after: string | undefined;
      for (;;) {
        const rows = await this.query(
          `SELECT m.rid, m.id, m.kind, m.json_sha256, m.body, m.hidden_size, m.norm, m.anchor, m.profile,
             (SELECT array_agg(b.key ORDER BY b.key) FROM lineage_weight_bands b WHERE b.model_rid = m.rid) AS band_keys
           FROM lineage_models m WHERE $1::text IS NULL OR m.id COLLATE "C" > $1 ORDER BY m.id COLLATE "C" LIMIT $2`,
          [after ?? null, ITERATION_PAGE],
        );
        for (const row of rows) {
          entries++;
          const id = String(row.id);
          try {
            const fp = decodeFingerprintBody(this.location, id, row.json_sha256, row.body);
            if (row.kind !== 'weights') continue;
            const expected = computeWeightSketches(fp);
            const stored = this.sketchesFrom(row);
            for (const kind of SKETCH_KINDS) {
              const a = stored[kind];
              const b = expected[kind];
              if (Boolean(a) !== Boolean(b) || (a && b && Buffer.compare(a, b) !== 0)) note(`entry ${id}: stored ${kind} sketch differs from its fingerprint's`);
            }
            const hidden = hiddenSize(fp);
            if ((row.hidden_size ?? undefined) !== hidden) note(`entry ${id}: stored hidden size differs from its fingerprint's`);
            const keys = hidden === undefined ? [] : [...new Set(weightBandKeys(expected, hidden))].sort((x, y) => x - y);
            const storedKeys = ((row.band_keys as string[] | null) ?? []).map(Number);
            if (keys.join() !== storedKeys.join()) note(`entry ${id}: ${storedKeys.length} LSH index rows stored, its sketches give ${keys.length}`);
          } catch (err) {
            note(`entry ${id}: ${errorText(err)}`);
          }
        }
        if (rows.length < ITERATION_PAGE) break;
        after = String(rows[rows.length - 1]!.id);
      }
      const orphans = this.integer((await this.query(`SELECT COUNT(*) AS n FROM lineage_weight_bands b WHERE NOT EXISTS (SELECT 1 FROM lineage_models m WHERE m.rid = b.model_rid)`))[0]?.n, 'count');
      if (orphans) note(`${orphans} LSH index row(s) belong to no entry (a writer that did not delete them)`);
    } catch (err) {
      note(errorText(err));
    }
    return { ok: problems.length === 0, entries, problems };
  }

  // ---- retrieval: one round trip each ---------------------------------------------------------------

  async retrieveWeightCandidates(query: CandidateQuery, limits: RetrievalLimits): Promise<WeightCandidate[]> {
    const keys = query.hiddenSize !== undefined ? [...new Set(weightBandKeys(query.sketches, query.hiddenSize))] : [];
    const rows = await this.query(
      `WITH c AS (
         SELECT rid AS model_rid, 'identity' AS route, 0 AS hits FROM lineage_models WHERE $1::text IS NOT NULL AND content_id = $1 AND kind = 'weights'
         UNION ALL
         SELECT rid, 'declared', 0 FROM lineage_models WHERE id_key = ANY($2::text[]) AND kind = 'weights'
         UNION ALL
         (SELECT b.model_rid, 'lsh', COUNT(*)::int FROM unnest($3::bigint[]) AS k (key)
           CROSS JOIN LATERAL (SELECT model_rid FROM lineage_weight_bands w WHERE w.key = k.key ORDER BY model_rid LIMIT $8) AS b
           GROUP BY b.model_rid ORDER BY 3 DESC, 1 LIMIT $4)
         UNION ALL
         (SELECT m.rid, 'block', 0 FROM lineage_models m JOIN lineage_vocabularies v ON v.rid = m.vocabulary_rid
           WHERE $5::int IS NOT NULL AND m.hidden_size = $5 AND v.tokens_hash = $6 AND m.kind = 'weights' LIMIT $7))
       SELECT c.model_rid, c.route, c.hits, m.id, m.hidden_size, m.norm, m.anchor, m.profile FROM c JOIN lineage_models m ON m.rid = c.model_rid`,
      [
        query.contentId ?? null,
        query.declaredParents.map(idKey),
        keys.map(String),
        limits.maxLshCandidates,
        query.hiddenSize ?? null,
        query.tokensHash ?? null,
        limits.maxBlockSize + 1,
        limits.maxRowsPerBand,
      ],
    );
    // A block larger than the limit is not taken whole (its members still come through LSH).
    const blockTooLarge = rows.filter((r) => r.route === 'block').length > limits.maxBlockSize;
    const found = new Map<string, { row: Row; routes: Set<RetrievalRoute>; bandHits: number }>();
    for (const row of rows) {
      const route = row.route as RetrievalRoute;
      if (route === 'block' && blockTooLarge) continue;
      const key = String(row.model_rid);
      const slot = found.get(key) ?? { row, routes: new Set<RetrievalRoute>(), bandHits: 0 };
      slot.routes.add(route);
      slot.bandHits = Math.max(slot.bandHits, this.integer(row.hits, 'band hits'));
      found.set(key, slot);
    }
    return [...found.values()]
      .map(({ row, routes, bandHits }) => {
        const candidate: WeightCandidate = { id: this.text(row.id, 'model id', MAX_ID_LENGTH), sketches: this.sketchesFrom(row), routes: [...routes].sort(), bandHits };
        if (row.hidden_size !== null) candidate.hiddenSize = this.integer(row.hidden_size, 'hidden size');
        return candidate;
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async weightWidths(ids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (ids.length === 0) return out;
    const asked = new Map(ids.map((id) => [idKey(id), id]));
    const rows = await this.query(`SELECT id_key, hidden_size FROM lineage_models WHERE id_key = ANY($1::text[]) AND kind = 'weights' AND hidden_size IS NOT NULL`, [[...asked.keys()]]);
    for (const row of rows) {
      const id = asked.get(this.text(row.id_key, 'model id', MAX_ID_LENGTH));
      if (id !== undefined) out.set(id, this.integer(row.hidden_size, 'hidden size'));
    }
    return out;
  }

  async retrieveVocabularies(minhash: Uint32Array, tokensHash: string | undefined): Promise<VocabularyCandidate[]> {
    const keys = [...new Set(vocabularyBandKeys(minhash))];
    const rows = await this.query(
      `WITH c AS (
         SELECT rid AS vocabulary_rid FROM lineage_vocabularies WHERE $1::text IS NOT NULL AND tokens_hash = $1
         UNION
         (SELECT vocabulary_rid FROM lineage_vocab_bands WHERE key = ANY($2::bigint[]) GROUP BY vocabulary_rid ORDER BY COUNT(*) DESC, 1 LIMIT $3))
       SELECT v.rid, v.tokens_hash, v.size, v.family, v.minhash,
         ARRAY(SELECT m.id FROM lineage_models m WHERE m.vocabulary_rid = v.rid ORDER BY m.rid LIMIT $4) AS entry_ids
       FROM c JOIN lineage_vocabularies v ON v.rid = c.vocabulary_rid ORDER BY v.rid`,
      [tokensHash ?? null, keys.map(String), MAX_VOCABULARY_CANDIDATES, MAX_ENTRY_IDS_PER_VOCABULARY],
    );
    return rows.map((row) => {
      const bytes = row.minhash;
      if (!(bytes instanceof Uint8Array) || bytes.length > MAX_MINHASH_BYTES || bytes.length % 4 !== 0) this.fail('a vocabulary minhash is not a whole number of 32-bit values');
      const candidate: VocabularyCandidate = {
        tokensHash: this.text(row.tokens_hash, 'tokens hash', 128),
        size: this.integer(row.size, 'vocabulary size'),
        minhash: bytesToUint32(bytes as Uint8Array),
        // The first entries added with this vocabulary (by index), listed sorted, as in the SQLite backend.
        entryIds: ((row.entry_ids as unknown[]) ?? []).map((id) => this.text(id, 'model id', MAX_ID_LENGTH)).sort(),
      };
      const family = this.optionalText(row.family, 'tokenizer family');
      if (family !== undefined) candidate.family = family;
      return candidate;
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

const META_COLUMNS = `m.id, m.revision, m.family, m.declared_parents, m.licence, m.source, m.kind, v.family AS tokenizer_family, m.provenance`;

function sketchParam(code: Uint8Array | undefined): Buffer | null {
  return code ? Buffer.from(code) : null;
}
