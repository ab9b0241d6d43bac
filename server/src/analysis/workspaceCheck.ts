// A whole repository through the editor's analysis, in this process: the same finders, resolver,
// engine, oracles, Hub lookups, policy and lock, and the same findings. `lineage check`, `lock` and `bom` use it.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { hfCacheRoots } from '../core/model/hfCache';
import { runWithConcurrency } from '../core/util/concurrency';
import { findReferences, MAX_DOCUMENT_CHARS, type ModelReferenceSite } from '../references';
import type { LineageSettings } from '../protocol';
import { analyzeDocument, hubIdsOf, type AnalysisContext, type DocumentAnalysis } from './documentAnalysis';
import { AnalysisEngine, inProcessRunner, type JobRunner } from './engine';
import type { ResolveJob } from './jobs';
import type { Resolution } from '../protocol';
import { computeFindings, type Finding } from './findings';
import { lockStore, type LoadedLock } from './lockfile';
import { WELL_KNOWN_MODEL_IDS } from './lookAlike';
import { HubLookups } from './oracles/hubLookups';
import { LocalCacheOracle } from './oracles/localCacheOracle';
import { combineOracles } from './oracles/oracle';
import { cacheFolderOf, RegistryOracle, registrySources } from './oracles/registryOracle';
import { PolicyStore, type LineagePolicy } from './policy';
import { listWorkspaceFiles } from './workspaceFiles';
import { WorkspaceReferenceIndex } from './workspaceReferenceIndex';

export interface WorkspaceCheckOptions {
  /** Repository root: .gitignore, .lineage.yaml and lineage.lock.json are read from here. */
  root: string;
  /** Files or folders to check (default: the whole root). */
  paths?: string[];
  settings: LineageSettings;
  env?: NodeJS.ProcessEnv;
  /** Documents analysed at once (fingerprints of one model are shared whatever the number). */
  concurrency?: number;
  maxFiles?: number;
  /** Test seam for Hub lookups. */
  fetch?: typeof fetch;
  /** Called after each document (progress). */
  onDocument?: (done: number, total: number) => void;
}

export interface CheckedDocument {
  /** Absolute path. */
  file: string;
  /** POSIX path relative to the root. */
  relativePath: string;
  analysis: DocumentAnalysis;
  findings: Finding[];
}

export interface WorkspaceCheck {
  root: string;
  /** Documents read (with or without references). */
  filesScanned: number;
  truncated: boolean;
  /** Only documents with at least one reference or finding, sorted by path. */
  documents: CheckedDocument[];
  referenceCount: number;
  policy: LineagePolicy | undefined;
  lock: LoadedLock | undefined;
  elapsedMs: number;
}

const DEFAULT_MAX_FILES = 200_000;

/**
 * A document's text, or undefined when it is larger than any finder reads. Read synchronously: a
 * check has no one else to keep responsive, and small reads through the thread pool cost more in
 * round trips than in bytes (10,000 files: seconds).
 */
function readDocument(file: string): string | undefined {
  const descriptor = openSync(file, 'r');
  try {
    // UTF-8 takes at most 4 bytes per character: larger files cannot be under the finders' limit.
    if (fstatSync(descriptor).size > MAX_DOCUMENT_CHARS * 4) return undefined;
    return readFileSync(descriptor, 'utf8');
  } finally {
    closeSync(descriptor);
  }
}

/**
 * One resolution per distinct input for the whole run: a check reads the repository and the cache as
 * they are at one moment, and generated or copied files name the same few models from the same folders.
 */
function resolvingOnce(runner: JobRunner): JobRunner {
  const resolved = new Map<string, Promise<Resolution>>();
  return {
    run(lane, kind, input, options) {
      if (kind !== 'resolve') return runner.run(lane, kind, input, options);
      const job = input as ResolveJob;
      const results = job.inputs.map((one) => {
        const key = JSON.stringify([one, job.workspaceFolders, job.cacheRoots]);
        let resolution = resolved.get(key);
        if (!resolution) {
          resolution = runner.run(lane, 'resolve', { ...job, inputs: [one] }, options).then((r) => r[0]!);
          // A cancelled or failed resolution is not kept.
          resolution.catch(() => resolved.delete(key));
          resolved.set(key, resolution);
        }
        return resolution;
      });
      return Promise.all(results) as ReturnType<typeof runner.run<typeof kind>>;
    },
  };
}

