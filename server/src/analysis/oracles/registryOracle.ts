// The registries as a LineageOracle: the user's registry (Add to Registry, `lineage db add`), an
// organisation's PostgreSQL registry (`lineage.registry.url`) and the reference database shipped with the
// extension. All registry work runs in workers (registryJobs.ts); this side caches what the message loop
// asks often (ids for look-alike checks, entry counts) and reports each registry problem once.
import * as path from 'node:path';
import type { Fingerprint } from '../../core/fingerprint/types';
import { embeddedRegistryPath, isPostgresUrl, lineageCacheFolder, type RegistryEntryMeta } from '../../core/registry';
import { fingerprintIdentity, type LineageOracle, type OracleScan, type ScanRequestOptions } from './oracle';
import type { LineageSettings, RegistryInfoResult } from '../../protocol';
import type { RegistryAddJob, RegistryAddOutput, RegistryCompareOutput, RegistryScanOutput, RegistrySource } from '../registryJobs';
import { SharedWork } from '../../core/util/sharedWork';
import type { AnalysisEngine } from '../engine';

/** Registry files are listed again after this long, so `lineage db add` from a terminal shows up. */
const INFO_TTL_MS = 15_000;
const MATCHES_PER_SCAN = 5;

/** Lineage Lens' data folder: `lineage.cache.folder`, else the CLI's ($LINEAGE_CACHE_DIR or ~/.cache/lineage-lens). */
export function cacheFolderOf(settings: LineageSettings, env: NodeJS.ProcessEnv = process.env): string {
  return settings.cache.folder !== '' ? path.resolve(settings.cache.folder) : lineageCacheFolder(env);
}

/** The user's registry: `lineage.registry.path`, else `<cache folder>/registry.sqlite` (the CLI's default too). */
export function userRegistryFile(settings: LineageSettings, env: NodeJS.ProcessEnv = process.env): string {
  if (settings.registry.path !== '') return path.resolve(settings.registry.path);
  return path.join(cacheFolderOf(settings, env), 'registry.sqlite');
}

export interface OrganisationRegistry {
  /** The source to consult; absent when no URL is configured or it is not usable. */
  source?: RegistrySource;
  /** Why the configured URL is not used as written (shown once; never contains a password). */
  problem?: string;
}

/**
 * The organisation registry: `lineage.registry.url`, else LINEAGE_DB_URL (as the CLI). A password written in
 * the setting is ignored (settings files are shared and synced); the password comes from the editor's secret
 * storage, else the environment's URL, PGPASSWORD or ~/.pgpass (pg reads those itself).
 */
export function organisationRegistry(settings: LineageSettings, env: NodeJS.ProcessEnv = process.env, editorPassword?: string): OrganisationRegistry {
  const fromSetting = settings.registry.url !== '';
  const written = fromSetting ? settings.registry.url : (env['LINEAGE_DB_URL'] ?? '').trim();
  if (written === '') return {};
  const origin = fromSetting ? 'lineage.registry.url' : 'LINEAGE_DB_URL';
  let url: URL;
  try {
    if (!isPostgresUrl(written)) throw new Error('not a postgres:// URL');
    url = new URL(written);
  } catch {
    return { problem: `${origin} is not a postgres://user@host/database URL; the organisation registry is not used` };
  }
  const result: OrganisationRegistry = {};
  if (fromSetting && url.password !== '') {
    url.password = '';
    result.problem = `lineage.registry.url contains a password: it is ignored (use "Lineage: Set Registry Password", PGPASSWORD or ~/.pgpass)`;
  }
  const connect = new URL(url.toString());
  if (editorPassword !== undefined && editorPassword !== '') connect.password = encodeURIComponent(editorPassword);
  url.password = '';
  result.source = { path: url.toString(), role: 'organisation', connect: connect.toString() };
  return result;
}

/** The user's registry first (its entries win on equal ids), then the organisation's, then the shipped reference database. */
export function registrySources(settings: LineageSettings, env: NodeJS.ProcessEnv = process.env, editorPassword?: string): RegistrySource[] {
  const sources: RegistrySource[] = [{ path: userRegistryFile(settings, env), role: 'user' }];
  const organisation = organisationRegistry(settings, env, editorPassword).source;
  if (organisation) sources.push(organisation);
  const embedded = settings.registry.includeShipped ? embeddedRegistryPath() : undefined;
  if (embedded !== undefined && path.resolve(embedded) !== sources[0]!.path) sources.push({ path: embedded, role: 'embedded' });
  return sources;
}

interface RegistrySnapshot {
  at: number;
  info: RegistryInfoResult;
  weightIds: readonly string[];
}

export class RegistryOracle implements LineageOracle {
  readonly name = 'registry';
  private snapshot: Promise<RegistrySnapshot> | undefined;
  private snapshotAt = 0;
  /** Bumped whenever the registries may have changed; part of every cached scan's key. */
  private generation = 0;
  private readonly scans = new SharedWork<OracleScan>(512);

