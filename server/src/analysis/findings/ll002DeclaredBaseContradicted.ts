// LL002: a declared base the weights refute, or a verified base outside the policy's allowed families.
import { describeMatch, DiagnosticCodes, formatLog10P } from '../../protocol';
import { subjectFacts } from '../documentAnalysis';
import { isAllowedBase } from '../policy';
import type { Rule, RuleFinding } from './types';

export const declaredBaseContradicted: Rule = ({ reference: { site, status }, policy }) => {
  const findings: RuleFinding[] = [];
  const facts = subjectFacts(status);
  const lineage = status.lineage;
  const best = lineage.matches[0];
  const name = facts?.displayName ?? site.id;
  for (const check of lineage.declared.filter((d) => d.status === 'contradicted')) {
    const p = formatLog10P(check.log10P);
    const suggestion = best ? ` Verified instead: ${describeMatch(best)}.` : '';
    // Offline, the shape alone refutes a claim: say so without pretending weights were compared.
    const refutation = check.byShape ? check.detail : `the weights say ${check.verdict ?? 'unrelated'}${p ? ` (${p})` : ''}: ${check.detail}`;
    findings.push({
      code: DiagnosticCodes.declaredBaseContradicted,
      range: site.range,
      message: `${name} declares base ${check.baseModel} (${check.source}), but ${refutation}.${suggestion}`,
      data: best ? { suggestedBase: best.repoId } : {},
    });
  }
  if (lineage.status === 'verified' && best && !isAllowedBase(policy, best.repoId, facts?.architecture?.family)) {
    findings.push({ code: DiagnosticCodes.declaredBaseContradicted, range: site.range, message: `${name} is ${describeMatch(best)}, which is outside allowed_base_families in .lineage.yaml` });
  }
  return findings;
};
