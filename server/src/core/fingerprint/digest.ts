// One sha256 over a fingerprint's signals (architecture, tokenizer, tensors, rows, profiles): equal for
// the same weights whatever the path, name or read budget. The lockfile records it per model.
import { createHash } from 'node:crypto';
import type { Fingerprint } from './types';

// Inspections are shared between documents: one digest per fingerprint object.
const digests = new WeakMap<Fingerprint, string>();

export function fingerprintDigest(fingerprint: Fingerprint): string {
  const known = digests.get(fingerprint);
  if (known !== undefined) return known;
  // Names, file paths, times and bytes read describe where the model was read, not what it is.
  const { schemaVersion, extractorVersion, architecture, tokenizer, tensors, vectors, tokenRows, matrices, profiles } = fingerprint;
  const body = JSON.stringify({ schemaVersion, extractorVersion, architecture, tokenizer, tensors, vectors, tokenRows, matrices, profiles });
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  digests.set(fingerprint, digest);
  return digest;
}
