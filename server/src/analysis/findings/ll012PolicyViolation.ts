// LL012: the reference breaks .lineage.yaml: its organisation is blocked (or not allowed), or a
// declared base was checked and did not reach the verdicts the policy requires.
import { DiagnosticCodes, formatLog10P } from '../../protocol';
import { organisationViolation } from '../policy';
import { isTextLink } from '../referenceFacts';
import type { Rule, RuleFinding } from './types';

export const policyViolation: Rule = ({ reference: { site, status }, policy }) => {
  if (!policy || site.kind === 'dataset') return [];
  const findings: RuleFinding[] = [];
  const hub = site.reference?.kind === 'hub' ? site.reference : undefined;
  const organisation = hub?.repoId.includes('/') ? hub.repoId.split('/')[0]! : undefined;
  if (hub && organisation !== undefined && !isTextLink(site)) {
    const violation = organisationViolation(policy, organisation);
    if (violation !== undefined) {
      const rule = violation === 'blocked' ? 'is blocked by blocked_organisations' : 'is not in allowed_organisations';
      findings.push({ code: DiagnosticCodes.policyViolation, range: site.range, message: `${hub.repoId}: organisation "${organisation}" ${rule} in .lineage.yaml` });
    }
  }
  const required = policy.requiredBaseVerdicts;
  if (required && required.length > 0) {
    // An unverifiable base (not on this machine, unknown to the registries) is LL001's business.
    for (const check of status.lineage.declared.filter((d) => d.verdict !== undefined && !required.includes(d.verdict))) {
      const p = formatLog10P(check.log10P);
      findings.push({
        code: DiagnosticCodes.policyViolation,
        range: site.range,
        message: `declared base ${check.baseModel} is ${check.verdict}${p ? ` (${p})` : ''}; .lineage.yaml requires ${required.join(', ')}`,
      });
    }
  }
  return findings;
};
