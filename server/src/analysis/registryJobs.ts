// Registry work of the language server, run inside worker threads (jobs.ts dispatches here): scans,
// id lookups and additions against the embedded reference database and the user's registry. Each
// worker keeps its registries open in memory and reopens a file when its size or mtime changes
// (another process, such as `lineage db add`, may have replaced it).
import { statSync } from 'node:fs';
import { compareFingerprints } from '../core/compare/compare';
import { RELATED_VERDICTS } from '../core/compare/types';
import { errorMessage } from '../core/errors';
import type { Fingerprint } from '../core/fingerprint/types';
import { entryMetaFor, openSqliteRegistry, scanRegistry, type RegistryEntry, type RegistryEntryMeta, type SqliteRegistry } from '../core/registry';
import type { LineageMatch, RegistryDescription } from '../protocol';

/** One registry file the server consults; only the user's registry is ever written. */
export interface RegistrySource {
  path: string;
  role: 'embedded' | 'user';
}

export interface RegistryScanJob {
  registries: RegistrySource[];
  /** The model to scan: a fingerprint, or the stored fingerprint of a registry entry (matched case-insensitively). */
  subject: { fingerprint: Fingerprint } | { entryId: string };
  excludeIds: string[];
  topK: number;
}

export interface RegistryScanOutput {
  matches: LineageMatch[];
  /** Label of the closest known tokenizer vocabulary ("Llama 3"), whatever the weights say. */
  tokenizerFamily?: string;
  /** Weight-bearing entries the scan could have considered, over all registries. */
  entries: number;
  problems: string[];
}

export interface RegistryCompareJob {
  registries: RegistrySource[];
  fingerprint: Fingerprint;
  /** The entry to compare against (a declared base), matched case-insensitively. */
  id: string;
}

export interface RegistryCompareOutput {
  entry?: RegistryEntryMeta;
  verdict?: LineageMatch['verdict'];
  log10P?: number;
  reason?: string;
}

export interface RegistryInfoJob {
  registries: RegistrySource[];
  /** Ids wanted in full (resolution of references by id); matched case-insensitively. */
  lookUp: string[];
  /** Also list the weight entries' ids (look-alike checks); lookups of a few ids leave it off. */
  listWeightIds: boolean;
}

export interface RegistryInfoOutput {
  registries: RegistryDescription[];
  /** Ids of weight-bearing entries, for look-alike checks (LL008); at most MAX_LISTED_IDS. */
  weightIds: string[];
  /** The entries of `lookUp` that exist, keyed by the lowercased id asked for. */
  found: Record<string, RegistryEntryMeta>;
}

export interface RegistryAddJob {
  registry: RegistrySource;
  fingerprint: Fingerprint;
  id?: string;
  revision?: string;
}

export interface RegistryAddOutput {
  id: string;
  outcome: 'added' | 'replaced';
  kind: RegistryEntryMeta['kind'];
  entries: number;
  path: string;
}

/** Look-alike checks need the well-known names, not every entry of an organisation-scale registry. */
const MAX_LISTED_IDS = 20_000;

interface OpenRegistry {
  registry: SqliteRegistry;
  stamp: string;
  /** Lowercased id -> metadata, built on first use. */
  byId?: Map<string, RegistryEntryMeta>;
}

const open = new Map<string, OpenRegistry | { stamp: string; error: string }>();

