// Blocking and identity keys of a fingerprint as the registry indexes them (shared by the
// backend, which stores them, and the scan, which queries with them).
import { createHash } from 'node:crypto';
import { hiddenSize } from '../compare/pairing';
import type { Fingerprint } from '../fingerprint/types';
import { computeWeightSketches } from './sketches';
import type { CandidateQuery } from './types';

/** sha256 over the sorted sha256 of every weight file, when all are known: equal means identical weights. */
export function contentIdOf(fp: Fingerprint): string | undefined {
  const weights = fp.files.filter((f) => f.role === 'weights');
  if (weights.length === 0 || weights.some((f) => !f.sha256)) return undefined;
  const sorted = weights.map((f) => f.sha256!).sort();
  return createHash('sha256').update(sorted.join('\n'), 'utf8').digest('hex');
}

/** A fingerprint carries weight signals (else it can only name a tokenizer family). */
export function hasWeightSignals(fp: Fingerprint): boolean {
  return fp.tensors.length > 0 && (fp.vectors.length > 0 || fp.tokenRows.length > 0 || fp.matrices.length > 0);
}

export function candidateQueryOf(fp: Fingerprint): CandidateQuery {
  return {
    hiddenSize: hiddenSize(fp),
    sketches: hasWeightSignals(fp) ? computeWeightSketches(fp) : {},
    contentId: contentIdOf(fp),
    tokensHash: fp.tokenizer?.tokensHash,
    declaredParents: [...new Set(fp.declared.claims.map((c) => c.baseModel))].sort(),
  };
}
