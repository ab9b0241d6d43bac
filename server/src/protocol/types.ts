// Data the language server and its clients exchange: diagnostic codes, command ids, settings, and
// what the server knows per reference. Pure types and constants (core types imported as types only).
import type { Comparison, Verdict } from '../core/compare/types';

// The comparison result crosses the protocol as the engine produces it (plain data).
export type { Comparison, EvidenceRow, LayerEvidence, SideSummary, TokenizerComparison, Verdict } from '../core/compare/types';
import type { HubLookupFailureReason } from '../core/hub/hubMetadata';

/** Stable diagnostic codes; README.md "Diagnostics" documents each with an example and a fix. */
export const DiagnosticCodes = {
  unverifiedLineage: 'LL001',
  declaredBaseContradicted: 'LL002',
  unpinnedRevision: 'LL003',
  trustRemoteCode: 'LL004',
  pickleWeights: 'LL005',
  cacheIntegrity: 'LL006',
  implicitDefaultModel: 'LL007',
  lookAlikeId: 'LL008',
  notAvailableLocally: 'LL009',
  reUpload: 'LL010',
  lockDrift: 'LL011',
  policyViolation: 'LL012',
  invalidIgnore: 'LL013',
} as const;

export type DiagnosticCode = (typeof DiagnosticCodes)[keyof typeof DiagnosticCodes];

export const ALL_DIAGNOSTIC_CODES: readonly DiagnosticCode[] = Object.values(DiagnosticCodes);

/** Severity names accepted in `lineage.diagnostics.severity` and in `.lineage.yaml`; 'off' hides the code. */
export type SeveritySetting = 'error' | 'warning' | 'information' | 'hint' | 'off';

/** The product version tools report (SARIF, the CLI's BOM); tests keep it equal to package.json's. */
export const TOOL_VERSION = '0.1.0';

/** Source field of every diagnostic the server publishes. */
export const DIAGNOSTIC_SOURCE = 'lineage';

/** Client-side commands the server links to (hover links, code lenses); the client registers them. */
export const ClientCommands = {
  /** Arguments: [CompareWithArguments]. Opens the compare view for a reference. */
  compareWith: 'lineage.compareWith',
  /** Arguments: [ShowReferenceArguments]. Reveals the reference's details (hover content in a panel). */
  showReference: 'lineage.showReference',
} as const;

/** Commands the server executes (workspace/executeCommand). */
export const ServerCommands = {
  /** Drops cached analyses and analyses every open document again. */
  reanalyze: 'lineage.server.reanalyze',
} as const;

export interface CompareWithArguments {
  /** The reference as written (`org/name`, a path) plus its revision, usable as a compare target. */
  target: string;
  /** The model the server found for it (folder or cache snapshot), when it found one. */
  resolvedPath?: string;
  /** Suggested other side: the best verified match or the declared base. */
  suggestedOther?: string;
  uri: string;
  range: Range;
}

export interface ShowReferenceArguments {
  uri: string;
  range: Range;
}

// Positions and ranges are the reference finders' own (0-based LSP, UTF-16 characters).
import type { Position, Range } from '../references/types';
export type { Position, Range };

// ---------------------------------------------------------------------------------------------
// Engine results as the server reports them per reference.

// Where a reference resolved: the engine's own type (core/model/resolve.ts), plain data.
export type { Resolution, ResolutionKind } from '../core/model/resolve';
import type { Resolution } from '../core/model/resolve';

export interface FileEntry {
  relativePath: string;
  sizeBytes: number;
  role: string;
}

export interface FindingEntry {
  severity: 'critical' | 'high' | 'medium' | 'low' | 'info';
  code: string;
  file: string;
  message: string;
}

export interface IntegrityEntry {
  relativePath: string;
  blobName: string;
  status: 'ok' | 'mismatch' | 'skipped';
  actualSha256?: string;
}

