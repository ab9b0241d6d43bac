// LL010: the weights are those of a known model published under another name (a renamed re-upload,
// or the original of one): news the user must see, never a green "verified".
import { DiagnosticCodes, formatLog10P } from '../../protocol';
import { reUploadOf } from '../referenceFacts';
import type { Rule } from './types';

export const reUpload: Rule = (input) => {
  const copy = reUploadOf(input.reference);
  if (!copy) return [];
  const { site, status } = input.reference;
  const name = status.model?.displayName ?? site.id;
  const p = formatLog10P(copy.log10P);
  const how = copy.verdict === 'identical' ? 'byte-identical weights' : 'the same weights in another file format';
  return [{
    code: DiagnosticCodes.reUpload,
    range: site.range,
    message: `${name} has ${how} as ${copy.repoId}${p ? ` (${p})` : ''}: one of the two is a renamed re-upload of the other. Load the original you mean to trust.`,
    data: { original: copy.repoId },
  }];
};
