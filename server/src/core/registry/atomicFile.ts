// The registry file's single-writer lock (taken over when its owner died), the cleanup of temp files
// that writers of earlier versions (whole-file replace) left behind, and the crash test's pause hook.
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';

/** Test hook: when set, a writer pauses just before its COMMIT (pages already spilled to the file) so a test can kill it there. */
export const PAUSE_BEFORE_RENAME_ENV = 'LINEAGE_TEST_PAUSE_BEFORE_RENAME';

function tempPrefix(target: string): string {
  return `${path.basename(target)}.tmp-`;
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Blocks this process (it is about to be killed by a test); announces what it was about to do on stderr. */
export function pauseForTest(temp: string): void {
  process.stderr.write(`lineage: paused before rename of ${temp}\n`);
  const waitMs = Number(process.env[PAUSE_BEFORE_RENAME_ENV]) || 60_000;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs);
}

/** Removes temp files of writers that died before their rename (their pid is gone). */
export function removeStaleTempFiles(target: string): string[] {
  const folder = path.dirname(target);
  const prefix = tempPrefix(target);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (isProcessAlive(pid) && pid !== process.pid) continue;
    try {
      unlinkSync(path.join(folder, name));
      removed.push(name);
    } catch {
      // Another cleaner got there first.
    }
  }
  return removed;
}

export interface FileLock {
  release(): void;
}

/** `<target>.writer.lock`: `<target>.lock` is the directory SQLite's file VFS locks with (node-sqlite3-wasm). */
export function writerLockPath(target: string): string {
  return `${target}.writer.lock`;
}

/** The pid of a live process holding the writer lock of `target`, if any. */
export function liveWriterPid(target: string): number | undefined {
  let owner = NaN;
  try {
    owner = Number(readFileSync(writerLockPath(target), 'utf8').slice(0, 32).trim());
  } catch {
    return undefined;
  }
  return isProcessAlive(owner) ? owner : undefined;
}

/**
 * An exclusive lock file (`<target>.writer.lock`, holding the owner's pid) so that two writers never
 * interleave read-modify-write cycles. A lock whose owner died (kill -9) is taken over.
 */
export function acquireLock(target: string): FileLock {
  const lockPath = writerLockPath(target);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(lockPath);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(lockPath, 'utf8').slice(0, 32).trim());
      } catch {
        continue; // Released between our open and read: try again.
      }
      if (isProcessAlive(owner)) throw new LockedError(target, owner);
      try {
        unlinkSync(lockPath);
      } catch {
        // Someone else removed the stale lock; retry.
      }
    }
  }
  throw new LockedError(target, NaN);
}

export class LockedError extends Error {
  constructor(target: string, owner: number) {
    super(`${target} is being written by another process${Number.isNaN(owner) ? '' : ` (pid ${owner})`}; try again when it has finished`);
    this.name = 'LockedError';
  }
}
