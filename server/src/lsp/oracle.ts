// The seam where a reference database plugs in: a LineageOracle scans a fingerprint against known
// models. The default knows nothing; the registry (server/src/core/registry) becomes one call here.
import type { Fingerprint } from '../core/fingerprint/types';
import type { LineageMatch } from './protocol';

/** One known model the oracle found related to a fingerprint. */
export type ScanMatch = LineageMatch;

export interface LineageOracle {
  /** Human name for logs and hovers ("registry", "local cache"). */
  readonly name: string;
  /** Known models related to the fingerprint, strongest first. Must not throw for unknown models. */
  scan(fingerprint: Fingerprint, options?: { signal?: AbortSignal; excludeRepoIds?: readonly string[] }): Promise<ScanMatch[]>;
  /** How many known models a scan considers (for "checked against N known models"). */
  size?(): Promise<number>;
}

export const noopOracle: LineageOracle = {
  name: 'none',
  scan: async () => [],
  size: async () => 0,
};

/** Asks every oracle and merges their matches (one per repo id, the strongest kept). */
export function combineOracles(oracles: readonly LineageOracle[]): LineageOracle {
  return {
    name: oracles.map((o) => o.name).join(' + '),
    async scan(fingerprint, options) {
      const results = await Promise.all(oracles.map((o) => o.scan(fingerprint, options).catch((): ScanMatch[] => [])));
      const byRepo = new Map<string, ScanMatch>();
      for (const match of results.flat()) {
        const key = match.repoId.toLowerCase();
        const previous = byRepo.get(key);
        if (!previous || (match.log10P ?? 0) < (previous.log10P ?? 0)) byRepo.set(key, match);
      }
      return [...byRepo.values()];
    },
    async size() {
      const sizes = await Promise.all(oracles.map((o) => (o.size ? o.size().catch(() => 0) : Promise.resolve(0))));
      return sizes.reduce((sum, n) => sum + n, 0);
    },
  };
}
