// The AnalysisEngine: what document analysis asks of the engine (resolve, inspect, compare, registry
// work), with one shared job per model content identity and extractor version, results kept in a
// bounded cache, and work dropped when every caller moved on. Where jobs run is the JobRunner's
// business: worker threads in the language server (lsp/workers), this thread in the CLI.
import type { Comparison } from '../core/compare/types';
import { EXTRACTOR_VERSION } from '../core/fingerprint/types';
import { SharedWork } from '../core/util/sharedWork';
import { jobHandlers, type InspectJob, type InspectOutput, type JobKind, type JobTypes } from './jobs';
import type { ResolveInput } from '../core/model/resolve';
import type { Resolution } from '../protocol';
import type { RemoteInspectJob, RemoteInspectOutput } from './remoteJobs';
import type { RegistryAddJob, RegistryAddOutput, RegistryCompareJob, RegistryCompareOutput, RegistryInfoJob, RegistryInfoOutput, RegistryScanJob, RegistryScanOutput } from './registryJobs';

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

/**
 * Runs jobs.ts jobs somewhere. `light` jobs are milliseconds of file-system reads (resolution, cache
 * listings, registry ids), `heavy` ones fingerprint and compare: a runner may keep them apart so a
 * long fingerprint never delays resolving another document.
 */
export interface JobRunner {
  run<K extends JobKind>(lane: 'light' | 'heavy', kind: K, input: JobTypes[K]['input'], options?: RunOptions): Promise<JobTypes[K]['output']>;
}

/** Runs every job on the calling thread (the CLI: one process, nothing else to keep responsive). */
export const inProcessRunner: JobRunner = {
  run(_lane, kind, input, options = {}) {
    const controller = new AbortController();
    options.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    const handler = jobHandlers[kind] as (input: JobTypes[typeof kind]['input'], context: Parameters<(typeof jobHandlers)[typeof kind]>[1]) => Promise<JobTypes[typeof kind]['output']>;
    return handler(input, { signal: controller.signal, progress: (fraction, message) => options.onProgress?.(fraction, message) });
  },
};

export interface EngineEvents {
  /** A job that is not cached started (for work-done progress). */
  onWorkStarted?(description: string): void;
  onWorkFinished?(description: string): void;
}

export interface AnalysisEngineOptions {
  cacheRoots: () => string[];
  integrityMaxBytes: () => number;
  /** Fingerprints planning to read more weight bytes than this are refused (lineage.fingerprint.maxBytesPerModel). */
  maxWeightBytes?: () => number;
  /** Folder of the on-disk inspection cache; undefined keeps inspections in memory only. */
  inspectionCacheFolder?: () => string | undefined;
  /** Inspections kept in memory (each holds a fingerprint of a few hundred KB to a few MB). */
  capacity?: number;
}

/** What document analysis asks of the engine; every call runs through the JobRunner. */
export class AnalysisEngine {
  private readonly inspections: SharedWork<InspectOutput>;
  private readonly comparisons: SharedWork<Comparison>;
  events: EngineEvents = {};

  constructor(private readonly runner: JobRunner, private readonly options: AnalysisEngineOptions) {
    this.inspections = new SharedWork(options.capacity ?? 128);
    this.comparisons = new SharedWork((options.capacity ?? 128) * 4);
  }

  resolve(inputs: ResolveInput[], workspaceFolders: string[], signal?: AbortSignal): Promise<Resolution[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    return this.runner.run('light', 'resolve', { inputs, workspaceFolders, cacheRoots: this.options.cacheRoots() }, { signal });
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
        return await this.runner.run('heavy', 'inspect', job, { signal: jobSignal, onProgress });
      } finally {
        this.events.onWorkFinished?.(description);
      }
    }, signal);
  }

  /** Reads a Hub model on no disk by range requests and fingerprints it (remoteJobs.ts), reported as work in progress. */
  async inspectRemote(job: RemoteInspectJob, signal?: AbortSignal): Promise<RemoteInspectOutput> {
    const description = `${job.repoId} (read from the Hub)`;
    this.events.onWorkStarted?.(description);
    try {
      return await this.runner.run('heavy', 'inspectRemote', job, { signal });
    } finally {
      this.events.onWorkFinished?.(description);
    }
  }

  /** Compares two inspected models by fingerprint; symmetric inputs share one cached result per order. */
  compare(a: InspectOutput, b: InspectOutput, signal?: AbortSignal): Promise<Comparison> {
    if (!a.fingerprint || !b.fingerprint) return Promise.reject(new Error('a side has no fingerprint'));
    const key = `${a.facts.contentIdentity}|${b.facts.contentIdentity}|${EXTRACTOR_VERSION}`;
    const fa = a.fingerprint;
    const fb = b.fingerprint;
    return this.comparisons.run(key, (jobSignal) => this.runner.run('heavy', 'compareFingerprints', { a: fa, b: fb }, { signal: jobSignal }), signal);
  }

  /** Full comparison of two targets (paths or ids), re-reading both models (exact tokenizer relation). */
  compareTargets(a: string, b: string, signal?: AbortSignal): Promise<Comparison> {
    return this.runner.run('heavy', 'compareTargets', { a, b }, { signal });
  }

  listCachedModels(maxModels: number, signal?: AbortSignal): Promise<Resolution[]> {
    return this.runner.run('light', 'listCachedModels', { cacheRoots: this.options.cacheRoots(), maxModels }, { signal });
  }

  /** Registry scans decode and compare fingerprints: heavy work. */
  scanRegistries(job: RegistryScanJob, signal?: AbortSignal): Promise<RegistryScanOutput> {
    return this.runner.run('heavy', 'registryScan', job, { signal });
  }

  compareWithRegistryEntry(job: RegistryCompareJob, signal?: AbortSignal): Promise<RegistryCompareOutput> {
    return this.runner.run('heavy', 'registryCompare', job, { signal });
  }

  /** Listing ids reads the index only; additions are serialised by the single light worker. */
  registryInfo(job: RegistryInfoJob, signal?: AbortSignal): Promise<RegistryInfoOutput> {
    return this.runner.run('light', 'registryInfo', job, { signal });
  }

  addToRegistry(job: RegistryAddJob, signal?: AbortSignal): Promise<RegistryAddOutput> {
    return this.runner.run('light', 'registryAdd', job, { signal });
  }

  clear(): void {
    this.inspections.clear();
    this.comparisons.clear();
  }
}
