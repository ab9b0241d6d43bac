// Where registries live: --db, else LINEAGE_DB_URL (PostgreSQL), else LINEAGE_DB, else (reads) the reference database shipped in
// data/reference.sqlite, or (writes) the user's registry under LINEAGE_CACHE_DIR / ~/.cache/lineage-lens.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const REFERENCE_DB_RELATIVE_PATH = path.join('data', 'reference.sqlite');
/** How far up from this module (dist/ when bundled, server/src/core/registry from source) data/ may be. */
const MAX_LEVELS_UP = 5;

/** The embedded reference database (read-only), found beside the bundle or the source tree. */
export function embeddedRegistryPath(): string | undefined {
  let folder = __dirname;
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    const candidate = path.join(folder, REFERENCE_DB_RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  return undefined;
}

import { lineageCacheFolder } from '../util/cacheFolder';

export { lineageCacheFolder };

export function userRegistryPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(lineageCacheFolder(env), 'registry.sqlite');
}

export interface RegistryPathChoice {
  path: string;
  /** Why this file: shown by db stats and in errors. */
  origin: '--db' | 'LINEAGE_DB_URL' | 'LINEAGE_DB' | 'embedded reference database' | 'user registry';
}

/** The registry a command uses; `forWrite` picks the user's registry instead of the read-only embedded one. */
export function resolveRegistryPath(dbOption: string | undefined, forWrite: boolean, env: NodeJS.ProcessEnv = process.env): RegistryPathChoice | undefined {
  if (dbOption) return { path: dbOption, origin: '--db' };
  if (env.LINEAGE_DB_URL) return { path: env.LINEAGE_DB_URL, origin: 'LINEAGE_DB_URL' };
  if (env.LINEAGE_DB) return { path: env.LINEAGE_DB, origin: 'LINEAGE_DB' };
  if (forWrite) return { path: userRegistryPath(env), origin: 'user registry' };
  const embedded = embeddedRegistryPath();
  return embedded ? { path: embedded, origin: 'embedded reference database' } : undefined;
}
