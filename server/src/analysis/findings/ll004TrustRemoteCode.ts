// LL004: `trust_remote_code` runs the repository's Python on load; an error when the revision can move.
import { DiagnosticCodes } from '../../protocol';
import { pinCommitOf } from '../referenceFacts';
import type { Rule } from './types';

export const trustRemoteCode: Rule = ({ reference: { site, status } }) => {
  if (!site.flags.trustRemoteCode) return [];
  const repo = site.reference?.kind === 'hub' ? site.reference.repoId : 'the repository';
  const pin = pinCommitOf(status);
  const pinnedText = status.pinned ? 'pinned, so the code is fixed; review it before every pin update' : 'not pinned, so the code can change under you at any download';
  return [{
    code: DiagnosticCodes.trustRemoteCode,
    range: site.flags.trustRemoteCodeRange ?? site.range,
    message: `trust_remote_code runs Python code from ${repo} on load; the reference is ${pinnedText}`,
    context: { pinned: status.pinned },
    data: pin ? { commit: pin.commit } : {},
  }];
};
