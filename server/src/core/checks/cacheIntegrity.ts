// Offline integrity check of Hugging Face cache blobs: LFS blobs are named by the sha256 of their
// content and git blobs by their git sha1, so a blob whose bytes do not hash to its name was altered.
import { createHash, type Hash } from 'node:crypto';
import { openConfined } from '../io/confinedPath';
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

export type ProgressCallback = (bytesHashed: number, totalBytes: number) => void;

const SHA256_NAME = /^[0-9a-f]{64}$/;
const GIT_SHA1_NAME = /^[0-9a-f]{40}$/;
/** Large chunks keep the hashing CPU-bound rather than syscall-bound on multi-GB weight files. */
const HASH_CHUNK_BYTES = 4 * 1024 * 1024;

interface FileHashes {
  sha256: string;
  gitSha1?: string;
}

/**
 * Streams a file through sha256 (and optionally git's blob sha1, which prefixes the content with
 * "blob <size>\0") in fixed-size chunks: memory stays constant whatever the file size.
 */
async function hashFile(file: string, options: { gitSha1: boolean; onProgress?: ProgressCallback; signal?: AbortSignal; root?: string }): Promise<FileHashes> {
  // Confined like every model read: a file linking outside the model folder is never hashed.
  const { handle, stats: info } = await openConfined(file, options.root);
  try {
    const sha256 = createHash('sha256');
    let gitSha1: Hash | undefined;
    if (options.gitSha1) {
      gitSha1 = createHash('sha1');
      gitSha1.update(`blob ${info.size}\0`);
    }
    let bytesHashed = 0;
    const stream = handle.createReadStream({ highWaterMark: HASH_CHUNK_BYTES, autoClose: false, start: 0 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      sha256.update(chunk);
      gitSha1?.update(chunk);
      bytesHashed += chunk.length;
      options.onProgress?.(bytesHashed, info.size);
    }
    // A file that changed size while we read it would otherwise get a wrong git header silently.
    if (gitSha1 && bytesHashed !== info.size) throw new Error(`${file}: file changed while hashing (${info.size} -> ${bytesHashed} bytes)`);
    return { sha256: sha256.digest('hex'), gitSha1: gitSha1?.digest('hex') };
  } finally {
    await handle.close();
  }
}

/**
 * sha256 hex of a file, read as a stream; `onProgress` gets (bytesHashed, totalBytes) per chunk. The
 * file must resolve inside `root` (default: its folder, or the repo folder of a cache snapshot).
 */
export async function sha256File(file: string, onProgress?: ProgressCallback, signal?: AbortSignal, root?: string): Promise<string> {
  return (await hashFile(file, { gitSha1: false, onProgress, signal, root })).sha256;
}

/** git's object id of a file's content: sha1("blob <size>\0" + content). */
export async function gitBlobSha1File(file: string): Promise<string> {
  const hashes = await hashFile(file, { gitSha1: true });
  return hashes.gitSha1!;
}

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
