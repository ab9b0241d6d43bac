// LL005: pickle-only weights (loading runs code), or pickles that import dangerous globals (error);
// from the model's files when it is on disk, from the Hub's file list when it is not.
import { DiagnosticCodes, hubRepoFactsOf } from '../../protocol';
import { isHubPickleOnly, isPickleFormat } from '../referenceFacts';
import type { Rule, RuleFinding } from './types';

const PICKLE_DANGEROUS = 'pickle-dangerous-global';
const MAX_FILES_NAMED = 4;

export const pickleWeights: Rule = ({ reference: { site, status } }) => {
  if (site.kind === 'base-model-claim') return [];
  const findings: RuleFinding[] = [];
  const model = status.model;
  if (model) {
    const dangerous = model.findings.filter((f) => f.code === PICKLE_DANGEROUS);
    if (dangerous.length > 0) {
      findings.push({ code: DiagnosticCodes.pickleWeights, range: site.range, message: `${model.displayName}: ${dangerous.map((f) => `${f.file}: ${f.message}`).join('; ')}. Do not load it; use a safetensors copy from a trusted source.`, context: { raiseTo: 'error' } });
    } else if (isPickleFormat(model.format)) {
      findings.push({ code: DiagnosticCodes.pickleWeights, range: site.range, message: pickleOnlyMessage(model.displayName, '', model.weightFiles) });
    }
  }
  const hubFacts = hubRepoFactsOf(status);
  if (!model && hubFacts && isHubPickleOnly(hubFacts)) {
    findings.push({ code: DiagnosticCodes.pickleWeights, range: site.range, message: pickleOnlyMessage(hubFacts.repoId, ' on the Hub', hubFacts.weightFiles) });
  }
  return findings;
};

function pickleOnlyMessage(name: string, where: string, weightFiles: readonly string[]): string {
  const named = weightFiles.slice(0, MAX_FILES_NAMED).join(', ') + (weightFiles.length > MAX_FILES_NAMED ? ', …' : '');
  return `${name} ships pickle weights only${where} (${named}); loading a pickle can run code. Prefer safetensors (use_safetensors=True) or a repository that ships them.`;
}
