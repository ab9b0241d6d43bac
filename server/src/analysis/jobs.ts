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
import type { CachedSnapshot } from '../core/model/hfCache';
import { listCachedModels, resolveReferences, type ResolveInput } from '../core/model/resolve';
import { openModel, type OpenedModel } from '../core/model/openModel';
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
import { inspectRemoteModel, type RemoteInspectJob, type RemoteInspectOutput } from './remoteJobs';

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
  inspectRemote: { input: RemoteInspectJob; output: RemoteInspectOutput };
}

export type JobKind = keyof JobTypes;

export interface JobContext {
  signal: AbortSignal;
  /** Reports a fraction of the job done (0..1) and what is being read. */
  progress(fraction: number, message: string): void;
}

export const jobHandlers: { [K in JobKind]: (input: JobTypes[K]['input'], context: JobContext) => Promise<JobTypes[K]['output']> } = {
  resolve: (job, context) => {
    blockForTest(RESOLVE_TEST_BLOCK_MS);
    return resolveReferences(job.inputs, job.workspaceFolders, job.cacheRoots, context.signal);
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
  inspectRemote: (job, context) => inspectRemoteModel(job, context),
};

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
/** Test hook: blocks the worker thread this long per resolution, so that a backlog of documents queues up. */
const RESOLVE_TEST_BLOCK_MS = Number(process.env['LINEAGE_LSP_TEST_RESOLVE_BLOCK_MS'] ?? 0);

function blockForTest(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export async function inspectModel(job: InspectJob, context: JobContext): Promise<InspectOutput> {
  const resolution = job.resolution;
  blockForTest(TEST_BLOCK_MS);
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
    const output = await describeAndFingerprint(model, target, resolution.contentIdentity ?? '', resolution.repoId ?? path.basename(target), job.maxWeightBytes, context);
    const snapshot = model.location.snapshot;
    if (snapshot) output.facts.integrity = await checkIntegrity(snapshot, job.integrityMaxBytes, context);
    return output;
  } finally {
    await model.close();
  }
}

/** The facts and fingerprint of an opened model (local or read from the Hub); a failed fingerprint is a fact, not a throw. */
export async function describeAndFingerprint(model: OpenedModel, target: string, contentIdentity: string, displayName: string, maxWeightBytes: number | undefined, context: JobContext): Promise<InspectOutput> {
  const summary = summarizeModel(model, target);
  const facts: ModelFacts = {
    contentIdentity,
    displayName,
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
    facts.architecture = { family: model.architecture.family, hiddenSize: model.architecture.hiddenSize, layers: model.architecture.layers, architectures: [...model.architecture.architectures], vocabSize: model.architecture.vocabSize };
  }
  let fingerprint: Fingerprint | undefined;
  try {
    fingerprint = await extractFingerprint(model, {
      maxWeightBytes,
      onProgress: (bytesRead, plannedBytes) => context.progress(plannedBytes > 0 ? bytesRead / plannedBytes : 1, `fingerprinting ${facts.displayName}`),
    });
  } catch (err) {
    facts.fingerprintError = errorMessage(err);
  }
  throwIfAborted(context.signal);
  return fingerprint === undefined ? { facts } : { facts, fingerprint };
}

async function checkIntegrity(snapshot: CachedSnapshot, maxBytes: number, context: JobContext): Promise<IntegrityEntry[]> {
  const checks = await verifyCachedBlobs(snapshot, { maxBytes, signal: context.signal });
  return checks.map((c) => ({ relativePath: c.relativePath, blobName: c.blobName, status: c.status, ...(c.actualSha256 === undefined ? {} : { actualSha256: c.actualSha256 }) }));
}
