// One sha256 over a fingerprint's signals (architecture, tokenizer, tensors, rows, profiles): equal for
// the same weights whatever the path, name or read budget. The lockfile records it per model.
import { createHash } from 'node:crypto';
import type { Fingerprint } from './types';

export function fingerprintDigest(fingerprint: Fingerprint): string {
  // Names, file paths, times and bytes read describe where the model was read, not what it is.
  const { schemaVersion, extractorVersion, architecture, tokenizer, tensors, vectors, tokenRows, matrices, profiles } = fingerprint;
  const body = JSON.stringify({ schemaVersion, extractorVersion, architecture, tokenizer, tensors, vectors, tokenRows, matrices, profiles });
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
