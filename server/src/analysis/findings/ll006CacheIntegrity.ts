// LL006: a Hugging Face cache blob whose bytes no longer hash to its name was altered after download.
import { DiagnosticCodes } from '../../protocol';
import type { Rule } from './types';

export const cacheIntegrity: Rule = ({ reference: { site, status } }) => {
  if (!status.model || site.kind === 'base-model-claim') return [];
  return status.model.integrity.filter((e) => e.status === 'mismatch').map((entry) => ({
    code: DiagnosticCodes.cacheIntegrity,
    range: site.range,
    message: `cached ${entry.relativePath} does not match its content hash (blob ${entry.blobName.slice(0, 16)}…, content ${entry.actualSha256?.slice(0, 16) ?? '?'}…): the file was altered after download. Delete the blob and download again.`,
  }));
};
