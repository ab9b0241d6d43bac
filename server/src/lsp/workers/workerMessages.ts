// Messages between the worker pool (server thread) and worker threads; shared so both sides agree.
// Payloads cross threads by structured clone (typed arrays of fingerprints included).
import type { JobKind, JobTypes } from '../../analysis/jobs';

export type WorkerRequest =
  | { [K in JobKind]: { type: 'run'; jobId: number; kind: K; input: JobTypes[K]['input'] } }[JobKind]
  | { type: 'cancel'; jobId: number };

export type WorkerResponse =
  | { type: 'progress'; jobId: number; fraction: number; message: string }
  | { type: 'result'; jobId: number; ok: true; output: JobTypes[JobKind]['output'] }
  | { type: 'result'; jobId: number; ok: false; error: string; cancelled: boolean };
