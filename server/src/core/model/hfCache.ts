// Offline lookup of repositories in the local Hugging Face hub cache (models--org--name/{refs,
// blobs,snapshots}), without following any link that leaves the repository's cache folder.
import { readdir, realpath, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isPathInside, readBoundedTextFile } from './config';
import { isPinnedRevision, isValidRepoId, isValidRevision, type RepoType } from './reference';

export interface CachedFile {
  /** Path inside the snapshot, with `/` separators (`onnx/model.onnx`). */
  relativePath: string;
  /** The entry in `snapshots/<commit>/` (usually a symlink). */
  path: string;
  /** Real path of the bytes, after following the symlink (inside the repo folder). */
  blobPath: string;
  sizeBytes: number;
  /** Basename of blobPath: the sha256 for LFS files, the git blob sha1 for small ones. */
  blobName: string;
  /**
   * 'blob': a link into `blobs/`, so blobName is a content hash that can be verified.
   * 'file': a real file in the snapshot (Windows without symlinks) or a link elsewhere inside the repo.
   */
  storage: 'blob' | 'file';
}

export type CacheProblemKind =
  | 'symlink-escapes-repo'
  | 'dangling-symlink'
  | 'symlinked-folder'
  | 'not-a-file'
  | 'invalid-ref'
  | 'too-many-entries';

/** Something in the cache folder that is not what the layout promises; never followed. */
export interface CacheIntegrityProblem {
  kind: CacheProblemKind;
  /** Path relative to the snapshot (files) or to the repo folder (refs). */
  relativePath: string;
  message: string;
}

export interface CachedSnapshot {
  repoId: string;
  repoType: RepoType;
  cacheRoot: string;
  /** The repo's cache folder (real path), e.g. `<root>/models--org--name`. */
  repoFolder: string;
  revisionAsked?: string;
  commit: string;
  /**
   * How `commit` was chosen: the revision was a commit, a ref named it, or no revision was asked
   * and `refs/main` was absent, so the only (or the most recently written) snapshot was taken.
   */
  resolvedBy: 'commit' | 'ref' | 'only-snapshot' | 'newest-snapshot';
  snapshotFolder: string;
  files: CachedFile[];
  /** Ref name -> commit, e.g. { main: '…', 'v1.0': '…', 'refs/pr/1': '…' }. */
  refs: Record<string, string>;
  /** Every commit that has a snapshot folder, sorted. */
  snapshots: string[];
  problems: CacheIntegrityProblem[];
}

export interface FindCachedRepoOptions {
  repoType?: RepoType;
  revision?: string;
  /** Defaults to hfCacheRoots(). */
  cacheRoots?: readonly string[];
}

/** A snapshot with more entries than this is not a model download; stop walking rather than exhaust memory. */
export const MAX_SNAPSHOT_ENTRIES = 100_000;
const MAX_SNAPSHOT_DEPTH = 32;
const MAX_REF_FILES = 1_000;
/** A ref file holds one 40-hex line; anything much larger is not a ref. */
const MAX_REF_BYTES = 1_024;

const REPO_TYPE_PLURAL: Readonly<Record<RepoType, string>> = { model: 'models', dataset: 'datasets', space: 'spaces' };

/**
 * Candidate cache roots in precedence order: HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > $HF_HOME/hub >
 * $XDG_CACHE_HOME/huggingface/hub > ~/.cache/huggingface/hub. Python uses only the first; we also
 * return the later ones (deduplicated) because the editor's environment often differs from the
 * shell that downloaded the model, and a lookup takes the first root that has the repo.
 * Values get `~` and `$VAR` / `${VAR}` expanded, as huggingface_hub does.
 */
export function hfCacheRoots(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string[] {
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : expandUserAndVars(raw.trim(), env, home);
  };
  const candidates: Array<string | undefined> = [
    value('HF_HUB_CACHE'),
    value('HUGGINGFACE_HUB_CACHE'),
    mapDefined(value('HF_HOME'), (h) => path.join(h, 'hub')),
    mapDefined(value('XDG_CACHE_HOME'), (x) => path.join(x, 'huggingface', 'hub')),
    path.join(home, '.cache', 'huggingface', 'hub'),
  ];
  const roots: string[] = [];
  for (const c of candidates) {
    if (c === undefined) continue;
    const resolved = path.resolve(c);
    if (!roots.includes(resolved)) roots.push(resolved);
  }
  return roots;
}

function mapDefined<T, U>(v: T | undefined, f: (v: T) => U): U | undefined {
  return v === undefined ? undefined : f(v);
}

function expandUserAndVars(value: string, env: NodeJS.ProcessEnv, home: string): string {
  // Like os.path.expandvars: unknown variables stay as written.
  const withVars = value.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    return env[name] ?? whole;
  });
  if (withVars === '~') return home;
  if (withVars.startsWith('~/') || withVars.startsWith('~\\')) return path.join(home, withVars.slice(2));
  return withVars;
}

