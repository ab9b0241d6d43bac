// What a rule reports: plain Finding values (code, severity, range, message, data for quick fixes).
// The language server maps them to diagnostics; `lineage check` prints them. No LSP types here.
import type { AnalyzedReference } from '../documentAnalysis';
import type { LineagePolicy } from '../policy';
import type { DiagnosticCode, Range, SeveritySetting } from '../../protocol';
import type { SeverityContext } from './severity';

export type FindingSeverity = Exclude<SeveritySetting, 'off'>;

/** Extra facts a finding carries for its quick fixes. */
export interface FindingData {
  /** Index of the reference in the document analysis; -1 for a finding about the document itself (LL013). */
  referenceIndex: number;
  /** Commit to pin to (LL003, LL004): cached, fingerprinted by the registry, or the Hub's current one. */
  commit?: string;
  /** Verified base to write into a card (LL002). */
  suggestedBase?: string;
  /** The other name of the same weights (LL010). */
  original?: string;
  /** The id a look-alike imitates, offered as the replacement (LL008). */
  replacement?: string;
}

export interface Finding {
  code: DiagnosticCode;
  severity: FindingSeverity;
  range: Range;
  message: string;
  data: FindingData;
}

/** A rule's report before severities are settled: `context` and `raiseTo` feed the severity decision. */
export interface RuleFinding {
  code: DiagnosticCode;
  range: Range;
  message: string;
  context?: SeverityContext & { raiseTo?: 'error' | 'warning' };
  data?: Omit<FindingData, 'referenceIndex'>;
}

export interface RuleInput {
  reference: AnalyzedReference;
  policy: LineagePolicy | undefined;
}

/** One rule: the findings of one reference. */
export type Rule = (input: RuleInput) => RuleFinding[];