/** What the server learned by opening and fingerprinting a model (no tensor data). */
export interface ModelFacts {
  contentIdentity: string;
  displayName: string;
  format: string;
  files: FileEntry[];
  weightFiles: string[];
  parameterCount?: number;
  /** `architectures` are the config's transformers classes (`LlamaForCausalLM`); empty for GGUF. */
  architecture?: { family: string; hiddenSize?: number; layers?: number; vocabSize?: number; architectures?: string[] };
  findings: FindingEntry[];
  declaredBases: Array<{ baseModel: string; source: string; relation?: string }>;
  integrity: IntegrityEntry[];
  problems: string[];
  /** Set when the model could be listed but not fingerprinted. */
  fingerprintError?: string;
  extractorVersion?: string;
  /** sha256 over the fingerprint's signals (core/fingerprint/digest.ts); what lineage.lock.json records. */
  fingerprintDigest?: string;
}

/** One known model a fingerprint was found related (or explicitly unrelated) to. */
export interface LineageMatch {
  repoId: string;
  commit?: string;
  verdict: Verdict;
  /** log10 of the lineage p-value (very negative = strong evidence), when weight tests ran. */
  log10P?: number;
  reason: string;
  /** Which source proposed this candidate. */
  source: 'registry' | 'local-cache' | 'declared' | 'workspace';
  /** The known model is the subject's parent (or its child), when the weights or a confirmed claim say which. */
  relation?: 'parent' | 'child';
}

export type DeclaredBaseStatus = 'confirmed' | 'contradicted' | 'unverifiable';

export interface DeclaredBaseCheck {
  baseModel: string;
  source: string;
  status: DeclaredBaseStatus;
  verdict?: Verdict;
  log10P?: number;
  detail: string;
  /** Refuted offline by the model's shape against a well-known base's (no weights compared). */
  byShape?: true;
}

export type LineageStatus = 'verified' | 'unverified' | 'contradicted' | 'pending' | 'not-applicable';

export interface LineageAssessment {
  status: LineageStatus;
  /** Related matches, strongest first. */
  matches: LineageMatch[];
  declared: DeclaredBaseCheck[];
  /** How many known models the fingerprint was compared with. */
  candidatesCompared: number;
  /** The closest known tokenizer vocabulary ("Llama 3"): a family hint, never weight lineage. */
  tokenizerFamily?: string;
}

/** Everything the server knows about one reference site; hover, lens and diagnostics are views of it. */
export interface ReferenceStatus {
  uri: string;
  range: Range;
  id: string;
  loader: string;
  kind: 'model' | 'dataset' | 'adapter' | 'base-model-claim';
  revision?: string;
  pinned: boolean;
  resolution: Resolution;
  model?: ModelFacts;
  /** For a `base_model` claim in a card: the model the card's folder holds, when it holds one. */
  claimant?: ModelFacts;
  lineage: LineageAssessment;
  /** What the Hub says about a model reference that is not on this machine (absent offline). */
  hub?: HubFacts;
  /** The reference loads with `trust_remote_code` (the repository's Python runs on load). */
  trustRemoteCode?: true;
  /** The commit a pin quick fix would write, when one is known (set by the server from the fields above). */
  pin?: PinCommit;
  /** A model on no disk, fingerprinted from the Hub by range reads (lineage.hub.remoteFingerprint), or why not. */
  remote?: RemoteReadFacts;
  /** What the editor shows at a glance (icon, colour, lens), decided by analysis/standing.ts from the findings. */
  standing?: ReferenceStanding;
}

/** What reading a model from the Hub cost, or why it was not read. */
export interface RemoteReadFacts {
  /** The commit the files were read at. */
  commit?: string;
  /** Body bytes received over the network for this model in this session (0 when every byte came from a cache). */
  bytesTransferred: number;
  /** HTTP requests sent for this model in this session. */
  requests: number;
  /** The inspection came from the on-disk inspection cache of an earlier session. */
  fromInspectionCache: boolean;
  /** Set when there is no remote fingerprint: off, the workspace budget spent, a failed read. */
  problem?: string;
}

/**
 * A reference at a glance. `verified` only when what was declared is what the weights show (or nothing
 * was declared and the weights are a known model of the same name); `contradicted` when a declared base
 * is refuted (by weights or by shape); `re-upload` when the weights are a model published under another
 * name; `risky` when a security finding stands; `unverified` otherwise.
 */
export type StandingStatus = 'verified' | 'contradicted' | 're-upload' | 'risky' | 'unverified' | 'pending' | 'not-applicable';