  constructor(
    private readonly engine: AnalysisEngine,
    private readonly sources: () => RegistrySource[],
    private readonly onChanged: (info: RegistryInfoResult, firstListing: boolean) => void = () => undefined,
    /** A registry could not be used (unreachable, corrupt); the others answered. Called for every occurrence. */
    private readonly onProblem: (problem: string) => void = () => undefined,
  ) {}

  /** Forget cached listings and scans (settings changed, an entry was added). */
  invalidate(): void {
    this.generation++;
    this.snapshot = undefined;
    this.scans.clear();
  }

  private current(): Promise<RegistrySnapshot> {
    const now = Date.now();
    if (!this.snapshot || now - this.snapshotAt > INFO_TTL_MS) {
      const previous = this.snapshot;
      this.snapshotAt = now;
      const next = this.engine.registryInfo({ registries: this.sources(), lookUp: [], listWeightIds: true }).then((out): RegistrySnapshot => {
        const info: RegistryInfoResult = { registries: out.registries, entries: out.registries.reduce((sum, r) => sum + r.entries, 0) };
        for (const registry of out.registries) if (registry.error !== undefined) this.onProblem(registry.error);
        return { at: now, info, weightIds: Object.freeze(out.weightIds) };
      });
      this.snapshot = next;
      next.then(
        async (fresh) => {
          const before = await previous?.catch(() => undefined);
          if (JSON.stringify(before?.info) !== JSON.stringify(fresh.info)) {
            if (before !== undefined) this.scans.clear();
            this.onChanged(fresh.info, before === undefined);
          }
        },
        () => {
          if (this.snapshot === next) this.snapshot = undefined;
        },
      );
    }
    return this.snapshot;
  }

  async info(): Promise<RegistryInfoResult> {
    return (await this.current()).info;
  }

  /** Ids of weight-bearing entries (the same array until the registries change, for look-alike caching). */
  async knownIds(): Promise<readonly string[]> {
    return (await this.current().catch(() => undefined))?.weightIds ?? [];
  }

  async size(): Promise<number> {
    return (await this.current().catch(() => undefined))?.info.entries ?? 0;
  }

  /** Registry entries for these ids (case-insensitive), keyed by the lowercased id. */
  async lookUp(ids: string[], signal?: AbortSignal): Promise<Record<string, RegistryEntryMeta>> {
    if (ids.length === 0) return {};
    return (await this.engine.registryInfo({ registries: this.sources(), lookUp: ids, listWeightIds: false }, signal)).found;
  }

  async scan(fingerprint: Fingerprint, options: ScanRequestOptions = {}): Promise<OracleScan> {
    const excludeIds = [...(options.excludeRepoIds ?? [])];
    const key = `${fingerprintIdentity(fingerprint)}|${excludeIds.join(',').toLowerCase()}|${this.generation}`;
    return this.scans.run(key, async (signal) => {
      const out = await this.engine.scanRegistries({ registries: this.sources(), subject: { fingerprint }, excludeIds, topK: MATCHES_PER_SCAN }, signal);
      for (const problem of out.problems) this.onProblem(problem);
      return toOracleScan(out);
    }, options.signal);
  }

  /** What the registry knows about one of its own entries: its relatives among the other entries. */
  scanEntry(id: string, signal?: AbortSignal): Promise<OracleScan> {
    return this.scans.run(`entry:${id.toLowerCase()}|${this.generation}`, async (jobSignal) => toOracleScan(await this.engine.scanRegistries({ registries: this.sources(), subject: { entryId: id }, excludeIds: [], topK: MATCHES_PER_SCAN }, jobSignal)), signal);
  }

  /** Compares a fingerprint with one named entry (a declared base that is not on this machine). */
  compareWith(fingerprint: Fingerprint, id: string, signal?: AbortSignal): Promise<RegistryCompareOutput> {
    return this.engine.compareWithRegistryEntry({ registries: this.sources(), fingerprint, id }, signal);
  }

  async add(fingerprint: Fingerprint, entry: { id?: string; revision?: string }, signal?: AbortSignal): Promise<RegistryAddOutput> {
    const user = this.sources().find((s) => s.role === 'user');
    if (!user) throw new Error('no user registry is configured (lineage.registry.path)');
    const job: RegistryAddJob = { registry: user, fingerprint };
    if (entry.id !== undefined) job.id = entry.id;
    if (entry.revision !== undefined) job.revision = entry.revision;
    const added = await this.engine.addToRegistry(job, signal);
    this.invalidate();
    void this.current().catch(() => undefined);
    return added;
  }
}

function toOracleScan(out: RegistryScanOutput): OracleScan {
  const scan: OracleScan = { matches: out.matches };
  if (out.tokenizerFamily !== undefined) scan.tokenizerFamily = out.tokenizerFamily;
  return scan;
}
