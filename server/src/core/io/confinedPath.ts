// The one way the engine opens a model's files: resolve the real path, check it lies inside the model
// folder (the repo folder for a Hugging Face cache snapshot), open that real path, then check the open
// descriptor again, so a symlink swapped in between check and open cannot lead outside either.
import { constants as fsConstants, type Stats } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { ModelFormatError } from '../errors';

/** A model file whose real path lies outside the folder it may use; it is neither read nor hashed. */
export class PathEscapeError extends ModelFormatError {
  constructor(
    file: string,
    readonly realPath: string,
    readonly root: string,
  ) {
    super(file, `links outside the model folder (to ${realPath}, outside ${root}); not read`);
    this.name = 'PathEscapeError';
  }
}

export function isPathInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/** How far up from a model folder to look for an enclosing HF cache snapshot. */
const MAX_SNAPSHOT_NESTING = 34;

/**
 * The folder whose contents a model's files may resolve into (a real path): the repo's cache folder
 * when `folder` is inside `<cache>/models--x--y/snapshots/<revision>/` (snapshot entries are links
 * into ../../blobs of the same repo), otherwise the folder itself.
 */
export async function confinementRoot(folder: string): Promise<string> {
  const real = await realpath(folder);
  let current = real;
  for (let i = 0; i < MAX_SNAPSHOT_NESTING; i++) {
    const parent = path.dirname(current);
    if (parent === current) break;
    const repoFolder = path.dirname(parent);
    if (path.basename(parent) === 'snapshots' && /^(?:models|datasets|spaces)--./.test(path.basename(repoFolder))) return repoFolder;
    current = parent;
  }
  return real;
}

/** The real path of `file` after checking it lies inside `root` (default: confinementRoot of its folder). */
export async function resolveConfined(file: string, root?: string): Promise<string> {
  const rootReal = root === undefined ? await confinementRoot(path.dirname(file)) : await realpath(root);
  return checkedRealPath(file, rootReal);
}

async function checkedRealPath(file: string, rootReal: string): Promise<string> {
  const real = await realpath(file);
  if (!isPathInside(rootReal, real)) throw new PathEscapeError(file, real, rootReal);
  return real;
}

export interface ConfinedFile {
  handle: FileHandle;
  realPath: string;
  stats: Stats;
}

// O_NONBLOCK: a FIFO planted under a model file name must not hang the reader. O_NOFOLLOW: the
// resolved path's last component must not have become a symlink since realpath.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

/**
 * Opens `file` for reading if it is a regular file inside `root` (default: confinementRoot of its
 * folder). Throws PathEscapeError when it resolves outside, ModelFormatError for non-regular files,
 * and the file system's error (ENOENT, ...) when it cannot be opened. The caller closes the handle.
 */
export async function openConfined(file: string, root?: string): Promise<ConfinedFile> {
  const rootReal = root === undefined ? await confinementRoot(path.dirname(file)) : await realpath(root);
  const realPath = await checkedRealPath(file, rootReal);
  const handle = await open(realPath, OPEN_FLAGS);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new ModelFormatError(file, 'not a regular file');
    await checkOpenedDescriptor(handle, stats, file, realPath, rootReal);
    return { handle, realPath, stats };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * After open: where does the descriptor really lead? Linux names it in /proc/self/fd; elsewhere the
 * path must still name the very file opened (same device and inode), so a directory swapped in
 * between realpath and open is caught either way.
 */
async function checkOpenedDescriptor(handle: FileHandle, stats: Stats, file: string, realPath: string, rootReal: string): Promise<void> {
  const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
  if (opened !== undefined && path.isAbsolute(opened)) {
    if (!isPathInside(rootReal, opened)) throw new PathEscapeError(file, opened, rootReal);
    return;
  }
  const now = await stat(realPath).catch(() => undefined);
  if (!now || now.dev !== stats.dev || now.ino !== stats.ino) throw new ModelFormatError(file, 'changed while it was being opened; not read');
}