export interface ReferenceStanding {
  status: StandingStatus;
  /** One short plain-language line: why this status ("declares mistralai/Mistral-7B-v0.1, but its shape rules it out"). */
  summary: string;
}

/** Weight formats named by file extension in a Hub listing. */
export type HubWeightFormat = 'safetensors' | 'gguf' | 'onnx' | 'pytorch pickle' | 'ggml' | 'tensorflow h5' | 'flax msgpack';

/** The Hub's metadata of a repository, summarised. Every string came from the Hub: untrusted text. */
export interface HubRepoFacts {
  /** The endpoint asked (validated: no credentials, query or fragment). */
  endpoint: string;
  /** The id as the Hub spells it (a renamed repo gives its new id). */
  repoId: string;
  /** 40-hex commit `revisionAsked` points to on the Hub now. */
  commit: string;
  /** The revision looked up: the one the reference states, else 'main'. */
  revisionAsked: string;
  fileCount: number;
  /** The listing was cut off: fileCount and formats are lower bounds. */
  filesTruncated?: true;
  /** At most MAX_HUB_WEIGHT_FILES names (paths in the repository). */
  weightFiles: string[];
  /** Formats of all weight files, safest first. */
  formats: HubWeightFormat[];
  licence?: string;
  gated?: 'auto' | 'manual';
  /** The card's `base_model`: declared by the repository's author, not verified. */
  baseModels: string[];
}

/** Why there are no Hub facts: the lookup failed, or the endpoint setting is unusable. */
export type HubProblem = HubLookupFailureReason | 'invalid-endpoint';

export interface HubLookupProblem {
  /** Absent when the endpoint setting itself is the problem. */
  endpoint?: string;
  problem: HubProblem;
  /** One line naming repo, revision and endpoint; never a token. */
  detail: string;
}

/** Tell the two apart with `'problem' in facts`. */
export type HubFacts = HubRepoFacts | HubLookupProblem;

/** A Hub summary lists at most this many weight file names. */
export const MAX_HUB_WEIGHT_FILES = 20;

/** Settings under the `lineage` section. */
export interface LineageSettings {
  diagnostics: {
    /** Code -> severity override, e.g. { "LL003": "error", "LL009": "off" }. */
    severity: Partial<Record<DiagnosticCode, SeveritySetting>>;
  };
  /** Compare each model against the other models in the local Hugging Face cache. */
  localCacheCandidates: boolean;
  /** At most this many cached models are used as candidates. */
  maxLocalCandidates: number;
  /** Cache blobs larger than this are not hashed for LL006. */
  integrityMaxBytes: number;
  /** Never contact the Hub: references not on this machine stay unverified (LL009). */
  offline: boolean;
  fingerprint: {
    /** A model whose fingerprint would read more weight bytes than this is not fingerprinted. */
    maxBytesPerModel: number;
  };
  registry: {
    /** The user's registry (Add to Registry writes here); empty: `<cache folder>/registry.sqlite`. */
    path: string;
    /** Also check against the reference database shipped with the extension. */
    includeShipped: boolean;
    /**
     * An organisation's PostgreSQL registry (`postgres://user@host/db`), consulted besides the user's registry;
     * empty: LINEAGE_DB_URL, else none. Never holds a password (secret storage, PGPASSWORD or ~/.pgpass do).
     */
    url: string;
  };
  cache: {
    /** Fingerprint cache and default registry folder; empty: $LINEAGE_CACHE_DIR or ~/.cache/lineage-lens. */
    folder: string;
  };
  hub: {
    /** Base URL of the Hugging Face Hub (or a mirror) for metadata of references not on this machine. */
    endpoint: string;
    /** `auto`: fingerprint references on no disk from the Hub by range reads (trusted workspaces, online); `off`: never. */
    remoteFingerprint: 'auto' | 'off';
    /** Bytes remote fingerprints may transfer per workspace and session; once spent, references say so. */
    remoteBudgetBytes: number;
  };
}

/** A commit a pin may write, and where it comes from (cached snapshot, registry, or the Hub's moving branch). */
export type PinCommit =
  | { commit: string; origin: 'cached' | 'registry' }
  | { commit: string; origin: 'hub'; revisionAsked: string };
