// LL009: the model is on no disk of this machine, so the bytes a run would download are not checked;
// what the Hub says about it, when it was asked.
import type { ModelReferenceSite } from '../../references';
import { describeHubFiles, DiagnosticCodes, hubProblemOf, hubProblemPhrase, hubRepoFactsOf, isHubMissing, shortCommit, type ReferenceStatus } from '../../protocol';
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

/**
 * One short sentence: the cache folders searched and the Hub's raw error stay in the hover's details,
 * since a reference that is simply not downloaded is not a problem to read about.
 */
function notAvailableMessage(site: ModelReferenceSite, status: ReferenceStatus): string {
  const resolution = status.resolution;
  const written = site.reference?.kind === 'hub' ? site.reference.repoId : site.id;
  const problem = hubProblemOf(status);
  if (problem && isHubMissing(problem.problem)) {
    return `${written} cannot be downloaded as written: ${hubProblemPhrase(problem.problem)}. Check the ${problem.problem === 'not-found' ? 'id' : 'revision'}.`;
  }
  // "cached, but not at v2 (cached commits: …)" names commits, not folders: worth its words.
  const notHere = resolution.otherCachedCommits !== undefined && resolution.detail !== undefined ? resolution.detail : `${written} is not downloaded`;
  const hub = hubRepoFactsOf(status);
  if (hub) {
    const renamed = hub.repoId.toLowerCase() !== written.toLowerCase() ? ` (as ${hub.repoId})` : '';
    const fingerprinted = resolution.kind === 'registry' && resolution.commit === hub.commit ? ', the commit the registry fingerprinted' : '';
    // A fingerprint read from the Hub already gives the verdict; only the downloaded bytes remain unchecked.
    const readRemotely = status.remote !== undefined && status.remote.problem === undefined && status.model !== undefined;
    const checked = readRemotely ? ' Its lineage was checked from the Hub by range reads (see the hover).' : '';
    return `${notHere}; the Hub has it${renamed} at commit ${shortCommit(hub.commit)}${fingerprinted} (${describeHubFiles(hub)}).${checked}`;
  }
  if (resolution.kind === 'registry') return `${notHere}; the registry holds its fingerprint.`;
  // A Hub that cannot be reached is the status bar's news (the Hub indicator), not every reference's.
  if (problem?.problem === 'invalid-endpoint') return `${notHere}; ${hubProblemPhrase(problem.problem)}.`;
  return `${notHere}.`;
}
