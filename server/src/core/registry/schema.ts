// The SQLite schema of the registry file, versioned by PRAGMA user_version, and the migrations
// that bring an older file up to date. A file of a newer version is refused, never guessed at.

/** "LLRG" in PRAGMA application_id: marks a SQLite file as a Lineage Lens registry. */
export const REGISTRY_APPLICATION_ID = 0x4c4c5247;

export interface Migration {
  /** The user_version after this migration. */
  version: number;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
      // One row per distinct vocabulary, shared by every model that uses it: the vocabulary LSH stays
      // small even when thousands of fine-tunes share one tokenizer.
      `CREATE TABLE vocabularies (
        rid INTEGER PRIMARY KEY,
        tokens_hash TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        convention TEXT NOT NULL,
        family TEXT,
        minhash BLOB NOT NULL)`,
      `CREATE TABLE models (
        rid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE COLLATE NOCASE,
        revision TEXT,
        family TEXT,
        declared_parents TEXT NOT NULL,
        licence TEXT,
        source TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('weights', 'tokenizer')),
        content_id TEXT)`,
      `CREATE INDEX models_content ON models (content_id)`,
      `CREATE TABLE fingerprints (
        model_rid INTEGER PRIMARY KEY,
        extractor_version TEXT NOT NULL,
        json_sha256 TEXT NOT NULL,
        json_bytes INTEGER NOT NULL,
        body BLOB NOT NULL)`,
      `CREATE TABLE blocking_keys (
        model_rid INTEGER PRIMARY KEY,
        architecture_hash TEXT,
        hidden_size INTEGER,
        vocabulary_rid INTEGER)`,
      `CREATE INDEX blocking_block ON blocking_keys (hidden_size, vocabulary_rid)`,
      `CREATE TABLE sketches (
        model_rid INTEGER PRIMARY KEY,
        norm BLOB,
        anchor BLOB,
        profile BLOB)`,
      // No index on model_rid: a removal recomputes its keys from the stored sketches instead (halves the index).
      `CREATE TABLE weight_bands (key INTEGER NOT NULL, model_rid INTEGER NOT NULL, PRIMARY KEY (key, model_rid)) WITHOUT ROWID`,
      `CREATE TABLE vocab_bands (key INTEGER NOT NULL, vocabulary_rid INTEGER NOT NULL, PRIMARY KEY (key, vocabulary_rid)) WITHOUT ROWID`,
    ],
  },
  {
    version: 2,
    // Provenance of shared entries (tool, source repo and commit, LFS hashes, contributor) as JSON;
    // the entries of a vocabulary by index (a tokenizer match lists a few without scanning the table).
    statements: [`ALTER TABLE models ADD COLUMN provenance TEXT`, `CREATE INDEX blocking_vocabulary ON blocking_keys (vocabulary_rid)`],
  },
];

export const CURRENT_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Tables and indexes a valid file holds; anything else (a trigger, a view) is refused. */
export const EXPECTED_OBJECTS: ReadonlySet<string> = new Set([
  'table:meta', 'table:vocabularies', 'table:models', 'table:fingerprints', 'table:blocking_keys', 'table:sketches',
  'table:weight_bands', 'table:vocab_bands', 'index:models_content', 'index:blocking_block', 'index:blocking_vocabulary',
]);
