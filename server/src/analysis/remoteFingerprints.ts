// Fingerprints of Hub models that are on no disk, read by range requests in the slow stage: decides
// whether the network may be used, spends a per-workspace byte budget, and shares one job per commit.
import * as path from 'node:path';
import { errorMessage } from '../core/errors';
import { hubOfflineByEnv } from '../core/hub/hubEnvironment';
import { isPinnedRevision } from '../core/model/reference';
import { CancelledError, isCancellation } from '../core/util/cancellation';
import { LruCache } from '../core/util/lruCache';
import type { AnalyzedReference } from './documentAnalysis';
import type { AnalysisEngine } from './engine';
import type { InspectOutput } from './jobs';
import { assessLineage, type LineageContext } from './lineage';
import type { HubLookups } from './oracles/hubLookups';
import { readCacheFolderOf, remoteContentIdentity, type RemoteInspectJob } from './remoteJobs';
import { describeHubProblem, formatBytes, type HubFacts, type LineageSettings, type RemoteReadFacts } from '../protocol';

/** A reservation smaller than this cannot read even a model's config and tokenizer: the budget counts as spent. */
export const MIN_REMOTE_RESERVATION_BYTES = 64 * 1024;
const MAX_REMEMBERED_INSPECTIONS = 256;
/** A failed read (a missing file, a refused format, the network) is tried again after this, not on every edit. */
const FAILURE_TTL_MS = 60_000;
const FORTY_HEX = /^[0-9a-f]{40}$/i;

/**
 * Bytes remote reads may still transfer in this workspace. Each job reserves its share before it
 * starts and gives back what it did not receive, so jobs running together never exceed the total.
 */