export async function checkWorkspace(options: WorkspaceCheckOptions): Promise<WorkspaceCheck> {
  const startedAtMs = Date.now();
  const root = path.resolve(options.root);
  const env = options.env ?? process.env;
  const settings = options.settings;
  const engine = new AnalysisEngine(resolvingOnce(inProcessRunner), {
    cacheRoots: () => hfCacheRoots(env),
    integrityMaxBytes: () => settings.integrityMaxBytes,
    maxWeightBytes: () => settings.fingerprint.maxBytesPerModel,
    inspectionCacheFolder: () => path.join(cacheFolderOf(settings, env), 'fingerprints'),
  });
  const registry = new RegistryOracle(engine, () => registrySources(settings, env));
  const localCache = new LocalCacheOracle(engine, () => settings.maxLocalCandidates, () => settings.localCacheCandidates);
  const hubOptions: ConstructorParameters<typeof HubLookups>[0] = { settings: () => settings, env };
  if (options.fetch) hubOptions.fetch = options.fetch;
  const hub = new HubLookups(hubOptions);
  const registered = await registry.knownIds().catch(() => [] as string[]);
  const context: AnalysisContext = {
    engine,
    oracle: combineOracles([localCache, registry]),
    registry,
    wellKnownIds: [...new Set([...WELL_KNOWN_MODEL_IDS, ...registered])],
    workspaceFolders: [root],
    hub,
  };
  const policy = await new PolicyStore().policyFor(root);
  const { files, truncated } = await listWorkspaceFiles(root, { paths: options.paths ?? [], maxFiles: options.maxFiles ?? DEFAULT_MAX_FILES });
  // Look-alikes are judged against every document's ids, as the editor's index does: the references of all
  // files are found first (once: the analyses below reuse them), then each document is analysed.
  const index = new WorkspaceReferenceIndex();
  const sitesOf = new Map<string, ModelReferenceSite[]>();
  const indexed = options.paths?.length ? (await listWorkspaceFiles(root, { maxFiles: options.maxFiles ?? DEFAULT_MAX_FILES })).files : files;
  for (const file of indexed) {
    const text = readDocument(file);
    if (text === undefined) continue;
    const sites = await findReferences(text, file);
    sitesOf.set(file, sites);
    index.set(pathToFileURL(file).toString(), path.relative(root, file).split(path.sep).join('/'), hubIdsOf(sites));
  }
  context.workspaceIndex = index;
  let done = 0;
  const results = await runWithConcurrency(files.map((file) => async (): Promise<CheckedDocument | undefined> => {
    try {
      const text = readDocument(file);
      if (text === undefined) return undefined;
      const sites = sitesOf.get(file);
      sitesOf.delete(file);
      const analysis = await analyzeDocument({ uri: pathToFileURL(file).toString(), version: 0, text, fsPath: file, ...(sites ? { sites } : {}) }, context);
      const findings = computeFindings(analysis, settings.diagnostics.severity, policy);
      if (analysis.references.length === 0 && findings.length === 0) return undefined;
      return { file, relativePath: path.relative(root, file).split(path.sep).join('/'), analysis, findings };
    } finally {
      options.onDocument?.(++done, files.length);
    }
  }), options.concurrency ?? 16);
  const documents = results.filter((d): d is CheckedDocument => d !== undefined).sort((a, b) => (a.relativePath < b.relativePath ? -1 : 1));
  return {
    root,
    filesScanned: files.length,
    truncated,
    documents,
    referenceCount: documents.reduce((n, d) => n + d.analysis.references.length, 0),
    policy,
    lock: await lockStore.lockFor(root),
    elapsedMs: Date.now() - startedAtMs,
  };
}
