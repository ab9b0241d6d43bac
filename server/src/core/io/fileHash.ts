// Streaming file hashes (sha256, git blob sha1) in fixed-size chunks: constant memory whatever the
// file size. Files are opened through the model-folder confinement like every other model read.
// Used by fingerprints (file identity), inspect --hash and the cache-integrity check.
import { createHash, type Hash } from 'node:crypto';
import { openConfined } from './confinedPath';

export type ProgressCallback = (bytesHashed: number, totalBytes: number) => void;

/** Large chunks keep the hashing CPU-bound rather than syscall-bound on multi-GB weight files. */
const HASH_CHUNK_BYTES = 4 * 1024 * 1024;

export interface FileHashes {
  sha256: string;
  gitSha1?: string;
}

/**
 * Streams a file through sha256 (and optionally git's blob sha1, which prefixes the content with
 * "blob <size>\0") in fixed-size chunks: memory stays constant whatever the file size.
 */
export async function hashFile(file: string, options: { gitSha1: boolean; onProgress?: ProgressCallback; signal?: AbortSignal; root?: string }): Promise<FileHashes> {
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
