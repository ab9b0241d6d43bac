// A LineageOracle over the models already in the local Hugging Face cache: each candidate is
// fingerprinted once (cached by content identity) and compared in a worker. No network, no registry.
import type { Fingerprint } from '../../core/fingerprint/types';
import { RELATED_VERDICTS } from '../../core/compare/types';
import type { InspectOutput } from '../jobs';
import { fingerprintIdentity, type LineageOracle, type OracleScan, type ScanMatch } from './oracle';
import type { Resolution } from '../../protocol';
import type { AnalysisEngine } from '../engine';
import { isCancellation } from '../../core/util/cancellation';

/** Candidates are listed again after this long, so new downloads join without a restart. */
const LISTING_TTL_MS = 30_000;

export class LocalCacheOracle implements LineageOracle {
  readonly name = 'local cache';
  private listing: { at: number; models: Promise<Resolution[]> } | undefined;

  constructor(private readonly engine: AnalysisEngine, private readonly maxModels: () => number, private readonly enabled: () => boolean) {}

  private candidates(signal?: AbortSignal): Promise<Resolution[]> {
    const now = Date.now();
    if (!this.listing || now - this.listing.at > LISTING_TTL_MS) {
      const models = this.engine.listCachedModels(this.maxModels(), signal);
      models.catch(() => { if (this.listing?.models === models) this.listing = undefined; });
      this.listing = { at: now, models };
    }
    return this.listing.models;
  }

  async size(): Promise<number> {
    return this.enabled() ? (await this.candidates()).length : 0;
  }

  async scan(fingerprint: Fingerprint, options: { signal?: AbortSignal; excludeRepoIds?: readonly string[] } = {}): Promise<OracleScan> {
    if (!this.enabled()) return { matches: [] };
    const excluded = new Set((options.excludeRepoIds ?? []).map((id) => id.toLowerCase()));
    const subject: InspectOutput = { facts: { contentIdentity: fingerprintIdentity(fingerprint), displayName: fingerprint.model.name, format: fingerprint.model.format, files: [], weightFiles: [], findings: [], declaredBases: [], integrity: [], problems: [] }, fingerprint };
    const matches: ScanMatch[] = [];
    for (const candidate of await this.candidates(options.signal)) {
      if (candidate.repoId === undefined || excluded.has(candidate.repoId.toLowerCase())) continue;
      try {
        const inspected = await this.engine.inspect(candidate, options.signal);
        if (!inspected.fingerprint || inspected.facts.contentIdentity === subject.facts.contentIdentity) continue;
        // A cached copy whose bytes no longer match their hashes is not evidence of anything (LL006 reports it).
        if (inspected.facts.integrity.some((entry) => entry.status === 'mismatch')) continue;
        const comparison = await this.engine.compare(subject, inspected, options.signal);
        if (!RELATED_VERDICTS.has(comparison.verdict)) continue;
        const match: ScanMatch = { repoId: candidate.repoId, verdict: comparison.verdict, reason: comparison.reason, source: 'local-cache' };
        if (candidate.commit !== undefined) match.commit = candidate.commit;
        // The subject is side a, the cached candidate side b.
        if (comparison.direction) match.relation = comparison.direction.parent === 'b' ? 'parent' : 'child';
        if (comparison.lineageLog10P !== undefined) match.log10P = comparison.lineageLog10P;
        matches.push(match);
      } catch (err) {
        if (isCancellation(err)) throw err;
        // An unreadable candidate is not evidence either way.
      }
    }
    return { matches };
  }
}
