// The one resolver of model references, for the CLI and the editor alike: a workspace path (only
// inside the allowed folders), else the local Hugging Face cache at the revision asked, with the
// file a `filename=` (glob) or a GGUF quant selector names. Reads listings and stats, never weights.
import { createHash } from 'node:crypto';
import { readdir, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { errorMessage } from '../errors';
import { isPathInside } from './config';
import { findCachedRepo, repoIdFromCacheFolder, type CachedSnapshot } from './hfCache';
import type { ModelReference } from './reference';
import { isWeightFileName } from './weightExtensions';

/** Where a reference's bytes were found. */
export type ResolutionKind = 'workspace' | 'hf-cache' | 'registry' | 'unavailable' | 'dynamic' | 'not-a-model';

export interface Resolution {
  kind: ResolutionKind;
  /** Folder or file the model was opened from (workspace path or cache snapshot folder). */
  path?: string;
  repoId?: string;
  /** Commit of the cached snapshot (40 hex). */
  commit?: string;
  /** The revision the reference asked for (as written), if any. */
  revisionAsked?: string;
  /** How the cached commit was chosen (see hfCache.CachedSnapshot.resolvedBy). */
  resolvedBy?: 'commit' | 'ref' | 'only-snapshot' | 'newest-snapshot';
  /** File inside the repository the reference selects (`filename=`, a `:Q4_K_M` quant), relative to the snapshot. */
  file?: string;
  /** Other cached commits of the same repo (drift when the pinned one is missing). */
  otherCachedCommits?: string[];
  /** Content identity of the resolved files (sha256 over names and content hashes or sizes and times). */
  contentIdentity?: string;
  /** Why the reference could not be resolved, in words a user acts on. */
  detail?: string;
}

/** What the resolver needs to know about one reference site. */
export interface ResolveInput {
  id: string;
  reference?: ModelReference;
  /** The static revision, when the document states one. */
  revision?: string;
  kind: 'model' | 'dataset' | 'adapter' | 'base-model-claim';
  file?: string;
  quant?: string;
  dynamic?: boolean;
  implicitDefault?: boolean;
  /** Folder of the document, for relative paths (loaders resolve them against the working directory). */
  documentFolder?: string;
  /** Resolve only if the folder holds weight files (the model a card or adapter config describes). */
  requireWeights?: boolean;
}

/** Files in a folder model larger than this many entries are not a model folder; stop listing. */
const MAX_FOLDER_ENTRIES = 10_000;

/** Resolves every input; one that fails is `unavailable` with the reason. */
export async function resolveReferences(inputs: readonly ResolveInput[], workspaceFolders: readonly string[], cacheRoots: readonly string[], signal?: AbortSignal): Promise<Resolution[]> {
  const resolutions: Resolution[] = [];
  for (const input of inputs) {
    signal?.throwIfAborted();
    resolutions.push(await resolveReference(input, workspaceFolders, cacheRoots).catch((err: unknown) => ({ kind: 'unavailable' as const, detail: errorMessage(err) })));
  }
  return resolutions;
}

/** Resolves one reference: workspace path first (loaders check `os.path.isdir` first), then the HF cache. */
export async function resolveReference(input: ResolveInput, workspaceFolders: readonly string[], cacheRoots: readonly string[]): Promise<Resolution> {
  const revisionAsked = input.revision;
  const base = revisionAsked === undefined ? {} : { revisionAsked };
  if (input.implicitDefault) return { kind: 'dynamic', detail: 'the library picks a default model for this task' };
  if (input.dynamic || input.reference === undefined) {
    if (input.requireWeights && input.documentFolder !== undefined) return resolveLocalPath(input.documentFolder, input, workspaceFolders);
    return { kind: 'dynamic', detail: 'the id is computed at run time (variable, f-string or environment variable)' };
  }
  const reference = input.reference;
  if (reference.kind === 'local') return resolveLocalPath(reference.path, input, workspaceFolders);

  // `from_pretrained("checkpoints/final")` loads the folder when it exists, whatever the Hub holds.
  if (reference.source === 'id' && input.kind !== 'base-model-claim') {
    const local = await findWorkspacePath(reference.repoId, input.documentFolder, workspaceFolders);
    if (local !== undefined) return { ...(await localResolution(local)), ...base };
  }
  const repoType = input.kind === 'dataset' ? 'dataset' : reference.repoType;
  const revision = revisionAsked ?? reference.revision;
  const snapshot = await findCachedRepo(reference.repoId, { repoType, revision, cacheRoots });
  if (!snapshot) {
    const anyRevision = revision === undefined ? undefined : await findCachedRepo(reference.repoId, { repoType, cacheRoots });
    const detail = anyRevision
      ? `${reference.repoId} is cached, but not at ${revision} (cached commits: ${anyRevision.snapshots.map((c) => c.slice(0, 12)).join(', ')})`
      : `${reference.repoId} is not in the workspace or the local Hugging Face cache (${cacheRoots.join(', ') || 'no cache folder'})`;
    const resolution: Resolution = { kind: 'unavailable', repoId: reference.repoId, detail, ...base };
    if (anyRevision) resolution.otherCachedCommits = anyRevision.snapshots;
    return resolution;
  }
  const file = chooseRepoFile(snapshot, reference.file ?? input.file, input.quant);
  const resolution: Resolution = {
    kind: 'hf-cache',
    path: file === undefined ? snapshot.snapshotFolder : path.join(snapshot.snapshotFolder, file),
    repoId: reference.repoId,
    commit: snapshot.commit,
    resolvedBy: snapshot.resolvedBy,
    contentIdentity: snapshotIdentity(snapshot, file),
    ...base,
  };
  if (file !== undefined) resolution.file = file;
  if (input.kind === 'dataset') resolution.detail = 'dataset';
  return resolution;
}

async function resolveLocalPath(written: string, input: ResolveInput, workspaceFolders: readonly string[]): Promise<Resolution> {
  const found = await findWorkspacePath(written, input.documentFolder, workspaceFolders);
  if (found === undefined) {
    return { kind: input.requireWeights ? 'not-a-model' : 'unavailable', detail: `${written} does not exist inside a workspace folder` };
  }
  if (input.requireWeights && !(await folderHoldsWeights(found))) return { kind: 'not-a-model', detail: `${found} holds no weight files` };
  return localResolution(found);
}

/**
 * A path named by the document, looked up relative to the document and to each workspace folder.
 * Only paths inside a workspace folder are accepted: a document must not make the server open
 * arbitrary files of the machine.
 */
async function findWorkspacePath(written: string, documentFolder: string | undefined, workspaceFolders: readonly string[]): Promise<string | undefined> {
  const expanded = written.replace(/^~(?=[\\/]|$)/, process.env['HOME'] ?? '~');
  const candidates = path.isAbsolute(expanded)
    ? [expanded]
    : [...(documentFolder === undefined ? [] : [path.resolve(documentFolder, expanded)]), ...workspaceFolders.map((w) => path.resolve(w, expanded))];
  const realFolders = await Promise.all(workspaceFolders.map((w) => realpath(w).catch(() => w)));
  for (const candidate of candidates) {
    const real = await realpath(candidate).catch(() => undefined);
    if (real === undefined) continue;
    if (realFolders.some((folder) => real === folder || isPathInside(folder, real))) return real;
  }
  return undefined;
}

async function folderHoldsWeights(folder: string): Promise<boolean> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  return entries.some((e) => (e.isFile() || e.isSymbolicLink()) && isWeightFileName(e.name));
}

