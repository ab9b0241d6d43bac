// The lockfile `lineage.lock.json`: per referenced model the commit, every weight file's sha256, the
// fingerprint digest and the declared-base verdicts. `lineage lock` writes it; analysis compares (LL011).
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { hashFile } from '../core/io/fileHash';
import { isPinnedRevision } from '../core/model/reference';
import { isWeightFileName } from '../core/model/weightExtensions';
import { LruCache } from '../core/util/lruCache';
import type { ModelReferenceSite } from '../references';
import { hubRepoFactsOf, type ReferenceStatus } from '../protocol';
import { isTextLink } from './referenceFacts';

export const LOCK_FILE_NAME = 'lineage.lock.json';
export const LOCKFILE_VERSION = 1;
const MAX_LOCK_BYTES = 16 * 1024 * 1024;
const MAX_LOCK_ENTRIES = 20_000;
const MAX_FILES_PER_ENTRY = 10_000;
const HEX64 = /^[0-9a-f]{64}$/;

export interface LockedFile {
  /** POSIX path inside the model (snapshot or folder). */
  path: string;
  sha256: string;
}

export interface LockedDeclaredBase {
  baseModel: string;
  status: string;
  verdict?: string;
}

/** One referenced model as it was when the lock was written. */
export interface LockEntry {
  /** `hf:org/name` (plus `/file` or `:quant` when the reference selects one file) or `path:<folder relative to the root>`. */
  key: string;
  /** The id as written in the first reference. */
  id: string;
  /** The revision the references state (absent: the default branch). */
  revision?: string;
  /** The 40-hex commit the reference resolved to. */
  commit?: string;
  /** Every weight file with its sha256 (the Hub's LFS oid for a cache blob); empty when the model was on no disk. */
  files: LockedFile[];
  /** `sha256:…` over the fingerprint's signals. */
  fingerprint?: string;
  declaredBases: LockedDeclaredBase[];
}

export interface LineageLock {
  lockfileVersion: typeof LOCKFILE_VERSION;
  models: LockEntry[];
}

/** How a reference differs from its lock entry. */
export type LockDrift =
  | { kind: 'missing'; key: string }
  | { kind: 'revision-changed'; lockedRevision: string | undefined; lockedCommit: string | undefined }
  | { kind: 'commit-moved'; lockedCommit: string; currentCommit: string }
  | { kind: 'file-changed'; file: string; lockedSha256: string; currentSha256: string }
  | { kind: 'file-missing'; file: string }
  | { kind: 'file-added'; file: string };

export class LockfileError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'LockfileError';
  }
}

/** References that load bytes a lock can pin: models and adapters named statically, not links in prose. */
export function isLockable(site: ModelReferenceSite): boolean {
  return (site.kind === 'model' || site.kind === 'adapter') && site.reference !== undefined && !site.flags.dynamic && !site.flags.implicitDefault && site.revision?.dynamic !== true && !isTextLink(site);
}

/** The lock key of a reference, or undefined when it names nothing lockable (a local path that resolved nowhere). */
export function lockKeyOf(site: ModelReferenceSite, status: ReferenceStatus, root: string): string | undefined {
  const reference = site.reference;
  if (!reference) return undefined;
  if (reference.kind === 'hub') {
    const selector = site.file !== undefined ? `/${site.file}` : site.quant !== undefined ? `:${site.quant}` : '';
    return `hf:${reference.repoId.toLowerCase()}${selector}`;
  }
  if (status.resolution.kind !== 'workspace' || status.resolution.path === undefined) return undefined;
  return `path:${toPosix(path.relative(root, status.resolution.path)) || '.'}`;
}

/** The commit a reference loads now: the cached or registered commit, else the Hub's, else a pinned revision. */
export function currentCommitOf(status: ReferenceStatus): string | undefined {
  const { kind, commit } = status.resolution;
  if ((kind === 'hf-cache' || kind === 'registry') && isPinnedRevision(commit)) return commit!.toLowerCase();
  const hub = hubRepoFactsOf(status);
  if (hub && isPinnedRevision(hub.commit)) return hub.commit.toLowerCase();
  return isPinnedRevision(status.revision) ? status.revision!.toLowerCase() : undefined;
}

// Workspace weight files are hashed once per size and modification time.
const workspaceHashes = new LruCache<string, Promise<string>>(4_096);

function hashWorkspaceFile(file: string, sizeBytes: number, mtimeMs: number): Promise<string> {
  const key = `${file}|${sizeBytes}|${mtimeMs}`;
  let hash = workspaceHashes.get(key);
  if (!hash) {
    hash = hashFile(file, { gitSha1: false }).then((h) => h.sha256);
    // Callers handle the failure; this keeps an unreadable file from being an unhandled rejection.
    hash.catch(() => undefined);
    workspaceHashes.set(key, hash);
  }
  return hash;
}

/**
 * The weight files of a model on disk with their sha256: for a cache snapshot the integrity check's
 * content hash (or the blob's name, the Hub's LFS oid, when it was too large to hash); a workspace
 * model's files are hashed here. Undefined when the model is on no disk.
 */
