// Hub metadata lookups for references that are not on this machine: decides whether the Hub may be
// contacted (settings, HF_HUB_OFFLINE), which endpoint and token to use (as huggingface_hub does),
// and caches, deduplicates and cancels lookups. Async network I/O only, so it runs on the message loop.
import * as os from 'node:os';
import { errorMessage } from '../../core/errors';
import { DEFAULT_HUB_ENDPOINT, readHubToken } from '../../core/hub/hubEnvironment';
import { lookUpHubModel, validateHubEndpoint, type HubLookupOptions, type HubModelMetadata } from '../../core/hub';
import { MAX_HUB_WEIGHT_FILES, type HubFacts, type HubRepoFacts, type HubWeightFormat, type LineageSettings } from '../../protocol';
import { PICKLE_EXTENSIONS } from '../../core/model/weightExtensions';
import { attachPriority, indexOfMostUrgent, priorityOf } from '../../core/util/jobPriority';

/** A per-lookup bound well under what a user waits for the final diagnostics. */
export const HUB_LOOKUP_TIMEOUT_MS = 8_000;
const SUCCESS_TTL_MS = 10 * 60_000;
/** Failures (the network, a typo being fixed) are retried sooner. */
const FAILURE_TTL_MS = 60_000;
const MAX_CACHED_LOOKUPS = 512;
/** Lookups in flight at once (each is two or more requests); the rest wait their turn. */
export const MAX_CONCURRENT_LOOKUPS = 4;
/** huggingface_hub's truthy spellings of HF_HUB_OFFLINE. */
const TRUTHY = new Set(['1', 'true', 'yes', 'on']);

export interface HubLookupsOptions {
  /** Read on every lookup, so changed settings apply to the next analysis. */
  settings: () => Pick<LineageSettings, 'offline' | 'hub'>;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default os.homedir(). */
  homeDirectory?: string;
  /** A token the editor keeps in its secret storage; it wins over the environment and the token file. */
  editorToken?: () => string | undefined;
  /** Default HUB_LOOKUP_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default MAX_CACHED_LOOKUPS. */
  maxEntries?: number;
  /** Test seams. */
  now?: () => number;
  fetch?: typeof fetch;
}

interface PendingLookup {
  key: string;
  /** Rejects only when every waiter left and the lookup was aborted. */
  facts: Promise<HubFacts>;
  controller: AbortController;
  waiters: number;
  /** The callers' signals: a lookup waiting for a slot is as urgent as its most urgent caller. */
  waiterSignals: Set<AbortSignal | undefined>;
}

interface SlotRequest {
  grant(): void;
  signal: AbortSignal;
  sequence: number;
}

type CacheEntry = { pending: PendingLookup } | { settled: HubFacts; expiresAtMs: number };

export class HubLookups {
  private readonly entries = new Map<string, CacheEntry>();
  /** Endpoints that could not be reached or timed out, until when: lookups fail fast meanwhile. */
  private readonly unreachable = new Map<string, { until: number; reason: 'offline' | 'timeout' }>();
  private running = 0;
  /** Lookups waiting for a slot; the most urgent (the document being edited) gets the next one. */
  private readonly waitingForSlot: SlotRequest[] = [];
  private nextSlotSequence = 0;
  private readonly env: NodeJS.ProcessEnv;
  private readonly now: () => number;

  constructor(private readonly options: HubLookupsOptions) {
    this.env = options.env ?? process.env;
    this.now = options.now ?? Date.now;
  }

  /** Forgets every answer (a new token may open private or gated repositories). */
  forget(): void {
    for (const entry of this.entries.values()) if ('pending' in entry) entry.pending.controller.abort();
    this.entries.clear();
    this.unreachable.clear();
  }

  /** Not when the user or the environment asked to stay offline. */
  allowed(): boolean {
    const offlineByEnv = TRUTHY.has((this.env['HF_HUB_OFFLINE'] ?? '').trim().toLowerCase());
    return !this.options.settings().offline && !offlineByEnv;
  }

  /** The token sent to the endpoint: the editor's, else HF_TOKEN / HUGGING_FACE_HUB_TOKEN / the token file. */
  async accessToken(): Promise<string | undefined> {
    return this.options.editorToken?.() ?? (await readHubToken(this.env, this.options.homeDirectory ?? os.homedir()));
  }

