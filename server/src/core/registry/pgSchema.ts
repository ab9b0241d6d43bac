// The PostgreSQL schema of an organisation's registry and its versioned migrations (recorded in
// lineage_migrations; applied under an advisory lock, so concurrent `db migrate` runs are safe).

/** Session-level advisory lock key held while migrating ("LLRG"). */
export const PG_MIGRATION_LOCK_KEY = 0x4c4c5247;

export interface PgMigration {
  version: number;
  description: string;
  statements: string[];
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: 'models with compressed fingerprints, vocabularies, LSH band tables and blocking indexes',
    statements: [
      `CREATE TABLE lineage_meta (key text PRIMARY KEY, value text NOT NULL)`,
      // One row per distinct vocabulary, shared by every model that uses it.
      `CREATE TABLE lineage_vocabularies (
        rid bigserial PRIMARY KEY,
        tokens_hash text NOT NULL UNIQUE,
        size integer NOT NULL,
        convention text NOT NULL,
        family text,
        minhash bytea NOT NULL)`,
      `CREATE TABLE lineage_vocab_bands (
        key bigint NOT NULL,
        vocabulary_rid bigint NOT NULL REFERENCES lineage_vocabularies (rid) ON DELETE CASCADE,
        PRIMARY KEY (key, vocabulary_rid))`,
      `CREATE INDEX lineage_vocab_bands_vocabulary ON lineage_vocab_bands (vocabulary_rid)`,
      // One row per entry: metadata, blocking keys, sketches and the deflated fingerprint (stored
      // out of line and not compressed again by TOAST: it is already deflated).
      `CREATE TABLE lineage_models (
        rid bigserial PRIMARY KEY,
        id text NOT NULL,
        id_key text NOT NULL UNIQUE,
        revision text,
        family text,
        declared_parents jsonb NOT NULL,
        licence text,
        source text,
        kind text NOT NULL CHECK (kind IN ('weights', 'tokenizer')),
        content_id text,
        provenance jsonb,
        extractor_version text NOT NULL,
        json_sha256 text NOT NULL,
        json_bytes integer NOT NULL,
        body bytea NOT NULL,
        architecture_hash text,
        hidden_size integer,
        vocabulary_rid bigint REFERENCES lineage_vocabularies (rid),
        norm bytea,
        anchor bytea,
        profile bytea,
        updated_at timestamptz NOT NULL DEFAULT now())`,
      `ALTER TABLE lineage_models ALTER COLUMN body SET STORAGE EXTERNAL`,
      `CREATE INDEX lineage_models_content ON lineage_models (content_id) WHERE content_id IS NOT NULL`,
      `CREATE INDEX lineage_models_block ON lineage_models (hidden_size, vocabulary_rid)`,
      `CREATE INDEX lineage_models_order ON lineage_models (id COLLATE "C")`,
      `CREATE INDEX lineage_models_vocabulary ON lineage_models (vocabulary_rid, rid)`,
      `CREATE TABLE lineage_weight_bands (
        key bigint NOT NULL,
        model_rid bigint NOT NULL REFERENCES lineage_models (rid) ON DELETE CASCADE,
        PRIMARY KEY (key, model_rid))`,
      `CREATE INDEX lineage_weight_bands_model ON lineage_weight_bands (model_rid)`,
    ],
  },
  {
    version: 2,
    // A foreign-key check per band row (40 per entry) was most of the server's cost of an import. Band
    // rows are written and deleted with their entry, in its transaction, under its id's advisory lock.
    description: 'weight band rows without a foreign key (deleted with their entry by the writer)',
    statements: [`ALTER TABLE lineage_weight_bands DROP CONSTRAINT IF EXISTS lineage_weight_bands_model_rid_fkey`],
  },
];

export const PG_CURRENT_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;