export async function currentWeightHashes(status: ReferenceStatus): Promise<LockedFile[] | undefined> {
  const facts = status.model;
  if (!facts) return undefined;
  if (status.resolution.kind === 'hf-cache') {
    return facts.integrity
      .filter((entry) => isWeightFileName(entry.relativePath))
      .map((entry) => ({ path: toPosix(entry.relativePath), sha256: entry.actualSha256 ?? (HEX64.test(entry.blobName) ? entry.blobName : '') }))
      .filter((f) => f.sha256 !== '')
      .sort(byPath);
  }
  const modelPath = status.resolution.path;
  if (status.resolution.kind !== 'workspace' || modelPath === undefined) return undefined;
  const info = await stat(modelPath).catch(() => undefined);
  if (!info) return undefined;
  const root = info.isFile() ? path.dirname(modelPath) : modelPath;
  const candidates = info.isFile() ? [path.basename(modelPath)] : facts.files.map((f) => f.relativePath).filter((p) => isWeightFileName(p));
  const files: LockedFile[] = [];
  for (const relative of candidates) {
    const full = path.join(root, relative);
    // Never follow a listed name out of the model folder.
    if (path.relative(root, full).startsWith('..')) continue;
    const fileInfo = await stat(full).catch(() => undefined);
    if (!fileInfo?.isFile()) continue;
    const sha256 = await hashWorkspaceFile(full, fileInfo.size, fileInfo.mtimeMs).catch(() => undefined);
    if (sha256 !== undefined) files.push({ path: toPosix(relative), sha256 });
  }
  return files.sort(byPath);
}

/** The lock entry a reference should have now (what `lineage lock` writes). */
export async function lockEntryFor(site: ModelReferenceSite, status: ReferenceStatus, root: string): Promise<LockEntry | undefined> {
  if (!isLockable(site)) return undefined;
  const key = lockKeyOf(site, status, root);
  if (key === undefined) return undefined;
  const entry: LockEntry = { key, id: site.reference?.kind === 'hub' ? site.reference.repoId : site.id, files: (await currentWeightHashes(status)) ?? [], declaredBases: [] };
  if (status.revision !== undefined) entry.revision = status.revision;
  const commit = currentCommitOf(status);
  if (commit !== undefined) entry.commit = commit;
  if (status.model?.fingerprintDigest !== undefined) entry.fingerprint = status.model.fingerprintDigest;
  entry.declaredBases = status.lineage.declared.map((d) => ({ baseModel: d.baseModel, status: d.status, ...(d.verdict === undefined ? {} : { verdict: d.verdict }) }));
  return entry;
}

/** Entries sorted by key and revision, one per key and revision: a stable file for diffs. */
export function buildLock(entries: Iterable<LockEntry>): LineageLock {
  const unique = new Map<string, LockEntry>();
  for (const entry of entries) {
    const id = entryIdentity(entry.key, entry.revision);
    const previous = unique.get(id);
    // A reference that resolved to files beats one that did not (the same model named twice).
    if (!previous || (previous.files.length === 0 && entry.files.length > 0)) unique.set(id, entry);
  }
  return { lockfileVersion: LOCKFILE_VERSION, models: [...unique.values()].sort((a, b) => compareText(entryIdentity(a.key, a.revision), entryIdentity(b.key, b.revision))) };
}

export function serializeLock(lock: LineageLock): string {
  return JSON.stringify(lock, null, 2) + '\n';
}

/** How the reference differs from the lock; [] when it matches (or is not lockable). */
export async function lockDriftOf(site: ModelReferenceSite, status: ReferenceStatus, lock: LineageLock, root: string): Promise<LockDrift[]> {
  if (!isLockable(site)) return [];
  const key = lockKeyOf(site, status, root);
  if (key === undefined) return [];
  const sameKey = lock.models.filter((m) => m.key === key);
  if (sameKey.length === 0) return [{ kind: 'missing', key }];
  const entry = sameKey.find((m) => (m.revision ?? '') === (status.revision ?? ''));
  if (!entry) return [{ kind: 'revision-changed', lockedRevision: sameKey[0]!.revision, lockedCommit: sameKey[0]!.commit }];
  const current = currentCommitOf(status);
  if (entry.commit !== undefined && current !== undefined && entry.commit.toLowerCase() !== current) {
    return [{ kind: 'commit-moved', lockedCommit: entry.commit, currentCommit: current }];
  }
  const files = entry.files.length > 0 ? await currentWeightHashes(status) : undefined;
  if (files === undefined) return [];
  const drift: LockDrift[] = [];
  const now = new Map(files.map((f) => [f.path, f.sha256]));
  for (const locked of entry.files) {
    const sha256 = now.get(locked.path);
    if (sha256 === undefined) drift.push({ kind: 'file-missing', file: locked.path });
    else if (sha256 !== locked.sha256) drift.push({ kind: 'file-changed', file: locked.path, lockedSha256: locked.sha256, currentSha256: sha256 });
  }
  const lockedPaths = new Set(entry.files.map((f) => f.path));
  for (const file of files) if (!lockedPaths.has(file.path)) drift.push({ kind: 'file-added', file: file.path });
  return drift;
}

