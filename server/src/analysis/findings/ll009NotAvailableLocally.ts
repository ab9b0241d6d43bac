// LL009: the model is on no disk of this machine, so the bytes a run would download are not checked;
// what the Hub says about it, when it was asked.
import type { ModelReferenceSite } from '../../references';
import { describeHubFiles, describeHubProblem, DiagnosticCodes, hubProblemOf, hubRepoFactsOf, isHubMissing, shortCommit, type ReferenceStatus } from '../../protocol';
import type { Rule } from './types';

export const notAvailableLocally: Rule = ({ reference: { site, status } }) => {
  const kind = status.resolution.kind;
  if ((kind !== 'unavailable' && kind !== 'registry') || site.kind === 'base-model-claim' || site.kind === 'dataset') return [];
  // The Hub does not have it: the reference cannot load as written, worse than "not downloaded yet".
  const hubProblem = hubProblemOf(status);
  return [{
    code: DiagnosticCodes.notAvailableLocally,
    range: site.range,
    message: notAvailableMessage(site, status),
    context: hubProblem && isHubMissing(hubProblem.problem) ? { raiseTo: 'warning' } : {},
  }];
};

function notAvailableMessage(site: ModelReferenceSite, status: ReferenceStatus): string {
  const resolution = status.resolution;
  const written = site.reference?.kind === 'hub' ? site.reference.repoId : site.id;
  const local = resolution.detail ?? `${site.id} is not available locally`;
  // A fingerprint read from the Hub already gives the verdict; only the downloaded bytes remain unchecked.
  const readRemotely = status.remote !== undefined && status.remote.problem === undefined && status.model !== undefined;
  const download = readRemotely ? 'Its lineage was checked from the Hub by range reads (see the hover); the bytes a download writes are checked once it is on this machine.' : 'Download it to verify its lineage offline.';
  const hub = hubRepoFactsOf(status);
  if (hub) {
    // Cached at another commit, or fingerprinted by the registry: that detail says more than "not here".
    const here = resolution.kind === 'registry' || resolution.otherCachedCommits !== undefined ? local : `${written} is not on this machine`;
    const renamed = hub.repoId.toLowerCase() !== written.toLowerCase() ? ` (as ${hub.repoId})` : '';
    const fingerprinted = resolution.kind === 'registry' && resolution.commit === hub.commit ? ', the commit the registry fingerprinted' : '';
    return `${here}; the Hub has it${renamed} at commit ${shortCommit(hub.commit)}${fingerprinted} (${describeHubFiles(hub)}). ${download}`;
  }
  const problem = hubProblemOf(status);
  if (problem && isHubMissing(problem.problem)) {
    return `${written} is not on this machine, and ${describeHubProblem(problem)}. Check the ${problem.problem === 'not-found' ? 'id' : 'revision'}.`;
  }
  if (problem) return `${local}; ${describeHubProblem(problem)}. ${download}`;
  return `${local}. ${download}`;
}
