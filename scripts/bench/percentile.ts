// Percentiles of measured latencies for the benchmark scripts (nearest rank on a sorted copy).

/** The value at `fraction` (0..1) of `samples`, by nearest rank; NaN for no samples. */
export function percentile(samples: readonly number[], fraction: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}
