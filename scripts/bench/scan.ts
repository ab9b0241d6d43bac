// Benchmark of `lineage scan` at registry scale on the embedded backend: fills a registry file with
// synthetic fingerprints (test/fixtures/syntheticRegistry.ts), reopens it from disk, then times
// scans. Prints p50/p99 latency, bytes per entry and file size. `npm run bench:registry` measures
// both backends (open time, client RSS, import rate) and reaches 10^6 rows.
// Usage: tsx scripts/bench/scan.ts [entries] [scans]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RELATED_VERDICTS } from '../../server/src/core/compare/types';
import { openSqliteRegistry, scanRegistry } from '../../server/src/core/registry';
import { createPrng } from '../../server/src/core/util/prng';
import { makeBase, syntheticEntry, syntheticFingerprint, syntheticRegistryState } from '../../test/fixtures/syntheticRegistry';

const ENTRIES = Number(process.argv[2] ?? 100_000);
const SCANS = Number(process.argv[3] ?? 200);

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-bench-scan-'));
  const file = path.join(folder, 'registry.sqlite');
  try {
    const state = syntheticRegistryState();
    const { bases, vocabularies } = state;
    const fillStart = performance.now();
    const registry = await openSqliteRegistry(file, { writable: true });
    for (let i = 0; i < ENTRIES; i++) {
      registry.put(syntheticEntry(state, i));
      if ((i + 1) % 10_000 === 0) process.stderr.write(`  ${i + 1} entries (${((performance.now() - fillStart) / 1000).toFixed(0)} s)\n`);
    }
    registry.commit();
    registry.close();
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const fileBytes = statSync(file).size;

    const openStart = performance.now();
    const reopened = await openSqliteRegistry(file);
    const openMs = performance.now() - openStart;
    const latencies: number[] = [];
    let relatedFound = 0;
    let unrelatedClean = 0;
    const queries = createPrng('bench-scan-queries');
    for (let s = 0; s < SCANS; s++) {
      // Half the queries are new fine-tunes of a known base, half are new independent models.
      const derived = s % 2 === 0;
      const base = derived ? bases[queries.nextInt(bases.length)]! : makeBase(queries, vocabularies);
      const fp = syntheticFingerprint(`query-${s}`, base, derived ? 0.05 + 0.25 * queries.nextFloat() : 0, queries);
      const t0 = performance.now();
      const result = scanRegistry(reopened, fp);
      latencies.push(performance.now() - t0);
      const related = result.matches.some((m) => RELATED_VERDICTS.has(m.verdict));
      if (derived && related) relatedFound++;
      if (!derived && !related) unrelatedClean++;
    }
    reopened.close();
    latencies.sort((a, b) => a - b);
    const lines = [
      `entries:            ${ENTRIES} (${bases.length} bases with their fine-tunes), filled in ${fillSeconds.toFixed(1)} s`,
      `file size:          ${(fileBytes / 1024 / 1024).toFixed(1)} MiB`,
      `bytes per entry:    ${Math.round(fileBytes / ENTRIES)}`,
      `open:               ${openMs.toFixed(0)} ms`,
      `scans:              ${SCANS} (half derivatives of a known base, half independent models)`,
      `scan latency p50:   ${percentile(latencies, 0.5).toFixed(1)} ms`,
      `scan latency p99:   ${percentile(latencies, 0.99).toFixed(1)} ms`,
      `derivatives found:  ${relatedFound} of ${SCANS / 2}; independent models with no related entry: ${unrelatedClean} of ${SCANS / 2}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scan: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
