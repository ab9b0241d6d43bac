// LL008: an id one or two edits from a well-known id (a typosquat).
import { DiagnosticCodes } from '../../protocol';
import type { Rule } from './types';

export const lookAlikeId: Rule = ({ reference: { site, lookAlike } }) => {
  if (!lookAlike) return [];
  const written = site.reference?.kind === 'hub' ? site.reference.repoId : site.id;
  return [{
    code: DiagnosticCodes.lookAlikeId,
    range: site.range,
    message: `${written} looks like the well-known ${lookAlike.wellKnownId} (${lookAlike.distance} edit${lookAlike.distance === 1 ? '' : 's'} apart); make sure this is the repository you mean`,
  }];
};
