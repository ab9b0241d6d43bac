// Entry point of a worker thread (bundled to dist/worker.js): runs jobs from jobs.ts on request of
// the pool, so that fingerprinting and hashing never block the language server's message loop.
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../core/errors';
import { CancelledError } from '../../core/util/cancellation';
import { jobHandlers, type JobKind, type JobTypes } from '../../analysis/jobs';
import type { WorkerRequest, WorkerResponse } from './workerMessages';

const port = parentPort;
if (!port) throw new Error('worker.js must run as a worker thread');

const running = new Map<number, AbortController>();

function post(message: WorkerResponse): void {
  port!.postMessage(message);
}

async function run<K extends JobKind>(jobId: number, kind: K, input: JobTypes[K]['input']): Promise<void> {
  const controller = new AbortController();
  running.set(jobId, controller);
  // Progress is throttled: a fingerprint reports after every tensor, far more often than anyone reads.
  let lastProgressMs = 0;
  try {
    const handler = jobHandlers[kind] as (input: JobTypes[K]['input'], context: Parameters<(typeof jobHandlers)[K]>[1]) => Promise<JobTypes[K]['output']>;
    const output = await handler(input, {
      signal: controller.signal,
      progress: (fraction, message) => {
        const now = Date.now();
        if (now - lastProgressMs < 100 && fraction < 1) return;
        lastProgressMs = now;
        post({ type: 'progress', jobId, fraction, message });
      },
    });
    post({ type: 'result', jobId, ok: true, output });
  } catch (err) {
    post({ type: 'result', jobId, ok: false, error: errorMessage(err), cancelled: err instanceof CancelledError || controller.signal.aborted });
  } finally {
    running.delete(jobId);
  }
}

port.on('message', (message: WorkerRequest) => {
  if (message.type === 'cancel') running.get(message.jobId)?.abort();
  else void run(message.jobId, message.kind, message.input);
});
