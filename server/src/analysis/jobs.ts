// The heavy work of the language server as plain async functions of serialisable inputs: resolving
// references to files, opening and fingerprinting models, comparing. They run inside worker threads.
import { createHash } from 'node:crypto';
import { readdir, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { verifyCachedBlobs } from '../core/checks/cacheIntegrity';
import { compareFingerprints } from '../core/compare/compare';
import { closeSide, compareSides, loadSide } from '../core/compare/compareModels';
import type { Comparison } from '../core/compare/types';
import { errorMessage } from '../core/errors';
import { throwIfAborted } from '../core/util/cancellation';
import { extractFingerprint } from '../core/fingerprint/extract';
import { EXTRACTOR_VERSION, type Fingerprint } from '../core/fingerprint/types';
import { isPathInside } from '../core/model/config';
import { findCachedRepo, repoIdFromCacheFolder, type CachedSnapshot } from '../core/model/hfCache';
import { openModel } from '../core/model/openModel';
import type { ModelReference } from '../core/model/reference';
import { summarizeModel } from '../core/model/summary';
import { freshnessStamp, readCachedInspection, writeCachedInspection } from './inspectionCache';
import type { IntegrityEntry, ModelFacts, Resolution } from '../protocol';
import {
  registryAdd,
  registryCompare,
  registryInfo,
  registryScan,
  type RegistryAddJob,
  type RegistryAddOutput,
  type RegistryCompareJob,
  type RegistryCompareOutput,
  type RegistryInfoJob,
  type RegistryInfoOutput,
  type RegistryScanJob,
  type RegistryScanOutput,
} from './registryJobs';

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

export interface ResolveJob {
  inputs: ResolveInput[];
  workspaceFolders: string[];
  cacheRoots: string[];
}

export interface InspectJob {
  resolution: Resolution;
  cacheRoots: string[];
  integrityMaxBytes: number;
  /** Weight bytes a fingerprint may read; larger models are listed but not fingerprinted. */
  maxWeightBytes?: number;
  /** Folder of the on-disk inspection cache (inspectionCache.ts); none: memory only. */
  cacheFolder?: string;
}

export interface InspectOutput {
  facts: ModelFacts;
  fingerprint?: Fingerprint;
}

export interface CompareFingerprintsJob {
  a: Fingerprint;
  b: Fingerprint;
}

export interface CompareTargetsJob {
  a: string;
  b: string;
}

export interface ListCachedModelsJob {
  cacheRoots: string[];
  maxModels: number;
}

/** Job kind -> input and output types; the pool and the worker are typed by this map. */
export interface JobTypes {
  resolve: { input: ResolveJob; output: Resolution[] };
  inspect: { input: InspectJob; output: InspectOutput };
  compareFingerprints: { input: CompareFingerprintsJob; output: Comparison };
  compareTargets: { input: CompareTargetsJob; output: Comparison };
  listCachedModels: { input: ListCachedModelsJob; output: Resolution[] };
  registryScan: { input: RegistryScanJob; output: RegistryScanOutput };
  registryCompare: { input: RegistryCompareJob; output: RegistryCompareOutput };
  registryInfo: { input: RegistryInfoJob; output: RegistryInfoOutput };
  registryAdd: { input: RegistryAddJob; output: RegistryAddOutput };
}

export type JobKind = keyof JobTypes;

export interface JobContext {
  signal: AbortSignal;
  /** Reports a fraction of the job done (0..1) and what is being read. */
  progress(fraction: number, message: string): void;
}

/** Files in a folder model larger than this many entries are not a model folder; stop listing. */
const MAX_FOLDER_ENTRIES = 10_000;
const WEIGHT_EXTENSIONS = /\.(?:safetensors|gguf|bin|pt|pth|ckpt|onnx)$/i;

export const jobHandlers: { [K in JobKind]: (input: JobTypes[K]['input'], context: JobContext) => Promise<JobTypes[K]['output']> } = {
  resolve: async (job, context) => {
    const resolutions: Resolution[] = [];
    for (const input of job.inputs) {
      throwIfAborted(context.signal);
      resolutions.push(await resolveOne(input, job.workspaceFolders, job.cacheRoots).catch((err: unknown) => ({ kind: 'unavailable' as const, detail: errorMessage(err) })));
    }
    return resolutions;
  },
  inspect: (job, context) => inspectModel(job, context),
  compareFingerprints: async (job) => compareFingerprints(job.a, job.b),
  compareTargets: async (job, context) => {
    const a = await loadSide(job.a);
    try {
      throwIfAborted(context.signal);
      const b = await loadSide(job.b);
      try {
        return await compareSides(a, b);
      } finally {
        await closeSide(b);
      }
    } finally {
      await closeSide(a);
    }
  },
  listCachedModels: (job) => listCachedModels(job),
  registryScan: (job) => registryScan(job),
  registryCompare: (job) => registryCompare(job),
  registryInfo: (job) => registryInfo(job),
  registryAdd: (job) => registryAdd(job),
};

/** Resolves one reference: workspace path first (loaders check `os.path.isdir` first), then the HF cache. */
export async function resolveOne(input: ResolveInput, workspaceFolders: readonly string[], cacheRoots: readonly string[]): Promise<Resolution> {
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
  return entries.some((e) => (e.isFile() || e.isSymbolicLink()) && WEIGHT_EXTENSIONS.test(e.name));
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
function chooseRepoFile(snapshot: CachedSnapshot, file: string | undefined, quant: string | undefined): string | undefined {
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

/** Opening target that keeps cache access inside the vetted snapshot listing (never a raw snapshot path). */
function openTarget(resolution: Resolution): string {
  if (resolution.kind === 'hf-cache' && resolution.repoId !== undefined && resolution.commit !== undefined) {
    const pinned = `${resolution.repoId}@${resolution.commit}`;
    if (resolution.file !== undefined && resolution.repoId.includes('/')) return `hf://${pinned}/${resolution.file}`;
    return pinned;
  }
  if (resolution.path === undefined) throw new Error('nothing to open: the reference did not resolve to files');
  return resolution.path;
}

/** Test hook: blocks the worker thread this long per inspection, like a CPU-bound fingerprint of a big model. */
const TEST_BLOCK_MS = Number(process.env['LINEAGE_LSP_TEST_INSPECT_BLOCK_MS'] ?? 0);

export async function inspectModel(job: InspectJob, context: JobContext): Promise<InspectOutput> {
  const resolution = job.resolution;
  if (TEST_BLOCK_MS > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TEST_BLOCK_MS);
  // The integrity budget changes what the facts say; the weight budget only decides failures, which are not stored.
  const cacheKey = job.cacheFolder !== undefined && resolution.contentIdentity !== undefined && resolution.path !== undefined ? `${resolution.contentIdentity}|${EXTRACTOR_VERSION}|integrity<=${job.integrityMaxBytes}` : undefined;
  const stamp = cacheKey === undefined ? undefined : freshnessStamp(resolution.path!);
  if (cacheKey !== undefined) {
    const cached = readCachedInspection(job.cacheFolder!, cacheKey, stamp!);
    if (cached) return cached;
  }
  const output = await inspectUncached(job, context);
  if (cacheKey !== undefined && output.facts.fingerprintError === undefined) writeCachedInspection(job.cacheFolder!, cacheKey, stamp!, output);
  return output;
}

async function inspectUncached(job: InspectJob, context: JobContext): Promise<InspectOutput> {
  const resolution = job.resolution;
  const target = openTarget(resolution);
  context.progress(0, `opening ${resolution.repoId ?? target}`);
  const model = await openModel(target, { cacheRoots: job.cacheRoots });
  try {
    throwIfAborted(context.signal);
    const summary = summarizeModel(model, target);
    const facts: ModelFacts = {
      contentIdentity: resolution.contentIdentity ?? '',
      displayName: resolution.repoId ?? path.basename(target),
      format: model.format,
      files: model.files.map((f) => ({ relativePath: f.relativePath, sizeBytes: f.sizeBytes, role: f.role })),
      weightFiles: model.weightFiles.map((f) => path.basename(f)),
      parameterCount: summary.parameterCount,
      findings: model.findings.map((f) => ({ severity: f.severity, code: f.code, file: path.basename(f.file), message: f.message })),
      declaredBases: model.declared.claims.map((c) => ({ baseModel: c.baseModel, source: c.source, ...(c.relation === undefined ? {} : { relation: c.relation }) })),
      integrity: [],
      problems: [...model.problems],
      extractorVersion: EXTRACTOR_VERSION,
    };
    if (model.architecture) {
      facts.architecture = { family: model.architecture.family, hiddenSize: model.architecture.hiddenSize, layers: model.architecture.layers };
    }
    let fingerprint: Fingerprint | undefined;
    try {
      fingerprint = await extractFingerprint(model, {
        maxWeightBytes: job.maxWeightBytes,
        onProgress: (bytesRead, plannedBytes) => context.progress(plannedBytes > 0 ? bytesRead / plannedBytes : 1, `fingerprinting ${facts.displayName}`),
      });
    } catch (err) {
      facts.fingerprintError = errorMessage(err);
    }
    throwIfAborted(context.signal);
    const snapshot = model.location.snapshot;
    if (snapshot) facts.integrity = await checkIntegrity(snapshot, job.integrityMaxBytes, context);
    return fingerprint === undefined ? { facts } : { facts, fingerprint };
  } finally {
    await model.close();
  }
}

async function checkIntegrity(snapshot: CachedSnapshot, maxBytes: number, context: JobContext): Promise<IntegrityEntry[]> {
  const checks = await verifyCachedBlobs(snapshot, { maxBytes, signal: context.signal });
  return checks.map((c) => ({ relativePath: c.relativePath, blobName: c.blobName, status: c.status, ...(c.actualSha256 === undefined ? {} : { actualSha256: c.actualSha256 }) }));
}

/** Every cached model repo at its `main` (or only) snapshot, as candidates for local lineage checks. */
export async function listCachedModels(job: ListCachedModelsJob): Promise<Resolution[]> {
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
      if (!snapshot || !snapshot.files.some((f) => WEIGHT_EXTENSIONS.test(f.relativePath))) continue;
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

