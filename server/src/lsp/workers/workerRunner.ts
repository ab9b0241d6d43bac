// The language server's JobRunner: light jobs (resolution, listings) on one worker thread, heavy ones
// (fingerprints, comparisons, registry scans) on a pool of the rest, so the message loop never computes.
import type { JobRunner, RunOptions } from '../../analysis/engine';
import type { JobKind, JobTypes } from '../../analysis/jobs';
import { WorkerPool } from './workerPool';

export class WorkerJobRunner implements JobRunner {
  private readonly light: WorkerPool;
  private readonly heavy: WorkerPool;

  constructor(workerFile: string, heavyWorkers: number, log: (message: string) => void) {
    this.light = new WorkerPool(workerFile, 1, log);
    this.heavy = new WorkerPool(workerFile, heavyWorkers, log);
  }

  run<K extends JobKind>(lane: 'light' | 'heavy', kind: K, input: JobTypes[K]['input'], options?: RunOptions): Promise<JobTypes[K]['output']> {
    return (lane === 'light' ? this.light : this.heavy).run(kind, input, options);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.light.dispose(), this.heavy.dispose()]);
  }
}
