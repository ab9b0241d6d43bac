// Schedules engine work on the worker pool: one shared job per model content identity and extractor
// version, results kept in a bounded cache, and work dropped when every document that wanted it moved on.
import type { Comparison } from '../core/compare/types';
import { EXTRACTOR_VERSION } from '../core/fingerprint/types';
import { JobCancelledError, type InspectJob, type InspectOutput, type ResolveInput } from './jobs';
import type { Resolution } from './protocol';
import type { RegistryAddJob, RegistryAddOutput, RegistryCompareJob, RegistryCompareOutput, RegistryInfoJob, RegistryInfoOutput, RegistryScanJob, RegistryScanOutput } from './registryJobs';
import type { WorkerPool } from './workerPool';

/** Bounded map that forgets the least recently used entry first. */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

interface InFlight<T> {
  promise: Promise<T>;
  waiters: number;
  controller: AbortController;
}

/**
 * Deduplicates concurrent requests for the same key and caches results. Each caller may pass its
 * own signal: it stops waiting at once, and the job itself is aborted only when no caller is left.
 */
export class SharedWork<T> {
  private readonly inFlight = new Map<string, InFlight<T>>();
  readonly done: LruCache<string, T>;

  constructor(capacity: number) {
    this.done = new LruCache(capacity);
  }

  isDone(key: string): boolean {
    return this.done.has(key);
  }

