// A reference at a glance: one function decides verified / contradicted / re-upload / risky /
// unverified (or pending, not-applicable) from the reference's findings; every view shows this status.
import { RELATED_VERDICTS } from '../core/compare/types';
import { describeMatch, DiagnosticCodes, type DiagnosticCode, type LineageMatch, type ReferenceStanding, type ReferenceStatus } from '../protocol';
import type { AnalyzedReference, DocumentAnalysis } from './documentAnalysis';
import { ruleFindingsOf } from './findings';
import type { RuleFinding } from './findings/types';
import type { LineagePolicy } from './policy';
import { isSameModelName, publishedNameOf, reUploadOf, SAME_WEIGHTS_VERDICTS } from './referenceFacts';

/** Findings that make a reference risky to load whatever its lineage. */
const RISKY_CODES: ReadonlySet<DiagnosticCode> = new Set([DiagnosticCodes.trustRemoteCode, DiagnosticCodes.pickleWeights, DiagnosticCodes.cacheIntegrity, DiagnosticCodes.lookAlikeId]);

function riskLabel(finding: RuleFinding, reference: AnalyzedReference): string {
  switch (finding.code) {
    case DiagnosticCodes.trustRemoteCode:
      return 'runs the repository\'s own Python code on load';
    case DiagnosticCodes.pickleWeights:
      return finding.context?.raiseTo === 'error' ? 'pickle weights that import dangerous functions' : 'pickle weights: loading them can run code';
    case DiagnosticCodes.cacheIntegrity:
      return 'a cached file was altered after download';
    case DiagnosticCodes.lookAlikeId:
      return reference.lookAlike ? `looks like ${reference.lookAlike.wellKnownId}: a possible typosquat` : 'a look-alike id';
    case DiagnosticCodes.notAvailableLocally:
      return 'the Hub does not have it as written';
    default:
      return finding.message;
  }
}

function isRisky(finding: RuleFinding): boolean {
  return RISKY_CODES.has(finding.code) || (finding.code === DiagnosticCodes.notAvailableLocally && finding.context?.raiseTo !== undefined);
}

/** The declared bases the weights (or the registry's copy of them) confirm. */
function confirmedDeclaredBase(status: ReferenceStatus): LineageMatch | undefined {
  const declared = status.lineage.declared;
  for (const check of declared) {
    const match = status.lineage.matches.find((m) => isSameModelName(m.repoId, check.baseModel) && RELATED_VERDICTS.has(m.verdict));
    if (match) return match;
  }
  return undefined;
}

/**
 * The one decision of a reference's status. `findings` are the rule findings of this reference
 * before severities are settled: a user who silences a rule hides its message, not the truth.
 */
export function decideStanding(reference: AnalyzedReference, findings: readonly RuleFinding[]): ReferenceStanding {
  const { site, status } = reference;
  const lineage = status.lineage;
  const dangerous = findings.find((f) => f.context?.raiseTo === 'error' || f.code === DiagnosticCodes.cacheIntegrity);
  if (dangerous) return { status: 'risky', summary: riskLabel(dangerous, reference) };
  const contradicted = lineage.declared.find((d) => d.status === 'contradicted');
  if (contradicted) {
    const why = contradicted.byShape ? 'its shape rules that out' : `the weights say ${contradicted.verdict ?? 'unrelated'}`;
    return { status: 'contradicted', summary: `declares ${contradicted.baseModel} as its base, but ${why}` };
  }
  const policyBreach = findings.find((f) => f.code === DiagnosticCodes.declaredBaseContradicted);
  if (policyBreach) return { status: 'contradicted', summary: policyBreach.message };
  const copy = reUploadOf(reference);
  if (copy) return { status: 're-upload', summary: `the same weights as ${copy.repoId}, published under another name` };
  const risky = findings.find(isRisky);
  if (risky) return { status: 'risky', summary: riskLabel(risky, reference) };
  if (lineage.status === 'pending') return { status: 'pending', summary: 'fingerprinting…' };

  const kind = status.resolution.kind;
  if (kind === 'registry') return { status: 'unverified', summary: 'known to the registry, not downloaded: what a download fetches is not checked' };
  if (lineage.status === 'not-applicable') {
    if ((kind === 'unavailable') && site.kind !== 'dataset' && site.kind !== 'base-model-claim') return { status: 'unverified', summary: 'not downloaded: nothing on this machine to check' };
    return { status: 'not-applicable', summary: site.kind === 'dataset' ? 'a dataset' : 'nothing to fingerprint' };
  }
  const confirmed = confirmedDeclaredBase(status);
  if (confirmed) return { status: 'verified', summary: `${describeMatch(confirmed)}, as declared` };
  const best = lineage.matches[0];
  if (lineage.status === 'verified' && best && lineage.declared.length === 0) {
    const name = publishedNameOf(reference);
    // The weights are a known model of the same name, or a local folder holding a known model.
    if (SAME_WEIGHTS_VERDICTS.has(best.verdict) && (name === undefined || isSameModelName(best.repoId, name))) return { status: 'verified', summary: describeMatch(best) };
    if (site.kind !== 'base-model-claim') return { status: 'unverified', summary: `declares no base, but the weights show ${describeMatch(best)}` };
  }
  if (lineage.declared.length > 0) return { status: 'unverified', summary: `declares ${lineage.declared.map((d) => d.baseModel).join(', ')}; not checked: ${lineage.declared[0]!.detail}` };
  return { status: 'unverified', summary: 'no known fingerprint matches' };
}

/** The analysis with each reference's standing decided under the workspace policy. */
export function withStandings(analysis: DocumentAnalysis, policy: LineagePolicy | undefined): DocumentAnalysis {
  return {
    ...analysis,
    references: analysis.references.map((reference) => ({ ...reference, status: { ...reference.status, standing: decideStanding(reference, ruleFindingsOf(reference, policy)) } })),
  };
}