/** Parses and validates lock text; every string is bounded, unknown fields are dropped. */
export function parseLock(text: string, file: string): LineageLock {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LockfileError(file, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const object = (value: unknown, where: string): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new LockfileError(file, `${where} must be an object`);
    return value as Record<string, unknown>;
  };
  const text_ = (value: unknown, where: string, optional = false): string | undefined => {
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'string' || value.length > 4_096) throw new LockfileError(file, `${where} must be a string`);
    return value;
  };
  const top = object(raw, 'the lock');
  if (top['lockfileVersion'] !== LOCKFILE_VERSION) throw new LockfileError(file, `lockfileVersion ${String(top['lockfileVersion'])} is not supported (expected ${LOCKFILE_VERSION}); run "lineage lock" again`);
  const models = top['models'];
  if (!Array.isArray(models) || models.length > MAX_LOCK_ENTRIES) throw new LockfileError(file, `models must be a list of at most ${MAX_LOCK_ENTRIES} entries`);
  return {
    lockfileVersion: LOCKFILE_VERSION,
    models: models.map((value, i) => {
      const m = object(value, `models[${i}]`);
      const files = m['files'] ?? [];
      if (!Array.isArray(files) || files.length > MAX_FILES_PER_ENTRY) throw new LockfileError(file, `models[${i}].files must be a list`);
      const declared = m['declaredBases'] ?? [];
      if (!Array.isArray(declared) || declared.length > 64) throw new LockfileError(file, `models[${i}].declaredBases must be a list`);
      const entry: LockEntry = {
        key: text_(m['key'], `models[${i}].key`)!,
        id: text_(m['id'], `models[${i}].id`)!,
        files: files.map((f, j) => {
          const o = object(f, `models[${i}].files[${j}]`);
          const sha256 = text_(o['sha256'], `models[${i}].files[${j}].sha256`)!.toLowerCase();
          if (!HEX64.test(sha256)) throw new LockfileError(file, `models[${i}].files[${j}].sha256 is not a sha256`);
          return { path: text_(o['path'], `models[${i}].files[${j}].path`)!, sha256 };
        }),
        declaredBases: declared.map((d, j) => {
          const o = object(d, `models[${i}].declaredBases[${j}]`);
          const verdict = text_(o['verdict'], `models[${i}].declaredBases[${j}].verdict`, true);
          return { baseModel: text_(o['baseModel'], `models[${i}].declaredBases[${j}].baseModel`)!, status: text_(o['status'], `models[${i}].declaredBases[${j}].status`)!, ...(verdict === undefined ? {} : { verdict }) };
        }),
      };
      const revision = text_(m['revision'], `models[${i}].revision`, true);
      if (revision !== undefined) entry.revision = revision;
      const commit = text_(m['commit'], `models[${i}].commit`, true);
      if (commit !== undefined) {
        if (!isPinnedRevision(commit)) throw new LockfileError(file, `models[${i}].commit is not a 40-hex commit`);
        entry.commit = commit.toLowerCase();
      }
      const fingerprint = text_(m['fingerprint'], `models[${i}].fingerprint`, true);
      if (fingerprint !== undefined) entry.fingerprint = fingerprint;
      return entry;
    }),
  };
}

export type LoadedLock = { lock: LineageLock; file: string } | { error: string; file: string };

/** Reads the lock of a folder, re-reading only when the file changed; undefined when there is none. */
export class LockStore {
  private readonly cached = new Map<string, { mtimeMs: number; size: number; loaded: LoadedLock }>();

  async lockFor(folder: string | undefined): Promise<LoadedLock | undefined> {
    if (folder === undefined) return undefined;
    const file = path.join(folder, LOCK_FILE_NAME);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      this.cached.delete(file);
      return undefined;
    }
    const hit = this.cached.get(file);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit.loaded;
    let loaded: LoadedLock;
    if (info.size > MAX_LOCK_BYTES) loaded = { error: `${file}: larger than ${MAX_LOCK_BYTES} bytes; ignored`, file };
    else {
      try {
        loaded = { lock: parseLock(await readFile(file, 'utf8'), file), file };
      } catch (err) {
        loaded = { error: err instanceof Error ? err.message : String(err), file };
      }
    }
    this.cached.set(file, { mtimeMs: info.mtimeMs, size: info.size, loaded });
    return loaded;
  }
}

/** Shared by every analysis in this process: the editor and the CLI read a folder's lock the same way. */
export const lockStore = new LockStore();

function entryIdentity(key: string, revision: string | undefined): string {
  return `${key}@${revision ?? ''}`;
}

function byPath(a: LockedFile, b: LockedFile): number {
  return compareText(a.path, b.path);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