  /** The `lineage.hub.endpoint` setting; HF_ENDPOINT replaces it only while the setting is the default. */
  endpoint(): ReturnType<typeof validateHubEndpoint> {
    const configured = this.options.settings().hub.endpoint;
    const fromEnv = this.env['HF_ENDPOINT']?.trim();
    const isDefault = configured.trim().replace(/\/+$/, '') === DEFAULT_HUB_ENDPOINT;
    return validateHubEndpoint(fromEnv && isDefault ? fromEnv : configured);
  }

  /**
   * What the Hub says about `repoId` at `revision` (default branch when undefined); undefined when
   * lookups are not allowed. Rejects only when `signal` aborts.
   */
  async lookUp(repoId: string, revision: string | undefined, signal?: AbortSignal): Promise<HubFacts | undefined> {
    if (!this.allowed()) return undefined;
    signal?.throwIfAborted();
    const endpoint = this.endpoint();
    if (!endpoint.ok) return { problem: 'invalid-endpoint', detail: endpoint.detail };
    // The Hub matches ids case-insensitively; branch names are case-sensitive.
    const key = `${endpoint.url}\n${repoId.toLowerCase()}\n${revision ?? 'main'}`;
    const entry = this.entries.get(key);
    if (entry && 'settled' in entry) {
      if (entry.expiresAtMs > this.now()) return entry.settled;
      this.entries.delete(key);
    }
    const pending = entry && 'pending' in entry ? entry.pending : this.start(key, endpoint.url, repoId, revision);
    return this.wait(pending, signal);
  }

  private start(key: string, endpoint: string, repoId: string, revision: string | undefined): PendingLookup {
    const controller = new AbortController();
    const waiterSignals = new Set<AbortSignal | undefined>();
    attachPriority(controller.signal, () => Math.min(...[...waiterSignals].map(priorityOf)));
    const pending: PendingLookup = { key, controller, waiters: 0, waiterSignals, facts: this.fetchFacts(endpoint, repoId, revision, controller.signal) };
    this.remember(key, { pending });
    pending.facts.then(
      (facts) => {
        if (!this.isCurrent(pending)) return;
        const ttl = 'problem' in facts ? FAILURE_TTL_MS : SUCCESS_TTL_MS;
        this.entries.delete(key);
        this.remember(key, { settled: facts, expiresAtMs: this.now() + ttl });
      },
      () => {
        if (this.isCurrent(pending)) this.entries.delete(key);
      },
    );
    return pending;
  }

  private async fetchFacts(endpoint: string, repoId: string, revision: string | undefined, signal: AbortSignal): Promise<HubFacts> {
    const options: HubLookupOptions = { endpoint, signal, timeoutMs: this.options.timeoutMs ?? HUB_LOOKUP_TIMEOUT_MS };
    if (this.options.fetch) options.fetch = this.options.fetch;
    await this.acquireSlot(signal);
    try {
      // A firewall that drops packets costs a full timeout per lookup: one is enough for a while.
      const down = this.unreachable.get(endpoint);
      if (down !== undefined && down.until > this.now()) {
        return { endpoint, problem: down.reason, detail: `${repoId}@${revision ?? 'main'} on ${endpoint}: not asked, the endpoint did not answer a moment ago` };
      }
      const accessToken = await this.accessToken();
      if (accessToken !== undefined) options.accessToken = accessToken;
      const result = await lookUpHubModel(repoId, revision, options);
      if (result.ok) {
        this.unreachable.delete(endpoint);
        return summarizeHubMetadata(endpoint, result.metadata);
      }
      if (result.reason === 'offline' || result.reason === 'timeout') this.unreachable.set(endpoint, { until: this.now() + FAILURE_TTL_MS, reason: result.reason });
      return { endpoint, problem: result.reason, detail: result.detail };
    } catch (err) {
      if (signal.aborted) throw err;
      // lookUpHubModel returns its failures; anything thrown is a bug, reported rather than cached forever.
      return { endpoint, problem: 'http-error', detail: `the Hub lookup of ${repoId} failed: ${errorMessage(err)}` };
    } finally {
      this.releaseSlot();
    }
  }

