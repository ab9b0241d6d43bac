// LL001: the model was fingerprinted, but no known model matches (registries, cache, declared base).
import { DiagnosticCodes } from '../../protocol';
import { subjectFacts } from '../documentAnalysis';
import type { Rule } from './types';

export const unverifiedLineage: Rule = ({ reference: { site, status }, policy }) => {
  const facts = subjectFacts(status);
  const lineage = status.lineage;
  if (lineage.status !== 'unverified' || !facts || site.kind === 'base-model-claim') return [];
  const reason = facts.fingerprintError ? `it could not be fingerprinted (${facts.fingerprintError})` : `no known fingerprint matches (compared with ${lineage.candidatesCompared} known model${lineage.candidatesCompared === 1 ? '' : 's'})`;
  const policyNote = policy?.allowedBaseFamilies ? '; .lineage.yaml requires a verified base from allowed_base_families' : '';
  return [{ code: DiagnosticCodes.unverifiedLineage, range: site.range, message: `lineage of ${facts.displayName} is unverified: ${reason}${policyNote}` }];
};