function stampOf(file: string): string | undefined {
  try {
    const info = statSync(file);
    return `${info.size}:${info.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** The registry at `file`, opened read-only and cached; undefined when the file does not exist. */
async function readRegistry(file: string): Promise<OpenRegistry | { error: string } | undefined> {
  const stamp = stampOf(file);
  const cached = open.get(file);
  if (cached && cached.stamp === stamp) return cached;
  if (cached && 'registry' in cached) cached.registry.close();
  open.delete(file);
  if (stamp === undefined) return undefined;
  try {
    const entry: OpenRegistry = { registry: await openSqliteRegistry(file), stamp };
    open.set(file, entry);
    return entry;
  } catch (err) {
    const failed = { stamp, error: errorMessage(err) };
    open.set(file, failed);
    return failed;
  }
}

function idIndex(entry: OpenRegistry): Map<string, RegistryEntryMeta> {
  if (!entry.byId) {
    entry.byId = new Map();
    for (const summary of entry.registry.list()) {
      const { hiddenSize: _h, architectureHash: _a, vocabularySize: _v, extractorVersion: _e, storedBytes: _s, ...meta } = summary;
      entry.byId.set(meta.id.toLowerCase(), meta);
    }
  }
  return entry.byId;
}

async function eachRegistry(sources: RegistrySource[], problems: string[], body: (entry: OpenRegistry) => void): Promise<void> {
  for (const source of sources) {
    const entry = await readRegistry(source.path);
    if (!entry) continue;
    if ('error' in entry) problems.push(entry.error);
    else body(entry);
  }
}

/** The stored entry of an id, from the first registry that has it. */
async function findEntry(sources: RegistrySource[], id: string): Promise<RegistryEntry | undefined> {
  for (const source of sources) {
    const entry = await readRegistry(source.path);
    if (!entry || 'error' in entry) continue;
    const meta = idIndex(entry).get(id.toLowerCase());
    const known = meta && entry.registry.get(meta.id);
    if (known) return known;
  }
  return undefined;
}

export async function registryScan(job: RegistryScanJob): Promise<RegistryScanOutput> {
  const problems: string[] = [];
  const excluded = new Set(job.excludeIds.map((id) => id.toLowerCase()));
  let fingerprint: Fingerprint;
  if ('entryId' in job.subject) {
    const known = await findEntry(job.registries, job.subject.entryId);
    if (!known) return { matches: [], entries: 0, problems: [`${job.subject.entryId} is not in the registry`] };
    fingerprint = known.fingerprint;
    excluded.add(known.meta.id.toLowerCase());
  } else {
    fingerprint = job.subject.fingerprint;
  }
  const matches: LineageMatch[] = [];
  let tokenizerFamily: string | undefined;
  let entries = 0;
  await eachRegistry(job.registries, problems, (entry) => {
    const registry = entry.registry;
    const result = scanRegistry(registry, fingerprint, { topK: job.topK + excluded.size });
    entries += registry.entryCount();
    tokenizerFamily ??= result.tokenizer.family;
    for (const match of result.matches) {
      if (excluded.has(match.id.toLowerCase()) || !RELATED_VERDICTS.has(match.verdict)) continue;
      const found: LineageMatch = { repoId: match.id, verdict: match.verdict, reason: match.reason, source: 'registry' };
      if (match.direction) found.relation = match.direction.parent === 'known' ? 'parent' : 'child';
      const revision = idIndex(entry).get(match.id.toLowerCase())?.revision;
      if (revision !== undefined) found.commit = revision;
      // The corrected p-value: the registry tested many candidates to find this one.
      const p = match.adjustedLog10P ?? match.log10P;
      if (p !== undefined) found.log10P = p;
      matches.push(found);
    }
  });
  const output: RegistryScanOutput = { matches, entries, problems };
  if (tokenizerFamily !== undefined) output.tokenizerFamily = tokenizerFamily;
  return output;
}

export async function registryCompare(job: RegistryCompareJob): Promise<RegistryCompareOutput> {
  const known = await findEntry(job.registries, job.id);
  if (!known) return {};
  if (known.meta.kind === 'tokenizer') return { entry: known.meta, reason: `${known.meta.id} is a tokenizer-only entry: it names a vocabulary, not weights` };
  const comparison = compareFingerprints(known.fingerprint, job.fingerprint);
  const output: RegistryCompareOutput = { entry: known.meta, verdict: comparison.verdict, reason: comparison.reason };
  if (comparison.lineageLog10P !== undefined) output.log10P = comparison.lineageLog10P;
  return output;
}

export async function registryInfo(job: RegistryInfoJob): Promise<RegistryInfoOutput> {
  const registries: RegistryDescription[] = [];
  const weightIds: string[] = [];
  const found: Record<string, RegistryEntryMeta> = {};
  const wanted = new Set(job.lookUp.map((id) => id.toLowerCase()));
  for (const source of job.registries) {
    const entry = await readRegistry(source.path);
    if (!entry) {
      registries.push({ path: source.path, role: source.role, entries: 0, exists: false });
      continue;
    }
    if ('error' in entry) {
      registries.push({ path: source.path, role: source.role, entries: 0, exists: true, error: entry.error });
      continue;
    }
    const byId = idIndex(entry);
    registries.push({ path: source.path, role: source.role, entries: byId.size, exists: true });
    if (job.listWeightIds) {
      for (const meta of byId.values()) if (meta.kind === 'weights' && weightIds.length < MAX_LISTED_IDS) weightIds.push(meta.id);
    }
    for (const lower of wanted) {
      const meta = byId.get(lower);
      // The first registry listed wins: the user's own entry over the shipped one.
      if (meta && found[lower] === undefined) found[lower] = meta;
    }
  }
  return { registries, weightIds, found };
}

/** Adds one fingerprint under the file's lock; the atomic commit leaves the old file whole if anything fails. */
export async function registryAdd(job: RegistryAddJob): Promise<RegistryAddOutput> {
  if (job.registry.role !== 'user') throw new Error(`${job.registry.path} is the shipped reference database and is read-only`);
  const overrides: Partial<RegistryEntryMeta> = {};
  if (job.id !== undefined) overrides.id = job.id;
  if (job.revision !== undefined) overrides.revision = job.revision;
  const meta = entryMetaFor(job.fingerprint, overrides);
  const registry = await openSqliteRegistry(job.registry.path, { writable: true });
  try {
    const outcome = registry.put({ meta, fingerprint: job.fingerprint });
    registry.commit();
    return { id: meta.id, outcome, kind: meta.kind, entries: registry.entryCount(), path: job.registry.path };
  } finally {
    registry.close();
  }
}