  /** Resolves once fewer than MAX_CONCURRENT_LOOKUPS run; rejects if `signal` aborts first. */
  private async acquireSlot(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.running < MAX_CONCURRENT_LOOKUPS) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const request: SlotRequest = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        signal,
        sequence: this.nextSlotSequence++,
      };
      // A lookup whose every caller left (a superseded analysis) leaves the queue without a request sent.
      const onAbort = (): void => {
        this.waitingForSlot.splice(this.waitingForSlot.indexOf(request), 1);
        reject(signal.reason);
      };
      this.waitingForSlot.push(request);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands the slot to the most urgent lookup waiting, if any. */
  private releaseSlot(): void {
    const next = indexOfMostUrgent(this.waitingForSlot, (request) => priorityOf(request.signal));
    if (next >= 0) this.waitingForSlot.splice(next, 1)[0]!.grant();
    else this.running--;
  }

  /** Shares one lookup among callers; it is aborted only when every caller with a signal has left. */
  private wait(pending: PendingLookup, signal: AbortSignal | undefined): Promise<HubFacts> {
    pending.waiters++;
    pending.waiterSignals.add(signal);
    if (!signal) return pending.facts;
    return new Promise<HubFacts>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        pending.waiterSignals.delete(signal);
        if (--pending.waiters > 0) return;
        // Forgotten before the abort, so that a caller arriving now starts a fresh lookup.
        if (this.isCurrent(pending)) this.entries.delete(pending.key);
        pending.controller.abort();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pending.facts.then(
        (facts) => {
          signal.removeEventListener('abort', onAbort);
          resolve(facts);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  private isCurrent(pending: PendingLookup): boolean {
    const entry = this.entries.get(pending.key);
    return entry !== undefined && 'pending' in entry && entry.pending === pending;
  }

  /** Newest last; the oldest entries go first once the cache is full. */
  private remember(key: string, entry: CacheEntry): void {
    this.entries.set(key, entry);
    const limit = Math.max(1, this.options.maxEntries ?? MAX_CACHED_LOOKUPS);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= limit) break;
      this.entries.delete(oldest);
    }
  }
}

// Token and token-file conventions are huggingface_hub's, implemented once in core/hub/hubEnvironment.ts.
export { readHubToken as readAccessToken, hubTokenFilePath as tokenFilePath } from '../../core/hub/hubEnvironment';

/** Safest first: the order formats are listed in. */
const FORMAT_ORDER: readonly HubWeightFormat[] = ['safetensors', 'gguf', 'onnx', 'flax msgpack', 'tensorflow h5', 'ggml', 'pytorch pickle'];

export function hubWeightFormatOf(filePath: string): HubWeightFormat | undefined {
  const name = filePath.slice(filePath.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  const extension = dot < 0 ? '' : name.slice(dot);
  switch (extension) {
    case '.safetensors':
      return 'safetensors';
    case '.gguf':
      return 'gguf';
    case '.onnx':
      return 'onnx';
    case '.msgpack':
      return 'flax msgpack';
    case '.h5':
      return 'tensorflow h5';
  }
  if (!PICKLE_EXTENSIONS.has(extension)) return undefined;
  // llama.cpp's GGML files (before GGUF) were published as .bin: not pickles.
  return name.includes('ggml') ? 'ggml' : 'pytorch pickle';
}

/** The compact, client-safe summary of a lookup: formats of every weight file, a bounded list of names. */
export function summarizeHubMetadata(endpoint: string, metadata: HubModelMetadata): HubRepoFacts {
  const weights = metadata.files.flatMap((file) => {
    const format = hubWeightFormatOf(file.path);
    return format === undefined ? [] : [{ path: file.path, format }];
  });
  const facts: HubRepoFacts = {
    endpoint,
    repoId: metadata.repoId,
    commit: metadata.commit,
    revisionAsked: metadata.revisionAsked,
    fileCount: metadata.files.length,
    weightFiles: weights.slice(0, MAX_HUB_WEIGHT_FILES).map((w) => w.path),
    formats: FORMAT_ORDER.filter((format) => weights.some((w) => w.format === format)),
    baseModels: metadata.baseModels,
  };
  if (metadata.filesTruncated) facts.filesTruncated = true;
  if (metadata.licence !== undefined) facts.licence = metadata.licence;
  if (metadata.gated === 'auto' || metadata.gated === 'manual') facts.gated = metadata.gated;
  return facts;
}
