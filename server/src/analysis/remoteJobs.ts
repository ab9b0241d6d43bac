// The remote inspection job: a Hub model on no disk opened by range reads (core/hub/remoteModel.ts)
// and fingerprinted like a local one, in a heavy worker; results persist in the inspection cache.
import * as path from 'node:path';
import { errorMessage } from '../core/errors';
import { EXTRACTOR_VERSION } from '../core/fingerprint/types';
import { openRemoteModel } from '../core/hub/remoteModel';
import { ReadCache } from '../core/io/readCache';
import { emptyRemoteReadStats, RemoteReadError, type RemoteReadStats } from '../core/io/remoteSession';
import { throwIfAborted } from '../core/util/cancellation';
import { describeAndFingerprint, type InspectOutput, type JobContext } from './jobs';
import { readCachedInspection, writeCachedInspection } from './inspectionCache';

export interface RemoteInspectJob {
  /** A validated Hub endpoint (origin + optional path). */
  endpoint: string;
  repoId: string;
  /** A 40-hex commit: what is read and what the cache entry is keyed by (a commit never changes). */
  commit: string;
  /** Sent to the endpoint only (RemoteSession drops it on other origins). */
  accessToken?: string;
  /** Bytes this inspection may receive over the network (the share of the workspace budget reserved for it). */
  maxBytes: number;
  /** Weight bytes a fingerprint may read (lineage.fingerprint.maxBytesPerModel). */
  maxWeightBytes?: number;
  /** Folder of the on-disk inspection cache; none: memory only. */
  inspectionCacheFolder?: string;
  /** Folder of the Hub read cache (ranges and small files); none: nothing kept on disk. */
  readCacheFolder?: string;
  /** The budget is spent: answer from the inspection cache or fail with reason 'budget', sending nothing. */
  inspectionCacheOnly?: boolean;
}

export interface RemoteInspectOutput {
  /** Absent when the model could not be opened (`failure` says why). */
  inspection?: InspectOutput;
  stats: RemoteReadStats;
  fromInspectionCache: boolean;
  /** Why the model could not be opened or fingerprinted remotely. */
  failure?: { reason: RemoteReadError['reason'] | 'format'; message: string };
}

/** The identity a remote inspection is cached and compared under: endpoint, repo and commit. */
export function remoteContentIdentity(endpoint: string, repoId: string, commit: string): string {
  return `hub-remote:${endpoint}|${repoId.toLowerCase()}@${commit}`;
}

/** A commit's files never change: the stamp only marks the entry as a remote one. */
const REMOTE_STAMP = 'hub-commit';

export async function inspectRemoteModel(job: RemoteInspectJob, context: JobContext): Promise<RemoteInspectOutput> {
  const identity = remoteContentIdentity(job.endpoint, job.repoId, job.commit);
  const cacheKey = `${identity}|${EXTRACTOR_VERSION}`;
  if (job.inspectionCacheFolder !== undefined) {
    const cached = readCachedInspection(job.inspectionCacheFolder, cacheKey, REMOTE_STAMP);
    if (cached) return { inspection: cached, stats: emptyRemoteReadStats(), fromInspectionCache: true };
  }
  if (job.inspectionCacheOnly) return { stats: emptyRemoteReadStats(), fromInspectionCache: false, failure: { reason: 'budget', message: `${job.repoId}: no byte budget left to read it from the Hub` } };
  // The session's counters, kept as they move: a read that fails still cost what it received.
  let stats = emptyRemoteReadStats();
  const display = `${job.repoId}@${job.commit.slice(0, 12)}`;
  context.progress(0, `reading ${display} from the Hub`);
  let model;
  try {
    model = await openRemoteModel(job.repoId, job.commit, {
      endpoint: job.endpoint,
      accessToken: job.accessToken,
      // The caller decided the network may be used (settings, trust, HF_HUB_OFFLINE) before reserving bytes.
      offline: false,
      maxBytes: job.maxBytes,
      signal: context.signal,
      cache: job.readCacheFolder === undefined ? null : new ReadCache(job.readCacheFolder),
      onProgress: (current) => (stats = { ...current }),
    });
  } catch (err) {
    throwIfAborted(context.signal);
    return { stats, fromInspectionCache: false, failure: { reason: err instanceof RemoteReadError ? err.reason : 'format', message: errorMessage(err) } };
  }
  try {
    const output = await describeAndFingerprint(model, `hf://${job.repoId}@${job.commit}`, identity, job.repoId, job.maxWeightBytes, context);
    stats = { ...model.remote.stats };
    const result: RemoteInspectOutput = { inspection: output, stats, fromInspectionCache: false };
    if (output.facts.fingerprintError !== undefined) {
      // The fingerprint's own reads may have hit the byte budget: the caller words that as the workspace's budget.
      const budget = /byte budget|exceed the budget/.test(output.facts.fingerprintError);
      result.failure = { reason: budget ? 'budget' : 'format', message: output.facts.fingerprintError };
    } else if (job.inspectionCacheFolder !== undefined) {
      writeCachedInspection(job.inspectionCacheFolder, cacheKey, REMOTE_STAMP, output);
    }
    return result;
  } finally {
    await model.close();
  }
}

/** `<cache folder>/remote`: the Hub read cache the CLI (`lineage cache info|clean`) uses too. */
export function readCacheFolderOf(lineageCacheFolder: string): string {
  return path.join(lineageCacheFolder, 'remote');
}
