// Model repositories in the local Hugging Face cache (`models--org--name` folders) as Hub ids, for the
// Compare picker. The roots come from the engine's hfCacheRoots so both sides agree on where the cache is.
import { readdir } from 'node:fs/promises';
import { hfCacheRoots } from '../../../server/src/core/model/hfCache';

/** A picker lists at most this many cached models; a cache with thousands is a mirror, not a workbench. */
const MAX_CACHED_MODELS = 500;

/** `models--org--name` -> `org/name`; undefined for datasets, spaces and anything else in the folder. */
export function repoIdFromCacheFolder(folderName: string): string | undefined {
  if (!folderName.startsWith('models--')) return undefined;
  const parts = folderName.slice('models--'.length).split('--');
  return parts.length >= 1 && parts.every((p) => p.length > 0) ? parts.join('/') : undefined;
}

export async function listCachedModelIds(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const ids = new Set<string>();
  for (const root of hfCacheRoots(env)) {
    const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const id = entry.isDirectory() ? repoIdFromCacheFolder(entry.name) : undefined;
      if (id !== undefined) ids.add(id);
      if (ids.size >= MAX_CACHED_MODELS) break;
    }
  }
  return [...ids].sort((a, b) => a.localeCompare(b));
}
