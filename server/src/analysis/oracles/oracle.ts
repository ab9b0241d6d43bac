// The seam where sources of known models plug in: a LineageOracle scans a fingerprint against the
// models it knows. Two exist: the local Hugging Face cache and the registries (registryOracle.ts).
import type { Fingerprint } from '../../core/fingerprint/types';
import type { LineageMatch } from '../../protocol';

/** One known model the oracle found related to a fingerprint. */
export type ScanMatch = LineageMatch;

export interface OracleScan {
  /** Related known models, strongest first. */
  matches: ScanMatch[];
  /** The closest known tokenizer vocabulary, when the oracle knows vocabularies. */
  tokenizerFamily?: string;
}

export interface ScanRequestOptions {
  signal?: AbortSignal;
  excludeRepoIds?: readonly string[];
}

export interface LineageOracle {
  /** Human name for logs and hovers ("registry", "local cache"). */
  readonly name: string;
  /** Known models related to the fingerprint. Must not throw for unknown models. */
  scan(fingerprint: Fingerprint, options?: ScanRequestOptions): Promise<OracleScan>;
  /** How many known models a scan considers (for "checked against N known models"). */
  size?(): Promise<number>;
}

export const noopOracle: LineageOracle = {
  name: 'none',
  scan: async () => ({ matches: [] }),
  size: async () => 0,
};

/** Asks every oracle and merges their matches (one per repo id, the strongest kept). */
export function combineOracles(oracles: readonly LineageOracle[]): LineageOracle {
  return {
    name: oracles.map((o) => o.name).join(' + '),
    async scan(fingerprint, options) {
      const results = await Promise.all(oracles.map((o) => o.scan(fingerprint, options).catch((): OracleScan => ({ matches: [] }))));
      const byRepo = new Map<string, ScanMatch>();
      for (const match of results.flatMap((r) => r.matches)) {
        const key = match.repoId.toLowerCase();
        const previous = byRepo.get(key);
        if (!previous || (match.log10P ?? 0) < (previous.log10P ?? 0)) byRepo.set(key, match);
      }
      const combined: OracleScan = { matches: [...byRepo.values()] };
      const tokenizerFamily = results.find((r) => r.tokenizerFamily !== undefined)?.tokenizerFamily;
      if (tokenizerFamily !== undefined) combined.tokenizerFamily = tokenizerFamily;
      return combined;
    },
    async size() {
      const sizes = await Promise.all(oracles.map((o) => (o.size ? o.size().catch(() => 0) : Promise.resolve(0))));
      return sizes.reduce((sum, n) => sum + n, 0);
    },
  };
}

/** A fingerprint's cache key: its file hashes when present (stable across reloads), else name and sizes. */
export function fingerprintIdentity(fingerprint: Fingerprint): string {
  const hashes = fingerprint.files.map((f) => f.sha256 ?? `${f.relativePath}:${f.sizeBytes}`).join(',');
  return `fingerprint:${fingerprint.model.repoId ?? fingerprint.model.name}:${fingerprint.model.commit ?? ''}:${hashes}`;
}
