// Every rule over a document's analysis, with severities settled: the findings the editor shows as
// diagnostics and `lineage check` reports. README.md "Diagnostics" documents each code.
import type { DocumentAnalysis } from '../documentAnalysis';
import type { LineagePolicy } from '../policy';
import { declaredBaseContradicted } from './ll002DeclaredBaseContradicted';
import { unverifiedLineage } from './ll001UnverifiedLineage';
import { unpinnedRevision } from './ll003UnpinnedRevision';
import { trustRemoteCode } from './ll004TrustRemoteCode';
import { pickleWeights } from './ll005PickleWeights';
import { cacheIntegrity } from './ll006CacheIntegrity';
import { implicitDefaultModel } from './ll007ImplicitDefaultModel';
import { lookAlikeId } from './ll008LookAlikeId';
import { notAvailableLocally } from './ll009NotAvailableLocally';
import { reUpload } from './ll010ReUpload';
import { effectiveSeverity, type SeverityOverrides } from './severity';
import type { Finding, Rule, RuleFinding } from './types';
import type { AnalyzedReference } from '../documentAnalysis';
import type { SeveritySetting } from '../../protocol';

export type { Finding, FindingData, FindingSeverity } from './types';

/** In the order their findings are listed for one reference. */
const RULES: readonly Rule[] = [implicitDefaultModel, trustRemoteCode, unpinnedRevision, lookAlikeId, notAvailableLocally, pickleWeights, cacheIntegrity, declaredBaseContradicted, reUpload, unverifiedLineage];

/** Every rule's findings for one reference, before severities are settled (the standing reads these). */
export function ruleFindingsOf(reference: AnalyzedReference, policy: LineagePolicy | undefined): RuleFinding[] {
  return RULES.flatMap((rule) => rule({ reference, policy }));
}

const SEVERITY_RANK: Readonly<Record<SeveritySetting, number>> = { off: 0, hint: 1, information: 2, warning: 3, error: 4 };

export function computeFindings(analysis: DocumentAnalysis, overrides: SeverityOverrides, policy: LineagePolicy | undefined): Finding[] {
  const findings: Finding[] = [];
  analysis.references.forEach((reference, referenceIndex) => {
    {
      for (const found of ruleFindingsOf(reference, policy)) {
        let severity = effectiveSeverity(found.code, overrides, policy, found.context);
        // Some findings are worse than their code's default (dangerous pickle globals, an id the Hub does
        // not know): raised unless the user turned the code off or chose its severity explicitly.
        const chosen = overrides[found.code] !== undefined || policy?.severity[found.code] !== undefined;
        const raiseTo = found.context?.raiseTo;
        if (raiseTo && severity !== 'off' && !chosen && SEVERITY_RANK[severity] < SEVERITY_RANK[raiseTo]) severity = raiseTo;
        if (severity === 'off') continue;
        findings.push({ code: found.code, severity, range: found.range, message: found.message, data: { referenceIndex, ...found.data } });
      }
    }
  });
  return findings;
}