/** `models--org--name` -> `org/name`; undefined for datasets, spaces and anything else in a cache root. */
export function repoIdFromCacheFolder(folderName: string): string | undefined {
  if (!folderName.startsWith('models--')) return undefined;
  const parts = folderName.slice('models--'.length).split('--');
  return parts.every((p) => p.length > 0) ? parts.join('/') : undefined;
}

/** `models--org--name` for ('org/name', 'model'); the cache keeps the casing of the id used to download. */
export function repoFolderName(repoId: string, repoType: RepoType = 'model'): string {
  return `${REPO_TYPE_PLURAL[repoType]}--${repoId.split('/').join('--')}`;
}

/**
 * Finds a cached snapshot of `repoId` at `revision`. The repo folder is matched case-insensitively
 * (the Hub ignores case, the cache keeps whatever the downloader typed), exact case first.
 * Revision resolution: a 40-hex commit -> snapshots/<commit>; another revision -> refs/<revision>
 * (`refs/pr/1` is the nested file refs/refs/pr/1) -> snapshots/<sha>; no revision -> refs/main,
 * or when that is missing the only snapshot, or the most recently modified one (resolvedBy says
 * which, so callers can report "branch unknown"). Undefined when nothing matching is cached.
 */
export async function findCachedRepo(repoId: string, options: FindCachedRepoOptions = {}): Promise<CachedSnapshot | undefined> {
  // Validating the id first also guarantees it cannot smuggle `..` or separators into a path.
  if (!isValidRepoId(repoId)) return undefined;
  const revision = options.revision;
  if (revision !== undefined && !isPinnedRevision(revision) && !isValidRevision(revision)) return undefined;
  const repoType = options.repoType ?? 'model';
  const wanted = repoFolderName(repoId, repoType);
  for (const root of options.cacheRoots ?? hfCacheRoots()) {
    for (const folderName of await matchingRepoFolders(root, wanted)) {
      const snapshot = await openSnapshot(root, path.join(root, folderName), repoId, repoType, revision);
      if (snapshot) return snapshot;
    }
  }
  return undefined;
}