async function localResolution(target: string): Promise<Resolution> {
  return { kind: 'workspace', path: target, contentIdentity: await localIdentity(target) };
}

/**
 * Content identity of a workspace model without hashing gigabytes on every keystroke: names,
 * sizes and modification times of the folder's files. Any rewrite of a file changes it.
 */
async function localIdentity(target: string): Promise<string> {
  const hash = createHash('sha256').update('workspace\0').update(target);
  const info = await stat(target);
  if (info.isFile()) return hash.update(`\0${info.size}\0${info.mtimeMs}`).digest('hex');
  const entries = (await readdir(target, { withFileTypes: true })).slice(0, MAX_FOLDER_ENTRIES).map((e) => e.name).sort();
  for (const name of entries) {
    const entry = await stat(path.join(target, name)).catch(() => undefined);
    if (entry?.isFile()) hash.update(`\0${name}\0${entry.size}\0${entry.mtimeMs}`);
  }
  return hash.digest('hex');
}

/** Cache blobs are named by their content hash, so the listing alone identifies the content. */
function snapshotIdentity(snapshot: CachedSnapshot, file: string | undefined): string {
  const hash = createHash('sha256').update(`hf-cache\0${snapshot.repoFolder}\0${snapshot.commit}\0${file ?? ''}`);
  for (const f of snapshot.files) hash.update(`\0${f.relativePath}\0${f.blobName}\0${f.sizeBytes}`);
  return hash.digest('hex');
}

/** The snapshot file a `filename=` (possibly a glob) or a GGUF quant selector names. */
export function chooseRepoFile(snapshot: CachedSnapshot, file: string | undefined, quant: string | undefined): string | undefined {
  const names = snapshot.files.map((f) => f.relativePath);
  if (file !== undefined) {
    if (names.includes(file)) return file;
    if (file.includes('*')) {
      const regex = new RegExp('^' + file.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
      return names.find((name) => regex.test(name));
    }
    return undefined;
  }
  if (quant !== undefined) {
    const lower = quant.toLowerCase();
    return names.find((name) => name.toLowerCase().endsWith('.gguf') && (name.toLowerCase() === lower || name.toLowerCase().includes(lower)));
  }
  return undefined;
}


/** Every cached model repo at its `main` (or only) snapshot, as candidates for local lineage checks. */
export async function listCachedModels(job: { cacheRoots: readonly string[]; maxModels: number }): Promise<Resolution[]> {
  const found: Resolution[] = [];
  const seen = new Set<string>();
  for (const root of job.cacheRoots) {
    const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (found.length >= job.maxModels) return found;
      const repoId = repoIdFromCacheFolder(entry.name);
      if (repoId === undefined) continue;
      if (seen.has(repoId.toLowerCase())) continue;
      seen.add(repoId.toLowerCase());
      const snapshot = await findCachedRepo(repoId, { cacheRoots: [root] }).catch(() => undefined);
      if (!snapshot || !snapshot.files.some((f) => isWeightFileName(f.relativePath))) continue;
      found.push({
        kind: 'hf-cache',
        path: snapshot.snapshotFolder,
        repoId,
        commit: snapshot.commit,
        resolvedBy: snapshot.resolvedBy,
        contentIdentity: snapshotIdentity(snapshot, undefined),
      });
    }
  }
  return found;
}

