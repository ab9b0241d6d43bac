// The Fingerprint: a versioned, plain-data, deterministic summary of a model's weights, tokenizer
// and metadata. Same bytes + same extractor version => byte-identical JSON on any machine.
import type { ArchitectureTuple } from '../model/config';
import type { DeclaredLineage } from '../model/declared';
import type { Role } from '../model/roles';

export const FINGERPRINT_SCHEMA = 'lineage-lens/fingerprint';
export const FINGERPRINT_SCHEMA_VERSION = 1;
/** Bump when extraction changes in a way that changes the output for the same bytes. */
export const EXTRACTOR_VERSION = '1.1.0';

/** Which axis of a network a tensor dimension runs along (decides the permutation null). */
export type Axis = 'residual' | 'neuron' | 'head' | 'token' | 'other';

export interface SamplingPlan {
  seed: string;
  /** Anchor tokens: the `anchorCount` vocabulary strings with the lowest hash (bottom-k). */
  anchorCount: number;
  /** Elements budget per sampled matrix; rows = clamp(floor(budget / cols), min, max). */
  rowElementBudget: number;
  minRowsPerMatrix: number;
  maxRowsPerMatrix: number;
  /** Tensors up to this many elements are digested whole; larger ones by their sampled rows. */
  fullDigestMaxElements: number;
  minhashSize: number;
}

export interface FileIdentity {
  relativePath: string;
  /** 'weights' only for the weight files this fingerprint read. */
  role: string;
  sizeBytes: number;
  /** sha256 of the file bytes when known (HF cache blob names, small files, or --hash). */
  sha256?: string;
}

export interface TensorDigest {
  name: string;
  role: Role;
  layer?: number;
  dtype: string;
  shape: number[];
  /** sha256 (hex, first 32 chars) of the decoded float32 values covered. */
  digest: string;
  coverage: 'full' | 'sampled';
}

export interface TokenizerSignal {
  model: string;
  convention: string;
  size: number;
  /** sha256 of the normalized tokens joined by '\n' in id order. */
  tokensHash: string;
  /** sha256 of the first 1,000 normalized merges (empty string when there are none). */
  mergesPrefixHash: string;
  mergeCount: number;
  /** Cumulative sha256 prefixes of the id-ordered tokens at 1,024-id boundaries (common-prefix length without the full vocabulary). */
  prefixHashes: string[];
  minhash: Uint32Array;
  specialTokens: string[];
}

/** A 1-D vector along the residual stream (norm gains and biases). */
export interface VectorSignal {
  role: Role;
  layer?: number;
  part: 'weight' | 'bias';
  dtype: string;
  values: Float32Array;
}

/** Sampled stored rows of one matrix. `rowAxis`/`colAxis` say which network axes the stored dims are. */
export interface MatrixRowsSignal {
  role: Role;
  layer?: number;
  name: string;
  rows: number;
  cols: number;
  rowAxis: Axis;
  colAxis: Axis;
  rowIndices: number[];
  dtype: string;
  values: Float32Array;
}

export interface TokenRowsSignal {
  role: 'embed' | 'lm_head';
  rows: number;
  cols: number;
  /** Normalized anchor strings, in sketch order; row i of `values` belongs to `tokens[i]`. */
  tokens: string[];
  dtype: string;
  values: Float32Array;
}

export interface LayerProfile {
  layer: number;
  role: Role;
  /** Mean squared value of the sampled rows (a Frobenius energy estimate per element). */
  meanSquare: number;
  /** Quantiles 0.1, 0.25, 0.5, 0.75, 0.9 of sampled row L2 norms. */
  rowNormQuantiles: number[];
}

export interface Fingerprint {
  schema: typeof FINGERPRINT_SCHEMA;
  schemaVersion: number;
  extractorVersion: string;
  model: {
    name: string;
    format: string;
    repoId?: string;
    commit?: string;
    parameterCount: number;
    tensorCount: number;
  };
  samplingPlan: SamplingPlan;
  files: FileIdentity[];
  declared: DeclaredLineage;
  architecture?: ArchitectureTuple & { hash: string };
  tokenizer?: TokenizerSignal;
  tensors: TensorDigest[];
  vectors: VectorSignal[];
  tokenRows: TokenRowsSignal[];
  matrices: MatrixRowsSignal[];
  profiles: LayerProfile[];
  /** Bytes of weight data read to build this fingerprint (metadata excluded). */
  bytesRead: number;
}

export const DEFAULT_SAMPLING_PLAN: SamplingPlan = {
  seed: 'lineage-lens/1',
  anchorCount: 256,
  rowElementBudget: 32768,
  minRowsPerMatrix: 4,
  maxRowsPerMatrix: 64,
  fullDigestMaxElements: 65536,
  minhashSize: 128,
};
