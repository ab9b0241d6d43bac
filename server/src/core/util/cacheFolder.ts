// Lineage Lens' own folder on this machine (user registry, fingerprint cache, Hub read cache), shared
// by the CLI and the editor: $LINEAGE_CACHE_DIR, else ~/.cache/lineage-lens.
import { homedir } from 'node:os';
import * as path from 'node:path';

export function lineageCacheFolder(env: NodeJS.ProcessEnv = process.env): string {
  return env['LINEAGE_CACHE_DIR'] || path.join(homedir(), '.cache', 'lineage-lens');
}
