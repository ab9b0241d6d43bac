// Whether a folder holds weight files, looked up before "Fingerprint Folder…" runs: a folder without
// weights would give a fingerprint of nothing (0 tensors) that matches nothing and proves nothing.
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { WEIGHT_FILE_EXTENSIONS } from '../constants';

/** A Hugging Face cache repo keeps its files two levels down (snapshots/<commit>/). */
const MAX_DEPTH = 3;
const MAX_ENTRIES = 2_000;

/** The first weight file under `folder` (relative path), or undefined when there is none. */
export async function firstWeightFile(folder: string): Promise<string | undefined> {
  let seen = 0;
  const walk = async (current: string, depth: number): Promise<string | undefined> => {
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (++seen > MAX_ENTRIES) return undefined;
      const extension = path.extname(entry.name).toLowerCase();
      // Cache snapshots link to blobs: a link to a weight file counts.
      if ((entry.isFile() || entry.isSymbolicLink()) && (WEIGHT_FILE_EXTENSIONS as readonly string[]).includes(extension)) return path.relative(folder, path.join(current, entry.name));
    }
    if (depth >= MAX_DEPTH) return undefined;
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const found = await walk(path.join(current, entry.name), depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(folder, 0);
}
