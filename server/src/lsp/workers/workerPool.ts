// A fixed pool of worker threads running jobs.ts jobs, most urgent first (the priority the job's
// signal carries, FIFO among equals). A cancelled job leaves the queue at once, or is told to stop
// when running; a crashed worker is replaced.
import { Worker } from 'node:worker_threads';
import type { RunOptions } from '../../analysis/engine';
import type { JobKind, JobTypes } from '../../analysis/jobs';
import { CancelledError } from '../../core/util/cancellation';
import { indexOfMostUrgent, priorityOf } from '../../core/util/jobPriority';
import type { WorkerRequest, WorkerResponse } from './workerMessages';

interface PendingJob {
  jobId: number;
  /** Submission order: ties of priority run first come, first served. */
  sequence: number;
  request: Extract<WorkerRequest, { type: 'run' }>;
  resolve(output: unknown): void;
  reject(error: Error): void;
  options: RunOptions;
  worker?: Worker;
}

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly queue: PendingJob[] = [];
  private readonly runningByWorker = new Map<Worker, PendingJob>();
  private nextJobId = 1;
  private disposed = false;

  constructor(private readonly workerFile: string, private readonly size: number, private readonly log: (message: string) => void = () => {}) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  /** Jobs waiting for a free worker plus jobs running; the scheduler reports it as progress. */
  get load(): number {
    return this.queue.length + this.runningByWorker.size;
  }

  run<K extends JobKind>(kind: K, input: JobTypes[K]['input'], options: RunOptions = {}): Promise<JobTypes[K]['output']> {
    if (this.disposed) return Promise.reject(new Error('worker pool disposed'));
    if (options.signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<JobTypes[K]['output']>((resolve, reject) => {
      const jobId = this.nextJobId++;
      const request = { type: 'run', jobId, kind, input } as Extract<WorkerRequest, { type: 'run' }>;
      const signal = options.signal;
      const onAbort = (): void => this.cancel(job);
      // The listener goes with the job: a long-lived signal must not collect settled jobs.
      const settle = <A>(finish: (arg: A) => void) => (arg: A): void => {
        signal?.removeEventListener('abort', onAbort);
        finish(arg);
      };
      const job: PendingJob = { jobId, sequence: jobId, request, resolve: settle(resolve as (output: unknown) => void), reject: settle(reject), options };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const job of this.queue.splice(0)) job.reject(new CancelledError());
    await Promise.all([...this.all].map((w) => w.terminate()));
  }

  private spawn(): void {
    const worker = new Worker(this.workerFile);
    // Workers must not keep the server alive after the client said `exit`.
    worker.unref();
    worker.on('message', (message: WorkerResponse) => this.onMessage(worker, message));
    worker.on('error', (err) => this.onCrash(worker, err));
    worker.on('exit', (code) => this.onCrash(worker, new Error(`worker exited with code ${code}`)));
    this.all.add(worker);
    this.idle.push(worker);
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      // Priorities are read now, not at submission: a document brought forward moves its queued jobs up.
      const [job] = this.queue.splice(indexOfMostUrgent(this.queue, (j) => priorityOf(j.options.signal)), 1) as [PendingJob];
      job.worker = worker;
      this.runningByWorker.set(worker, job);
      worker.postMessage(job.request);
    }
  }

  private cancel(job: PendingJob): void {
    const queuedAt = this.queue.indexOf(job);
    if (queuedAt >= 0) {
      this.queue.splice(queuedAt, 1);
      job.reject(new CancelledError());
    } else if (job.worker && this.runningByWorker.get(job.worker) === job) {
      // The worker stops at its next checkpoint; its late result is dropped in onMessage.
      job.worker.postMessage({ type: 'cancel', jobId: job.jobId } satisfies WorkerRequest);
      job.reject(new CancelledError());
    }
  }

  private onMessage(worker: Worker, message: WorkerResponse): void {
    const job = this.runningByWorker.get(worker);
    if (!job || job.jobId !== message.jobId) return;
    if (message.type === 'progress') {
      job.options.onProgress?.(message.fraction, message.message);
      return;
    }
    this.runningByWorker.delete(worker);
    this.idle.push(worker);
    if (message.ok) job.resolve(message.output);
    else job.reject(message.cancelled ? new CancelledError() : new Error(message.error));
    this.dispatch();
  }

  private onCrash(worker: Worker, err: Error): void {
    if (!this.all.has(worker)) return;
    this.all.delete(worker);
    const idleAt = this.idle.indexOf(worker);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    const job = this.runningByWorker.get(worker);
    this.runningByWorker.delete(worker);
    job?.reject(new Error(`worker failed: ${err.message}`));
    if (this.disposed) return;
    this.log(`worker replaced after failure: ${err.message}`);
    this.spawn();
    this.dispatch();
  }
}
