// The shared fingerprint database on the Hub: a dataset of NDJSON shards (shards/*.ndjson). Pull
// downloads every shard of one commit, refuses any whose sha256 differs from the Hub's, checks each
// entry's provenance against the Hub, and merges idempotently; publish builds a contribution shard.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { downloadVerified, resolveDataset, type DatasetSnapshot, type HubDatasetOptions } from '../hub/hubDataset';
import { lookUpHubModel, type HubLookupResult } from '../hub/hubMetadata';
import { formatEntryLine, parseEntryLine, readLinesBounded } from './ndjson';
import type { AsyncRegistry, RegistryEntry } from './types';

/** The dataset `lineage db pull` uses when none is named. */
export const DEFAULT_SHARED_DATASET = 'lineage-lens/fingerprints';
export const SHARD_FOLDER = 'shards/';
/** A shard is a few thousand compact fingerprints; a larger file is not one of ours. */
export const MAX_SHARD_BYTES = 2 * 1024 * 1024 * 1024;
const MERGE_BATCH = 200;

export type ProvenanceCheck = { status: 'verified' } | { status: 'unverifiable'; reason: string } | { status: 'contradicted'; reason: string };

function idKey(id: string): string {
  return id.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * What the Hub says about an entry's claimed origin. Contradicted: the provenance names another
 * repository than the entry's id, the fingerprint's own file hashes differ from the provenance, or
 * the Hub's LFS hashes at the claimed commit differ (or the file is not there). Unverifiable: no
 * repository, commit or hashes to check, or the Hub does not answer for it (private, gated, offline).
 */
export async function checkProvenance(entry: RegistryEntry, lookUp: (repo: string, commit: string) => Promise<HubLookupResult>): Promise<ProvenanceCheck> {
  const p = entry.meta.provenance;
  if (!p) return { status: 'unverifiable', reason: 'no provenance' };
  if (p.repo && idKey(p.repo) !== idKey(entry.meta.id)) return { status: 'contradicted', reason: `its provenance names repository ${p.repo}, not ${entry.meta.id}` };
  const fp = entry.fingerprint;
  if (p.commit && fp.model.commit && p.commit !== fp.model.commit) return { status: 'contradicted', reason: `its fingerprint was taken at commit ${fp.model.commit}, its provenance says ${p.commit}` };
  const claimed = p.lfsSha256 ?? {};
  for (const file of fp.files) {
    if (file.role !== 'weights' || !file.sha256) continue;
    const stated = claimed[file.relativePath];
    if (stated && stated !== file.sha256) return { status: 'contradicted', reason: `${file.relativePath}: the fingerprint's sha256 differs from its provenance's` };
  }
  if (!p.repo || !p.commit || Object.keys(claimed).length === 0) return { status: 'unverifiable', reason: 'no repository, commit and file hashes to check' };
  const answer = await lookUp(p.repo, p.commit);
  if (!answer.ok) return { status: 'unverifiable', reason: `the Hub did not confirm ${p.repo}@${p.commit.slice(0, 12)} (${answer.reason})` };
  const onHub = new Map(answer.metadata.files.map((f) => [f.path, f.lfsSha256]));
  for (const [file, sha] of Object.entries(claimed)) {
    if (!onHub.has(file)) return { status: 'contradicted', reason: `${file} is not in ${p.repo}@${p.commit.slice(0, 12)} on the Hub` };
    const hubSha = onHub.get(file);
    if (hubSha && hubSha !== sha) return { status: 'contradicted', reason: `${file}: sha256 ${sha.slice(0, 12)}… differs from the Hub's ${hubSha.slice(0, 12)}… at ${p.commit.slice(0, 12)}` };
  }
  return { status: 'verified' };
}

export interface PullOptions extends HubDatasetOptions {
  revision?: string;
  /** Check entries against the Hub (default true). */
  checkAgainstHub?: boolean;
  /** Also reject entries that cannot be checked (default false: they are merged and counted). */
  strict?: boolean;
  onProgress?: (event: { phase: 'download' | 'merge'; done: number; total: number }) => void;
}

export interface PullReport {
  dataset: string;
  commit: string;
  shards: number;
  entries: number;
  added: number;
  replaced: number;
  unchanged: number;
  verified: number;
  unverifiable: number;
  rejected: Array<{ id: string; shard: string; reason: string }>;
}

/**
 * Pulls the dataset into `registry`. Every shard is downloaded and verified before anything is
 * merged: one tampered shard refuses the whole pull. Entries keep their source and gain
 * provenance.pulledFrom = "hf-dataset:ID@COMMIT".
 */
export async function pullSharedDataset(registry: AsyncRegistry, datasetId: string, options: PullOptions): Promise<PullReport> {
  const snapshot = await resolveDataset(datasetId, options.revision ?? 'main', options);
  const shards = snapshot.files.filter((f) => f.path.startsWith(SHARD_FOLDER) && f.path.endsWith('.ndjson')).sort((a, b) => (a.path < b.path ? -1 : 1));
  const work = mkdtempSync(path.join(tmpdir(), 'lineage-pull-'));
  const report: PullReport = { dataset: datasetId, commit: snapshot.commit, shards: shards.length, entries: 0, added: 0, replaced: 0, unchanged: 0, verified: 0, unverifiable: 0, rejected: [] };
  try {
    const local: string[] = [];
    for (const [i, shard] of shards.entries()) {
      const file = path.join(work, `shard-${i}.ndjson`);
      await downloadVerified(snapshot, shard, file, { ...options, maxBytes: MAX_SHARD_BYTES });
      local.push(file);
      options.onProgress?.({ phase: 'download', done: i + 1, total: shards.length });
    }
    const lookups = new Map<string, Promise<HubLookupResult>>();
    const lookUp = (repo: string, commit: string) => {
      const key = `${repo}@${commit}`;
      let found = lookups.get(key);
      if (!found) {
        found = lookUpHubModel(repo, commit, { endpoint: options.endpoint, accessToken: options.accessToken, fetch: options.fetch });
        lookups.set(key, found);
      }
      return found;
    };
    const pulledFrom = `hf-dataset:${snapshot.id}@${snapshot.commit}`;
    for (const [i, file] of local.entries()) {
      const shardName = shards[i]!.path;
      let batch: RegistryEntry[] = [];
      const flush = async () => {
        if (!batch.length) return;
        const summary = await registry.putMany(batch);
        report.added += summary.added;
        report.replaced += summary.replaced;
        report.unchanged += summary.unchanged;
        batch = [];
      };
      for await (const { line, lineNumber } of readLinesBounded(file)) {
        if (line.trim() === '') continue;
        report.entries++;
        let entry: RegistryEntry;
        try {
          entry = parseEntryLine(line, `${snapshot.id}/${shardName}:${lineNumber}`);
        } catch (err) {
          report.rejected.push({ id: `(line ${lineNumber})`, shard: shardName, reason: err instanceof Error ? err.message : String(err) });
          continue;
        }
        const check = options.checkAgainstHub === false ? ({ status: 'unverifiable', reason: 'not checked' } as ProvenanceCheck) : await checkProvenance(entry, lookUp);
        if (check.status === 'contradicted' || (check.status === 'unverifiable' && options.strict)) {
          report.rejected.push({ id: entry.meta.id, shard: shardName, reason: check.reason });
          continue;
        }
        if (check.status === 'verified') report.verified++;
        else report.unverifiable++;
        const provenance = entry.meta.provenance ?? { tool: 'unknown', extractorVersion: entry.fingerprint.extractorVersion };
        entry.meta = { ...entry.meta, source: entry.meta.source ?? pulledFrom, provenance: { ...provenance, pulledFrom } };
        batch.push(entry);
        if (batch.length >= MERGE_BATCH) await flush();
      }
      await flush();
      options.onProgress?.({ phase: 'merge', done: i + 1, total: local.length });
    }
    return report;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A contribution shard: entries as NDJSON, named by contributor and content hash (never overwrites another shard). */
export function contributionShard(entries: RegistryEntry[], contributor: string): { path: string; content: Uint8Array } {
  const content = Buffer.from(entries.map((e) => formatEntryLine(e) + '\n').join(''), 'utf8');
  const safeName = contributor.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'anonymous';
  const digest = createHash('sha256').update(content).digest('hex').slice(0, 16);
  return { path: `${SHARD_FOLDER}contrib-${safeName}-${digest}.ndjson`, content };
}

export type { DatasetSnapshot };
