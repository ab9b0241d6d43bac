// LL008: an id one or two edits from a well-known id, or equal to a known id or another reference of the
// workspace once look-alike characters are folded (a typosquat); the message says where the real id is.
import { DiagnosticCodes } from '../../protocol';
import type { Rule } from './types';

export const lookAlikeId: Rule = ({ reference: { site, lookAlike } }) => {
  if (!lookAlike) return [];
  const written = site.reference?.kind === 'hub' ? site.reference.repoId : site.id;
  const known = lookAlike.fromDocument
    ? `${lookAlike.wellKnownId}, referenced elsewhere in this file`
    : lookAlike.fromWorkspace
      ? `${lookAlike.wellKnownId}, referenced in ${lookAlike.referencedIn}`
      : `the well-known ${lookAlike.wellKnownId}${lookAlike.referencedIn === undefined ? '' : `, referenced in ${lookAlike.referencedIn}`}`;
  const how = lookAlike.how === 'confusable' ? 'differs only in look-alike characters' : `${lookAlike.distance} edit${lookAlike.distance === 1 ? '' : 's'} apart`;
  return [{
    code: DiagnosticCodes.lookAlikeId,
    range: site.range,
    message: `${written} looks like ${known} (${how}); make sure this is the repository you mean`,
    data: { replacement: lookAlike.wellKnownId },
  }];
};
