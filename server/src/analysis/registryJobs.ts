// Registry work of the language server, run inside worker threads (jobs.ts dispatches here): scans,
// id lookups and additions against the embedded reference database, the user's registry and an
// organisation's PostgreSQL registry. SQLite files are read page by page from disk (nothing loads a
// registry into memory) and reopened when their size or mtime changes; PostgreSQL gets one connection
// per worker thread, and a failed connection is retried only after a pause.
import { statSync } from 'node:fs';
import { compareFingerprints } from '../core/compare/compare';
import { RELATED_VERDICTS } from '../core/compare/types';
import { errorMessage } from '../core/errors';
import type { Fingerprint } from '../core/fingerprint/types';
import { asAsyncRegistry, entryMetaFor, openPgRegistry, redactUrl, openSqliteRegistry, scanRegistryAsync, type AsyncRegistry, type RegistryEntry, type RegistryEntryMeta } from '../core/registry';
import type { LineageMatch, RegistryDescription } from '../protocol';

/** One registry the server consults; only the user's registry is ever written. */
export interface RegistrySource {
  /** A file, or the organisation registry's URL without its password (the form shown and logged). */
  path: string;
  role: 'embedded' | 'user' | 'organisation';
  /** Organisation registry only: the URL connected to, with the password when one was given. Never shown. */
  connect?: string;
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
/** A PostgreSQL registry that could not be reached is tried again after this long, not on every job. */
const PG_RETRY_MS = 60_000;
/** One connection per worker thread: the server's few workers never crowd an organisation's database. */
const PG_CONNECTIONS_PER_WORKER = 1;

interface OpenRegistry {
  registry: AsyncRegistry;
  stamp: string;
}

interface FailedRegistry {
  stamp: string;
  error: string;
  at: number;
}

const open = new Map<string, OpenRegistry | FailedRegistry>();

function stampOf(file: string): string | undefined {
  try {
    const info = statSync(file);
    return `${info.size}:${info.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** An error text with the password of `connect` (if any) masked, as written and decoded: pg's messages should not carry it, but make sure. */
export function withoutPassword(text: string, connect: string | undefined): string {
  let forms: string[] = [];
  try {
    const written = connect === undefined ? '' : new URL(connect).password;
    forms = written === '' ? [] : [written, decodeURIComponent(written)];
  } catch {
    forms = [];
  }
  return forms.reduce((masked, form) => masked.split(form).join('***'), text);
}

/** A PostgreSQL failure as one line: the backend's own prefix (the URL again) dropped, any password masked. */
function pgFailure(err: unknown, connect: string): string {
  const text = errorMessage(err);
  const prefix = `${redactUrl(connect)}: `;
  return withoutPassword(text.startsWith(prefix) ? text.slice(prefix.length) : text, connect);
}

/** The cache key of a source's open registry: its file, or the URL connected to. */
function openKey(source: RegistrySource): string {
  return source.role === 'organisation' ? `pg:${source.connect ?? source.path}` : source.path;
}

/** A query on an open registry failed: one line for the user, and a lost PostgreSQL connection is dropped so the next job reconnects. */
async function queryFailed(source: RegistrySource, entry: OpenRegistry, err: unknown): Promise<string> {
  if (source.role !== 'organisation') return errorMessage(err);
  if (open.get(openKey(source)) === entry) open.delete(openKey(source));
  await entry.registry.close().catch(() => undefined);
  return `organisation registry ${source.path} failed: ${pgFailure(err, source.connect ?? source.path)}`;
}

async function readPgRegistry(source: RegistrySource): Promise<OpenRegistry | FailedRegistry> {
  const connect = source.connect ?? source.path;
  const key = openKey(source);
  const cached = open.get(key);
  if (cached && ('registry' in cached || Date.now() - cached.at < PG_RETRY_MS)) return cached;
  open.delete(key);
  try {
    const entry: OpenRegistry = { registry: await openPgRegistry(connect, { maxConnections: PG_CONNECTIONS_PER_WORKER, migrate: false }), stamp: connect };
    open.set(key, entry);
    return entry;
  } catch (err) {
    const failed: FailedRegistry = { stamp: connect, error: `organisation registry ${source.path} is unavailable: ${pgFailure(err, connect)}`, at: Date.now() };
    open.set(key, failed);
    return failed;
  }
}

/** The registry of `source`, opened read-only and cached; undefined when its file does not exist. */
async function readRegistry(source: RegistrySource): Promise<OpenRegistry | FailedRegistry | undefined> {
  if (source.role === 'organisation') return readPgRegistry(source);
  const file = source.path;
  const stamp = stampOf(file);
  const cached = open.get(file);
  if (cached && cached.stamp === stamp) return cached;
  if (cached && 'registry' in cached) await cached.registry.close();
  open.delete(file);
  if (stamp === undefined) return undefined;
  try {
    const entry: OpenRegistry = { registry: asAsyncRegistry(await openSqliteRegistry(file)), stamp };
    open.set(file, entry);
    return entry;
  } catch (err) {
    const failed: FailedRegistry = { stamp, error: errorMessage(err), at: Date.now() };
    open.set(file, failed);
    return failed;
  }
}

async function eachRegistry(sources: RegistrySource[], problems: string[], body: (entry: OpenRegistry) => Promise<void>): Promise<void> {
  for (const source of sources) {
    const entry = await readRegistry(source);
    if (!entry) continue;
    if ('error' in entry) {
      problems.push(entry.error);
      continue;
    }
    try {
      await body(entry);
    } catch (err) {
      // One registry failing (a lost connection, a corrupt file) leaves the others' answers standing.
      problems.push(await queryFailed(source, entry, err));
    }
  }
}

/** The stored entry of an id (case-insensitive in both backends), from the first registry that has it. */
async function findEntry(sources: RegistrySource[], id: string): Promise<RegistryEntry | undefined> {
  let known: RegistryEntry | undefined;
  await eachRegistry(sources, [], async (entry) => {
    known ??= await entry.registry.get(id);
  });
  return known;
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
  await eachRegistry(job.registries, problems, async (entry) => {
    const registry = entry.registry;
    const result = await scanRegistryAsync(registry, fingerprint, { topK: job.topK + excluded.size });
    entries += result.registry.entries;
    tokenizerFamily ??= result.tokenizer.family;
    for (const match of result.matches) {
      if (excluded.has(match.id.toLowerCase()) || !RELATED_VERDICTS.has(match.verdict)) continue;
      const found: LineageMatch = { repoId: match.id, verdict: match.verdict, reason: match.reason, source: 'registry' };
      if (match.direction) found.relation = match.direction.parent === 'known' ? 'parent' : 'child';
      // A handful of matches at most: their records are read one by one, never the whole table.
      const revision = (await registry.get(match.id))?.meta.revision;
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
  const wanted = [...new Set(job.lookUp.map((id) => id.toLowerCase()))];
  for (const source of job.registries) {
    const entry = await readRegistry(source);
    if (!entry) {
      registries.push({ path: source.path, role: source.role, entries: 0, exists: false });
      continue;
    }
    if ('error' in entry) {
      registries.push({ path: source.path, role: source.role, entries: 0, exists: source.role !== 'organisation', error: entry.error });
      continue;
    }
    try {
      const count = await entry.registry.entryCount();
      // Listing reads every row: only registries small enough to list (the user's, the shipped one) give
      // their ids to the look-alike check; an organisation-scale registry is consulted by scans and lookups.
      if (job.listWeightIds && count <= MAX_LISTED_IDS - weightIds.length) {
        for (const meta of await entry.registry.list()) if (meta.kind === 'weights') weightIds.push(meta.id);
      }
      for (const lower of wanted) {
        // The first registry listed wins: the user's own entry over the organisation's and the shipped one.
        if (found[lower] !== undefined) continue;
        const known = await entry.registry.get(lower);
        if (known) found[lower] = known.meta;
      }
      registries.push({ path: source.path, role: source.role, entries: count, exists: true });
    } catch (err) {
      registries.push({ path: source.path, role: source.role, entries: 0, exists: true, error: await queryFailed(source, entry, err) });
    }
  }
  return { registries, weightIds, found };
}

/** Adds one fingerprint under the file's lock; the atomic commit leaves the old file whole if anything fails. */
export async function registryAdd(job: RegistryAddJob): Promise<RegistryAddOutput> {
  if (job.registry.role !== 'user') throw new Error(`${job.registry.path} is read-only in the editor (the ${job.registry.role === 'organisation' ? 'organisation registry takes entries from `lineage db add`' : 'shipped reference database'})`);
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
