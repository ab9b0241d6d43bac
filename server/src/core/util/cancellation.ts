// One cancellation error for every layer: engine jobs, worker pools, analyses and request handlers
// throw it when their AbortSignal fires, and callers tell it from real failures with isCancellation.

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export function isCancellation(err: unknown): boolean {
  return err instanceof CancelledError;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
