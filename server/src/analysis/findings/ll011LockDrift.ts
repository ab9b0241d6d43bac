// LL011: the reference no longer matches lineage.lock.json: not in it, its commit moved, or a weight
// file's bytes changed since `lineage lock` (a model quietly modified between upload and download).
import { DiagnosticCodes, shortCommit } from '../../protocol';
import { LOCK_FILE_NAME, type LockDrift } from '../lockfile';
import type { Rule } from './types';

export const lockDrift: Rule = ({ reference: { site, lockDrift: drift } }) => {
  if (!drift || drift.length === 0) return [];
  const name = site.reference?.kind === 'hub' ? site.reference.repoId : site.id;
  return [{ code: DiagnosticCodes.lockDrift, range: site.range, message: `${name}: ${drift.map(describeDrift).join('; ')}. Review the change, then run "lineage lock" to accept it.` }];
};

function describeDrift(drift: LockDrift): string {
  switch (drift.kind) {
    case 'missing':
      return `not in ${LOCK_FILE_NAME}`;
    case 'revision-changed':
      return `${LOCK_FILE_NAME} locks it at ${drift.lockedRevision === undefined ? 'the default branch' : `revision "${drift.lockedRevision}"`}${drift.lockedCommit ? ` (${shortCommit(drift.lockedCommit)})` : ''}, not at the revision written here`;
    case 'commit-moved':
      return `the commit moved from ${shortCommit(drift.lockedCommit)} (locked) to ${shortCommit(drift.currentCommit)}`;
    case 'file-changed':
      return `${drift.file} changed (locked sha256 ${drift.lockedSha256.slice(0, 12)}…, now ${drift.currentSha256.slice(0, 12)}…)`;
    case 'file-missing':
      return `${drift.file} is locked but no longer present`;
    case 'file-added':
      return `${drift.file} is not in the lock`;
  }
}