export class RemoteReadBudget {
  private spentBytes = 0;
  private reservedBytes = 0;
  private exhausted = false;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly totalBytes: () => number) {}

  get spent(): number {
    return this.spentBytes;
  }

  get total(): number {
    return this.totalBytes();
  }

  isSpent(): boolean {
    return this.exhausted || this.totalBytes() - this.spentBytes < MIN_REMOTE_RESERVATION_BYTES;
  }

  /** Reserves up to `wantedBytes`; waits while other jobs hold the rest; undefined once the budget is spent. */
  async reserve(wantedBytes: number, signal?: AbortSignal): Promise<number | undefined> {
    for (;;) {
      if (signal?.aborted) throw new CancelledError();
      if (this.isSpent()) return undefined;
      const available = this.totalBytes() - this.spentBytes - this.reservedBytes;
      if (available >= MIN_REMOTE_RESERVATION_BYTES || this.reservedBytes === 0) {
        const reserved = Math.max(0, Math.min(wantedBytes, available));
        if (reserved < MIN_REMOTE_RESERVATION_BYTES) return undefined;
        this.reservedBytes += reserved;
        return reserved;
      }
      // Woken by a settle, or at once by the caller leaving.
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  /** Ends a reservation: `transferredBytes` are spent, the rest is free again. */
  settle(reservedBytes: number, transferredBytes: number): void {
    this.reservedBytes = Math.max(0, this.reservedBytes - reservedBytes);
    this.spentBytes += Math.max(0, transferredBytes);
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** A read stopped by the workspace's remaining share: later references are told the budget is spent. */
  markExhausted(): void {
    this.exhausted = true;
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Clears the mark of markExhausted (the budget setting changed); bytes spent stay spent. */
  reopen(): void {
    this.exhausted = false;
    for (const wake of this.waiting.splice(0)) wake();
  }
}

export interface RemoteInspection {
  /** The model's facts and fingerprint, when it could be read. */
  inspection?: InspectOutput;
  remote: RemoteReadFacts;
}

export interface RemoteFingerprintsOptions {
  engine: AnalysisEngine;
  /** Endpoint, token and the offline switches, shared with the metadata lookups; also gives commits. */
  hub: HubLookups;
  settings: () => Pick<LineageSettings, 'hub' | 'fingerprint' | 'offline'>;
  /** `auto` reads only in trusted workspaces (a workspace must not make the editor fetch on its behalf unasked). */
  workspaceTrusted: () => boolean;
  /** The Lineage cache folder: inspections under fingerprints/, Hub reads under remote/. */
  cacheFolder: () => string;
  env?: NodeJS.ProcessEnv;
}

export class RemoteFingerprints {
  readonly budget: RemoteReadBudget;
  private readonly inFlight = new Map<string, Promise<RemoteInspection>>();
  private readonly done = new LruCache<string, { result: RemoteInspection; expiresAtMs: number }>(MAX_REMEMBERED_INSPECTIONS);
  /** Aborts every running job (settings changed, shutdown); a document's edits do not: the bytes are worth keeping. */
  private controller = new AbortController();
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: RemoteFingerprintsOptions) {
    this.env = options.env ?? process.env;
    this.budget = new RemoteReadBudget(() => options.settings().hub.remoteBudgetBytes);
  }

  /** `lineage.hub.remoteFingerprint` is `auto`, the workspace is trusted, and neither the settings nor the environment say offline. */
  enabled(): boolean {
    const settings = this.options.settings();
    return settings.hub.remoteFingerprint === 'auto' && this.options.workspaceTrusted() && !settings.offline && !hubOfflineByEnv(this.env) && this.options.hub.allowed();
  }

  /**
   * Stops running jobs and forgets answers (a new token, endpoint, switch or budget). Bytes already
   * received stay spent for the session; a budget marked spent is looked at again (it may have grown).
   */
  forget(): void {
    this.controller.abort();
    this.controller = new AbortController();
    this.inFlight.clear();
    this.done.clear();
    this.budget.reopen();
  }

  /**
   * The remote fingerprint of `repoId` at `revision` (a commit, a branch, or the default branch);
   * undefined when remote fingerprints are off. Never throws but for cancellation of `signal`.
   */
  async inspect(repoId: string, revision: string | undefined, signal?: AbortSignal): Promise<RemoteInspection | undefined> {
    if (!this.enabled()) return undefined;
    const endpoint = this.options.hub.endpoint();
    if (!endpoint.ok) return failed(`the Hub endpoint is unusable: ${endpoint.detail}`);
    let commit = revision !== undefined && isPinnedRevision(revision) && FORTY_HEX.test(revision) ? revision.toLowerCase() : undefined;
    if (commit === undefined) {
      const facts = await this.options.hub.lookUp(repoId, revision, signal);
      if (!facts) return undefined;
      if ('problem' in facts) return failed(describeHubProblem(facts));
      commit = facts.commit;
      repoId = facts.repoId;
    }
    const key = remoteContentIdentity(endpoint.url, repoId, commit);
    const known = this.done.get(key);
    if (known && known.expiresAtMs > Date.now()) return known.result;
    let running = this.inFlight.get(key);
    if (!running) {
      running = this.run(endpoint.url, repoId, commit, this.controller.signal);
      this.inFlight.set(key, running);
      const started = running;
      const settled = (): boolean => {
        if (this.inFlight.get(key) !== started) return false;
        this.inFlight.delete(key);
        return true;
      };
      // Rejects only when forget() cancels it; its waiters see that rejection, this handler only tidies up.
      void started.then((result) => {
        if (!settled()) return;
        // Fingerprints are kept (a commit never changes); failures for a while; a spent budget is asked again (it may grow).
        if (result.inspection?.fingerprint) this.done.set(key, { result, expiresAtMs: Number.POSITIVE_INFINITY });
        else if (!this.budget.isSpent()) this.done.set(key, { result, expiresAtMs: Date.now() + FAILURE_TTL_MS });
      }, settled);
    }
    return untilAborted(running, signal);
  }

  private async run(endpoint: string, repoId: string, commit: string, signal: AbortSignal): Promise<RemoteInspection> {
    const settings = this.options.settings();
    const cacheFolder = this.options.cacheFolder();
    const job: RemoteInspectJob = {
      endpoint,
      repoId,
      commit,
      maxBytes: 0,
      maxWeightBytes: settings.fingerprint.maxBytesPerModel,
      inspectionCacheFolder: path.join(cacheFolder, 'fingerprints'),
      readCacheFolder: readCacheFolderOf(cacheFolder),
    };
    const accessToken = await this.options.hub.accessToken();
    if (accessToken !== undefined) job.accessToken = accessToken;
    const perModelBytes = settings.fingerprint.maxBytesPerModel;
    let reserved: number | undefined;
    try {
      reserved = await this.budget.reserve(perModelBytes, signal);
      // A spent budget still serves what earlier sessions stored: the job then only reads the inspection cache.
      if (reserved === undefined) job.inspectionCacheOnly = true;
      else job.maxBytes = reserved;
      const output = await this.options.engine.inspectRemote(job, signal);
      const remote: RemoteReadFacts = { commit, bytesTransferred: output.stats.bytesTransferred, requests: output.stats.requests, fromInspectionCache: output.fromInspectionCache };
      if (reserved !== undefined) this.budget.settle(reserved, output.stats.bytesTransferred);
      reserved = undefined;
      if (output.failure) {
        const limitedByWorkspace = output.failure.reason === 'budget' && (job.inspectionCacheOnly === true || job.maxBytes < perModelBytes);
        if (limitedByWorkspace) {
          this.budget.markExhausted();
          remote.problem = this.spentMessage();
        } else {
          remote.problem = output.failure.message;
        }
      }
      return output.inspection ? { inspection: output.inspection, remote } : { remote };
    } catch (err) {
      // Cancelled (settings changed) or the worker failed: what it received is unknown, so its whole share counts.
      if (reserved !== undefined) this.budget.settle(reserved, reserved);
      if (isCancellation(err)) throw err;
      return { remote: { commit, bytesTransferred: 0, requests: 0, fromInspectionCache: false, problem: `reading ${repoId} from the Hub failed: ${errorMessage(err)}` } };
    }
  }

  private spentMessage(): string {
    return `the workspace's budget for reading models from the Hub is spent (${formatBytes(this.budget.spent)} of ${formatBytes(this.budget.total)}, lineage.hub.remoteBudgetBytes)`;
  }
}

function failed(problem: string): RemoteInspection {
  return { remote: { bytesTransferred: 0, requests: 0, fromInspectionCache: false, problem } };
}

/** The shared job's answer, or a CancelledError as soon as this caller's signal aborts (the job runs on). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new CancelledError());
  return new Promise<T>((resolve, reject) => {
    const leave = (): void => reject(new CancelledError());
    signal.addEventListener('abort', leave, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', leave);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', leave);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * The slow stage for a model reference on no disk that the Hub knows: its remote fingerprint and
 * lineage, assessed like a local model's. Other references come back unchanged.
 */
export async function withRemoteLineage(reference: AnalyzedReference, hub: HubFacts | undefined, context: LineageContext): Promise<AnalyzedReference> {
  const { site, status } = reference;
  if (!context.remote || !hub || 'problem' in hub) return reference;
  if (status.resolution.kind !== 'unavailable' && status.resolution.kind !== 'registry') return reference;
  // A single file of a repo (a GGUF quant) is not the repo; those stay with the Hub's metadata.
  if ((site.kind !== 'model' && site.kind !== 'adapter') || site.file !== undefined || site.quant !== undefined) return reference;
  const read = await context.remote.inspect(hub.repoId, hub.commit, context.signal);
  if (!read) return reference;
  if (!read.inspection) return { ...reference, status: { ...status, remote: read.remote } };
  const lineage = await assessLineage(read.inspection, hub.repoId, [], context);
  // A read that failed for lack of budget keeps what the registry recorded, if anything.
  if (!read.inspection.fingerprint && status.resolution.kind === 'registry') return { ...reference, status: { ...status, model: read.inspection.facts, remote: read.remote } };
  return { ...reference, status: { ...status, model: read.inspection.facts, lineage, remote: read.remote } };
}
