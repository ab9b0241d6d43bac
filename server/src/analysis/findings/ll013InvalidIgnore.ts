// LL013: an ignore in .lineage.yaml that has expired or cannot be used (no reason, no expiry, unknown
// code): reported on the policy file itself, so an exception never silently outlives its review.
import { DiagnosticCodes } from '../../protocol';
import { isExpired, type LineagePolicy } from '../policy';
import type { RuleFinding } from './types';

export function invalidIgnores(policy: LineagePolicy, now: Date): RuleFinding[] {
  const findings: RuleFinding[] = [];
  for (const ignore of policy.ignores ?? []) {
    const what = ignore.code ?? 'an ignore';
    if (ignore.invalid !== undefined) {
      findings.push({ code: DiagnosticCodes.invalidIgnore, range: ignore.range, message: `${what} in .lineage.yaml is not applied: ${ignore.invalid}` });
    } else if (isExpired(ignore, now)) {
      findings.push({ code: DiagnosticCodes.invalidIgnore, range: ignore.range, message: `ignore of ${what}${ignore.id ? ` on ${ignore.id}` : ''}${ignore.path ? ` in ${ignore.path}` : ''} expired on ${ignore.expires} ("${ignore.reason}"); its findings are reported again. Review them, then renew or remove the ignore.` });
    }
  }
  return findings;
}