/** Folder names in `root` equal to `wanted` ignoring case; the exact-case one first, then sorted. */
async function matchingRepoFolders(root: string, wanted: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const lower = wanted.toLowerCase();
  // A symlinked repo folder (moved to a bigger disk) is accepted; its links are vetted against its real path.
  const matches = entries.filter((e) => (e.isDirectory() || e.isSymbolicLink()) && e.name.toLowerCase() === lower).map((e) => e.name);
  return matches.sort((a, b) => (a === wanted ? -1 : b === wanted ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

async function openSnapshot(
  cacheRoot: string,
  repoFolderPath: string,
  repoId: string,
  repoType: RepoType,
  revision: string | undefined,
): Promise<CachedSnapshot | undefined> {
  const repoFolder = await realpath(repoFolderPath).catch(() => undefined);
  if (repoFolder === undefined || !(await stat(repoFolder)).isDirectory()) return undefined;
  const problems: CacheIntegrityProblem[] = [];
  const refs = await readRefs(repoFolder, problems);
  const snapshots = await listSnapshotCommits(repoFolder);

  let commit: string | undefined;
  let resolvedBy: CachedSnapshot['resolvedBy'];
  if (revision !== undefined && isPinnedRevision(revision)) {
    commit = revision;
    resolvedBy = 'commit';
  } else if (revision !== undefined || refs['main'] !== undefined) {
    commit = refs[revision ?? 'main'];
    resolvedBy = 'ref';
  } else if (snapshots.length === 1) {
    commit = snapshots[0];
    resolvedBy = 'only-snapshot';
  } else {
    commit = await newestSnapshot(repoFolder, snapshots);
    resolvedBy = 'newest-snapshot';
  }
  if (commit === undefined || !snapshots.includes(commit)) return undefined;

  const snapshotFolder = path.join(repoFolder, 'snapshots', commit);
  const files = await listSnapshotFiles(repoFolder, snapshotFolder, problems);
  const snapshot: CachedSnapshot = {
    repoId,
    repoType,
    cacheRoot,
    repoFolder,
    commit,
    resolvedBy,
    snapshotFolder,
    files,
    refs,
    snapshots,
    problems,
  };
  if (revision !== undefined) snapshot.revisionAsked = revision;
  return snapshot;
}

/** Reads every ref file under refs/ (nested for `refs/pr/N`); invalid ones become problems. */
async function readRefs(repoFolder: string, problems: CacheIntegrityProblem[]): Promise<Record<string, string>> {
  // A null-prototype record: ref names come from the file system and could be `__proto__`.
  const refs: Record<string, string> = Object.create(null) as Record<string, string>;
  const refsFolder = path.join(repoFolder, 'refs');
  let seen = 0;
  const walk = async (folder: string, prefix: string, depth: number): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (++seen > MAX_REF_FILES) {
        problems.push({ kind: 'too-many-entries', relativePath: 'refs', message: `more than ${MAX_REF_FILES} refs; the rest were not read` });
        return;
      }
      const full = path.join(folder, entry.name);
      if (entry.isDirectory() && depth < 8) {
        await walk(full, name, depth + 1);
      } else if (entry.isFile()) {
        const content = await readBoundedTextFile(full, MAX_REF_BYTES).catch(() => undefined);
        const sha = content?.trim();
        if (sha !== undefined && isPinnedRevision(sha)) refs[name] = sha;
        else problems.push({ kind: 'invalid-ref', relativePath: `refs/${name}`, message: `refs/${name} does not hold a 40-hex commit id` });
      } else {
        // A symlinked ref could point anywhere; refs are always plain files.
        problems.push({ kind: 'invalid-ref', relativePath: `refs/${name}`, message: `refs/${name} is not a plain file; ignored` });
      }
    }
  };
  await walk(refsFolder, '', 0);
  return refs;
}

async function listSnapshotCommits(repoFolder: string): Promise<string[]> {
  const entries = await readdir(path.join(repoFolder, 'snapshots'), { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && isPinnedRevision(e.name)).map((e) => e.name).sort();
}

/** The snapshot folder modified last; ties broken by name so the choice is deterministic. */
async function newestSnapshot(repoFolder: string, commits: string[]): Promise<string | undefined> {
  let best: { commit: string; mtimeMs: number } | undefined;
  for (const commit of commits) {
    const info = await stat(path.join(repoFolder, 'snapshots', commit)).catch(() => undefined);
    if (!info) continue;
    if (!best || info.mtimeMs > best.mtimeMs) best = { commit, mtimeMs: info.mtimeMs };
  }
  return best?.commit;
}

/** Walks snapshots/<commit>/ and vets every link: its real target must stay inside the repo folder. */
async function listSnapshotFiles(repoFolder: string, snapshotFolder: string, problems: CacheIntegrityProblem[]): Promise<CachedFile[]> {
  const files: CachedFile[] = [];
  const blobsFolder = path.join(repoFolder, 'blobs');
  let entriesSeen = 0;
  const walk = async (folder: string, prefix: string, depth: number): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (++entriesSeen > MAX_SNAPSHOT_ENTRIES) {
        if (entriesSeen === MAX_SNAPSHOT_ENTRIES + 1) {
          problems.push({ kind: 'too-many-entries', relativePath: '', message: `snapshot has more than ${MAX_SNAPSHOT_ENTRIES} entries; the rest were not listed` });
        }
        return;
      }
      const relativePath = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      const entryPath = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (depth < MAX_SNAPSHOT_DEPTH) await walk(entryPath, relativePath, depth + 1);
        continue;
      }
      const file = await vetSnapshotEntry(repoFolder, blobsFolder, entryPath, relativePath, entry.isSymbolicLink(), problems);
      if (file) files.push(file);
    }
  };
  await walk(snapshotFolder, '', 0);
  return files.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
}

async function vetSnapshotEntry(
  repoFolder: string,
  blobsFolder: string,
  entryPath: string,
  relativePath: string,
  isSymlink: boolean,
  problems: CacheIntegrityProblem[],
): Promise<CachedFile | undefined> {
  const target = await realpath(entryPath).catch(() => undefined);
  if (target === undefined) {
    problems.push({ kind: 'dangling-symlink', relativePath, message: `${relativePath} points to a missing blob (interrupted download or deleted blob)` });
    return undefined;
  }
  if (!isPathInside(repoFolder, target)) {
    problems.push({
      kind: 'symlink-escapes-repo',
      relativePath,
      message: `${relativePath} links outside the repository's cache folder (to ${target}); not followed`,
    });
    return undefined;
  }
  const info = await stat(target).catch(() => undefined);
  if (info?.isDirectory()) {
    problems.push({ kind: 'symlinked-folder', relativePath, message: `${relativePath} is a link to a folder; the cache never links folders, not followed` });
    return undefined;
  }
  if (!info?.isFile()) {
    problems.push({ kind: 'not-a-file', relativePath, message: `${relativePath} is not a regular file` });
    return undefined;
  }
  const inBlobs = isSymlink && path.dirname(target) === blobsFolder;
  return {
    relativePath,
    path: entryPath,
    blobPath: target,
    sizeBytes: info.size,
    blobName: path.basename(target),
    storage: inBlobs ? 'blob' : 'file',
  };
}
