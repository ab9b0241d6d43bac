// Offline integrity check of Hugging Face cache blobs: LFS blobs are named by the sha256 of their
// content and git blobs by their git sha1, so a blob whose bytes do not hash to its name was altered.
import { hashFile } from '../io/fileHash';
import type { CachedSnapshot } from '../model/hfCache';

export type HashAlgorithm = 'sha256' | 'git-sha1';

export interface BlobCheck {
  relativePath: string;
  blobName: string;
  /** Which hash the blob name is: sha256 (64 hex, LFS / xet) or git blob sha1 (40 hex). */
  algorithm: HashAlgorithm;
  /** 'skipped' when the file is larger than `maxBytes`. */
  status: 'ok' | 'mismatch' | 'skipped';
  ok: boolean;
  /** sha256 of the content; undefined only when skipped. */
  actualSha256?: string;
  /** git blob sha1 of the content, for git-sha1 blobs. */
  actualGitSha1?: string;
}

export interface VerifyCachedBlobsOptions {
  /** Only check LFS blobs (sha256 names). Default true: git blobs are small text files. */
  onlyLfs?: boolean;
  /** Do not hash files larger than this (reported as 'skipped'). */
  maxBytes?: number;
  onProgress?: (progress: { relativePath: string; bytesHashed: number; totalBytes: number }) => void;
  signal?: AbortSignal;
}

const SHA256_NAME = /^[0-9a-f]{64}$/;
const GIT_SHA1_NAME = /^[0-9a-f]{40}$/;

/**
 * Hashes every blob of the snapshot whose name is a content hash and compares. Files that are
 * not links into blobs/ (degraded Windows caches) have no hash to check and are left out.
 */
export async function verifyCachedBlobs(snapshot: CachedSnapshot, options: VerifyCachedBlobsOptions = {}): Promise<BlobCheck[]> {
  const onlyLfs = options.onlyLfs ?? true;
  const checks: BlobCheck[] = [];
  for (const file of snapshot.files) {
    if (file.storage !== 'blob') continue;
    const algorithm: HashAlgorithm | undefined = SHA256_NAME.test(file.blobName)
      ? 'sha256'
      : GIT_SHA1_NAME.test(file.blobName) && !onlyLfs
        ? 'git-sha1'
        : undefined;
    if (algorithm === undefined) continue;
    const base = { relativePath: file.relativePath, blobName: file.blobName, algorithm };
    if (options.maxBytes !== undefined && file.sizeBytes > options.maxBytes) {
      checks.push({ ...base, status: 'skipped', ok: false });
      continue;
    }
    const hashes = await hashFile(file.blobPath, {
      gitSha1: algorithm === 'git-sha1',
      signal: options.signal,
      onProgress: options.onProgress && ((bytesHashed, totalBytes) => options.onProgress?.({ relativePath: file.relativePath, bytesHashed, totalBytes })),
    });
    const actual = algorithm === 'sha256' ? hashes.sha256 : hashes.gitSha1;
    const ok = actual === file.blobName;
    const check: BlobCheck = { ...base, status: ok ? 'ok' : 'mismatch', ok, actualSha256: hashes.sha256 };
    if (hashes.gitSha1 !== undefined) check.actualGitSha1 = hashes.gitSha1;
    checks.push(check);
  }
  return checks;
}
