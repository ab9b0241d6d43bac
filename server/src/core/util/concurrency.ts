// Bounded concurrency for independent async jobs (positional reads keep a disk queue busy without
// flooding it). Results come back in job order, whatever order the jobs finish in.

/** Runs `jobs` with at most `limit` in flight; results in job order. */
export async function runWithConcurrency<T>(jobs: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await jobs[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}
