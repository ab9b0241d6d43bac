// Checks a locally cached copy of a Hub commit against what the Hub publishes for that commit:
// a file whose bytes no longer hash to the published sha256 (LFS) or git blob id was modified
// after download, whatever its cache blob is named.
import { gitBlobSha1File, sha256File } from '../io/fileHash';
import type { CachedSnapshot } from '../model/hfCache';
import { lookUpHubModel, type HubFile, type HubLookupOptions } from './hubMetadata';

export type PublishedCheckStatus =
  /** The bytes hash to what the Hub publishes. */
  | 'matches'
  /** The bytes hash to something else: modified after download. */
  | 'modified'
  /** The Hub lists no such file at this commit. */
  | 'not-published'
  /** The Hub publishes no hash we can recompute (no LFS sha256, no git oid). */
  | 'no-published-hash';

export interface PublishedFileCheck {
  relativePath: string;
  status: PublishedCheckStatus;
  /** 'sha256' for LFS files, 'git-sha1' for files stored in git. */
  algorithm?: 'sha256' | 'git-sha1';
  published?: string;
  local?: string;
}

export interface PublishedCheckOptions {
  signal?: AbortSignal;
  /** Called before each file is hashed. */
  onFile?: (relativePath: string, index: number, total: number) => void;
}

/** Hashes every cached file of `snapshot` and compares with the listing of the same commit. */
export async function checkAgainstPublished(snapshot: CachedSnapshot, published: readonly HubFile[], options: PublishedCheckOptions = {}): Promise<PublishedFileCheck[]> {
  const byPath = new Map(published.map((f) => [f.path, f]));
  const out: PublishedFileCheck[] = [];
  for (const [index, file] of snapshot.files.entries()) {
    if (options.signal?.aborted) throw options.signal.reason;
    options.onFile?.(file.relativePath, index, snapshot.files.length);
    const hub = byPath.get(file.relativePath);
    if (!hub) {
      out.push({ relativePath: file.relativePath, status: 'not-published' });
      continue;
    }
    if (hub.lfsSha256 !== undefined) {
      const local = await sha256File(file.path, undefined, options.signal);
      out.push({ relativePath: file.relativePath, status: local === hub.lfsSha256 ? 'matches' : 'modified', algorithm: 'sha256', published: hub.lfsSha256, local });
    } else if (hub.gitOid !== undefined) {
      const local = await gitBlobSha1File(file.path);
      out.push({ relativePath: file.relativePath, status: local === hub.gitOid ? 'matches' : 'modified', algorithm: 'git-sha1', published: hub.gitOid, local });
    } else {
      out.push({ relativePath: file.relativePath, status: 'no-published-hash' });
    }
  }
  return out;
}

/** One line per modified file, for a terminal or a diagnostic. */
export function describeModified(check: PublishedFileCheck, repoId: string, commit: string): string {
  return `${check.relativePath}: modified after download: its ${check.algorithm} is ${check.local}, the Hub publishes ${check.published} for ${repoId}@${commit}`;
}

/**
 * Asks the Hub for the listing of the snapshot's own commit and checks every cached file against
 * it. Throws with the lookup's detail when the Hub cannot answer (offline, gated, unknown commit).
 */
export async function verifyCachedCopyWithHub(snapshot: CachedSnapshot, lookup: HubLookupOptions, options: PublishedCheckOptions = {}): Promise<PublishedFileCheck[]> {
  const result = await lookUpHubModel(snapshot.repoId, snapshot.commit, lookup);
  if (!result.ok) throw new Error(`cannot check ${snapshot.repoId}@${snapshot.commit} against the Hub: ${result.reason}: ${result.detail}`);
  return checkAgainstPublished(snapshot, result.metadata.files, options);
}