  run(key: string, start: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const cached = this.done.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    if (signal?.aborted) return Promise.reject(new JobCancelledError());
    let entry = this.inFlight.get(key);
    if (!entry) {
      const controller = new AbortController();
      const promise = start(controller.signal).then((value) => {
        this.done.set(key, value);
        return value;
      });
      const created: InFlight<T> = { promise, waiters: 0, controller };
      // Settled jobs leave the in-flight map whatever the outcome; failures are retried next time.
      promise.then(() => this.inFlight.delete(key), () => this.inFlight.delete(key));
      this.inFlight.set(key, created);
      entry = created;
    }
    const shared = entry;
    shared.waiters++;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leave = (): void => {
        if (settled) return;
        settled = true;
        shared.waiters--;
        if (shared.waiters === 0 && this.inFlight.get(key) === shared) {
          this.inFlight.delete(key);
          shared.controller.abort();
        }
        reject(new JobCancelledError());
      };
      signal?.addEventListener('abort', leave, { once: true });
      shared.promise.then(
        (value) => {
          if (settled) return;
          settled = true;
          shared.waiters--;
          signal?.removeEventListener('abort', leave);
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          shared.waiters--;
          signal?.removeEventListener('abort', leave);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  clear(): void {
    this.done.clear();
  }
}

export interface EngineEvents {
  /** A job that is not cached started (for work-done progress). */
  onWorkStarted?(description: string): void;
  onWorkFinished?(description: string): void;
}

export interface ModelEngineOptions {
  cacheRoots: () => string[];
  integrityMaxBytes: () => number;
  /** Fingerprints planning to read more weight bytes than this are refused (lineage.fingerprint.maxBytesPerModel). */
  maxWeightBytes?: () => number;
  /** Folder of the on-disk inspection cache; undefined keeps inspections in memory only. */
  inspectionCacheFolder?: () => string | undefined;
  /** Inspections kept in memory (each holds a fingerprint of a few hundred KB to a few MB). */
  capacity?: number;
}

/** What the LSP layer asks of the engine; every call runs in a worker. */
export class ModelEngine {
  private readonly inspections: SharedWork<InspectOutput>;
  private readonly comparisons: SharedWork<Comparison>;
  events: EngineEvents = {};

  /**
   * `lightPool` runs resolution and cache listings (milliseconds of file-system reads), `heavyPool`
   * fingerprints and compares: a long fingerprint must never delay resolving another document.
   */
  constructor(private readonly lightPool: WorkerPool, private readonly heavyPool: WorkerPool, private readonly options: ModelEngineOptions) {
    this.inspections = new SharedWork(options.capacity ?? 128);
    this.comparisons = new SharedWork((options.capacity ?? 128) * 4);
  }

  resolve(inputs: ResolveInput[], workspaceFolders: string[], signal?: AbortSignal): Promise<Resolution[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    return this.lightPool.run('resolve', { inputs, workspaceFolders, cacheRoots: this.options.cacheRoots() }, { signal });
  }

  /** The cache key: content identity and extractor version, so a new extractor never reuses old fingerprints. */
  inspectionKey(resolution: Resolution): string | undefined {
    return resolution.contentIdentity === undefined ? undefined : `${resolution.contentIdentity}|${EXTRACTOR_VERSION}`;
  }

  isInspected(resolution: Resolution): boolean {
    const key = this.inspectionKey(resolution);
    return key !== undefined && this.inspections.isDone(key);
  }

  inspect(resolution: Resolution, signal?: AbortSignal, onProgress?: (fraction: number, message: string) => void): Promise<InspectOutput> {
    const key = this.inspectionKey(resolution);
    if (key === undefined) return Promise.reject(new Error('the reference did not resolve to files'));
    const description = resolution.repoId ?? resolution.path ?? 'model';
    return this.inspections.run(key, async (jobSignal) => {
      this.events.onWorkStarted?.(description);
      try {
        const job: InspectJob = { resolution, cacheRoots: this.options.cacheRoots(), integrityMaxBytes: this.options.integrityMaxBytes() };
        const maxWeightBytes = this.options.maxWeightBytes?.();
        if (maxWeightBytes !== undefined) job.maxWeightBytes = maxWeightBytes;
        const cacheFolder = this.options.inspectionCacheFolder?.();
        if (cacheFolder !== undefined) job.cacheFolder = cacheFolder;
        return await this.heavyPool.run('inspect', job, { signal: jobSignal, onProgress });
      } finally {
        this.events.onWorkFinished?.(description);
      }
    }, signal);
  }

  /** Compares two inspected models by fingerprint; symmetric inputs share one cached result per order. */
  compare(a: InspectOutput, b: InspectOutput, signal?: AbortSignal): Promise<Comparison> {
    if (!a.fingerprint || !b.fingerprint) return Promise.reject(new Error('a side has no fingerprint'));
    const key = `${a.facts.contentIdentity}|${b.facts.contentIdentity}|${EXTRACTOR_VERSION}`;
    const fa = a.fingerprint;
    const fb = b.fingerprint;
    return this.comparisons.run(key, (jobSignal) => this.heavyPool.run('compareFingerprints', { a: fa, b: fb }, { signal: jobSignal }), signal);
  }

  /** Full comparison of two targets (paths or ids), re-reading both models (exact tokenizer relation). */
  compareTargets(a: string, b: string, signal?: AbortSignal): Promise<Comparison> {
    return this.heavyPool.run('compareTargets', { a, b }, { signal });
  }

  listCachedModels(maxModels: number, signal?: AbortSignal): Promise<Resolution[]> {
    return this.lightPool.run('listCachedModels', { cacheRoots: this.options.cacheRoots(), maxModels }, { signal });
  }

  /** Registry scans decode and compare fingerprints: heavy work. */
  scanRegistries(job: RegistryScanJob, signal?: AbortSignal): Promise<RegistryScanOutput> {
    return this.heavyPool.run('registryScan', job, { signal });
  }

  compareWithRegistryEntry(job: RegistryCompareJob, signal?: AbortSignal): Promise<RegistryCompareOutput> {
    return this.heavyPool.run('registryCompare', job, { signal });
  }

  /** Listing ids reads the index only; additions are serialised by the single light worker. */
  registryInfo(job: RegistryInfoJob, signal?: AbortSignal): Promise<RegistryInfoOutput> {
    return this.lightPool.run('registryInfo', job, { signal });
  }

  addToRegistry(job: RegistryAddJob, signal?: AbortSignal): Promise<RegistryAddOutput> {
    return this.lightPool.run('registryAdd', job, { signal });
  }

  clear(): void {
    this.inspections.clear();
    this.comparisons.clear();
  }
}

export function isCancellation(err: unknown): boolean {
  return err instanceof JobCancelledError;
}
