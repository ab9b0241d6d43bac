// The sha256 of every weight file of the workspace models a BOM lists (cache blobs are hashed by the
// integrity check already): the same hashing the lockfile uses, so the BOM and the lock agree.
import { currentWeightHashes, type LockedFile } from '../lockfile';
import type { ReferenceStatus } from '../../protocol';
import type { WeightFileHashes } from './cycloneDx';

export async function workspaceWeightHashes(references: readonly ReferenceStatus[]): Promise<WeightFileHashes> {
  const hashes = new Map<string, LockedFile[]>();
  for (const reference of references) {
    const modelPath = reference.resolution.path;
    if (reference.resolution.kind !== 'workspace' || !reference.model || modelPath === undefined || hashes.has(modelPath)) continue;
    const files = await currentWeightHashes(reference);
    if (files) hashes.set(modelPath, files);
  }
  return hashes;
}
