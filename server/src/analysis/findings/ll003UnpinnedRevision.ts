// LL003: a Hub reference without a 40-hex commit loads whatever its branch points to at download time.
import { describePinOrigin, DiagnosticCodes, shortCommit, type PinCommit } from '../../protocol';
import { isTextLink, pinCommitOf } from '../referenceFacts';
import type { Rule } from './types';

export const unpinnedRevision: Rule = ({ reference: { site, status, lookAlike } }) => {
  // Pinning a look-alike id would only freeze the wrong repository: LL008 says what to fix.
  if (lookAlike) return [];
  const hub = site.reference?.kind === 'hub' ? site.reference : undefined;
  const applies = hub !== undefined && site.kind !== 'base-model-claim' && !isTextLink(site) && !site.flags.dynamic && site.revision?.dynamic !== true && status.resolution.kind !== 'workspace' && !status.pinned;
  if (!applies) return [];
  const pin = pinCommitOf(status);
  const cached = pin ? ` ${pinTargetSentence(pin)}` : '';
  const message = status.revision === undefined
    ? `${hub.repoId} is not pinned: it loads whatever the default branch points to at download time. Pin a 40-hex commit.${cached}`
    : `revision "${status.revision}" is a branch, tag or short hash and can move; pin a 40-hex commit.${cached}`;
  return [{ code: DiagnosticCodes.unpinnedRevision, range: site.revision?.range ?? site.range, message, data: pin ? { commit: pin.commit } : {} }];
};

/** " The cached snapshot is at 1a2b3c4d5e6f.", the end of an LL003 message. */
function pinTargetSentence(pin: PinCommit): string {
  switch (pin.origin) {
    case 'cached':
      return `The cached snapshot is at ${shortCommit(pin.commit)}.`;
    case 'registry':
      return `The registry fingerprinted ${shortCommit(pin.commit)}.`;
    case 'hub': {
      const origin = describePinOrigin(pin);
      return `${origin.charAt(0).toUpperCase()}${origin.slice(1)} is ${shortCommit(pin.commit)}.`;
    }
  }
}
