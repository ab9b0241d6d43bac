// Plain-data results of comparing two models: a verdict, its one-line reason and the evidence
// behind it. The same document feeds the CLI, the language server and the compare webview.

export type Verdict = 'identical' | 'same-weights' | 'quantized' | 'derived' | 'merge' | 'same-family' | 'unrelated' | 'inconclusive';

export const RELATED_VERDICTS: ReadonlySet<Verdict> = new Set<Verdict>(['identical', 'same-weights', 'quantized', 'derived', 'merge']);

/** Strongest first, as PAIRS.md orders them. */
export const VERDICT_STRENGTH: Readonly<Record<Verdict, number>> = {
  identical: 7, 'same-weights': 6, quantized: 5, derived: 4, merge: 3, 'same-family': 2, unrelated: 1, inconclusive: 0,
};

export type EvidenceOutcome = 'lineage' | 'no-evidence' | 'not-run' | 'info';

export interface EvidenceRow {
  /** What was compared: "file hashes", "norm gains + token rows + matrix rows", "tokenizer", ... */
  signal: string;
  /** The test and its null, e.g. "residual-channel permutation null (Hoeffding), 1,234 rows x 64 channels". */
  test: string;
  outcome: EvidenceOutcome;
  /** log10 of a certified upper bound on the p-value under the stated null (very negative = strong lineage evidence). */
  log10P?: number;
  /** log10 of the smallest p-value the test can certify (1/n! for a permutation of n units, 2^-k for k signs). */
  floorLog10P?: number;
  z?: number;
  /** The observed statistic beside its p-value ("T = 41.2 over 64 rows, z = 7.3"). */
  statistic?: string;
  detail: string;
}

export interface LayerEvidence {
  layerA: number;
  layerB: number;
  /** log10 p of the per-layer residual-axis test (index-aligned rows of this layer only). */
  log10P: number;
  z: number;
  rows: number;
}

export interface TokenizerComparison {
  relation: string;
  sizeA: number;
  sizeB: number;
  jaccard: number;
  containmentAinB: number;
  containmentBinA: number;
  /** Length of the identical id prefix (exact when both vocabularies were read, else a 1,024-id lower bound). */
  commonPrefix: number;
  /** True when computed from both full vocabularies, false when estimated from fingerprint sketches. */
  exact: boolean;
}

export interface SideSummary {
  name: string;
  format: string;
  parameterCount: number;
  architecture?: string;
  hiddenSize?: number;
  layers?: number;
  declaredBases: string[];
  bytesRead: number;
}

export interface DeclaredCheck {
  status: 'confirmed' | 'contradicted' | 'unverified' | 'none';
  detail: string;
}

export interface Comparison {
  schema: 'lineage-lens/comparison';
  schemaVersion: 1;
  a: SideSummary;
  b: SideSummary;
  verdict: Verdict;
  /** One line a person reads first. */
  reason: string;
  /** Combined lineage p-value (log10) under "B was initialized independently of A", when weight tests ran. */
  lineageLog10P?: number;
  /** log10 of the smallest combined p-value the tests that ran can certify (their floors, combined by Bonferroni). */
  lineageFloorLog10P?: number;
  thresholdLog10P: number;
  evidence: EvidenceRow[];
  layers: LayerEvidence[];
  /** Mean norm gain per norm vector, for a profile overlay (same labels on both sides). */
  normProfiles: { labels: string[]; a: number[]; b: number[] };
  tokenizer?: TokenizerComparison;
  declared: DeclaredCheck;
  direction?: { parent: 'a' | 'b'; reason: string };
  alignment?: { kind: string; detail: string };
  notes: string[];
}
