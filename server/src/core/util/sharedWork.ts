// Deduplicated, cancellable, cached async work: concurrent callers of one key share one job, each
// may leave on its own signal, and the job is aborted only when no caller is left.
import { CancelledError } from './cancellation';
import { attachPriority, priorityOf } from './jobPriority';
import { LruCache } from './lruCache';

interface InFlight<T> {
  promise: Promise<T>;
  waiters: number;
  controller: AbortController;
  /** The signals of the callers still waiting: the job is as urgent as the most urgent of them. */
  waiterSignals: Set<AbortSignal | undefined>;
}

/**
 * Deduplicates concurrent requests for the same key and caches results. Each caller may pass its
 * own signal: it stops waiting at once, and the job itself is aborted only when no caller is left.
 */
export class SharedWork<T> {
  private readonly inFlight = new Map<string, InFlight<T>>();
  readonly done: LruCache<string, T>;

  constructor(capacity: number) {
    this.done = new LruCache(capacity);
  }

  isDone(key: string): boolean {
    return this.done.has(key);
  }

  run(key: string, start: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const cached = this.done.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    if (signal?.aborted) return Promise.reject(new CancelledError());
    let entry = this.inFlight.get(key);
    if (!entry) {
      const controller = new AbortController();
      const waiterSignals = new Set<AbortSignal | undefined>();
      attachPriority(controller.signal, () => Math.min(...[...waiterSignals].map(priorityOf)));
      const promise = start(controller.signal).then((value) => {
        this.done.set(key, value);
        return value;
      });
      const created: InFlight<T> = { promise, waiters: 0, controller, waiterSignals };
      // Settled jobs leave the in-flight map whatever the outcome; failures are retried next time.
      promise.then(() => this.inFlight.delete(key), () => this.inFlight.delete(key));
      this.inFlight.set(key, created);
      entry = created;
    }
    const shared = entry;
    shared.waiters++;
    // One entry per signal (callers without one share `undefined`, which counts as most urgent).
    shared.waiterSignals.add(signal);
    const waiterLeft = (): void => {
      shared.waiters--;
      if (signal !== undefined) shared.waiterSignals.delete(signal);
    };
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leave = (): void => {
        if (settled) return;
        settled = true;
        waiterLeft();
        if (shared.waiters === 0 && this.inFlight.get(key) === shared) {
          this.inFlight.delete(key);
          shared.controller.abort();
        }
        reject(new CancelledError());
      };
      signal?.addEventListener('abort', leave, { once: true });
      shared.promise.then(
        (value) => {
          if (settled) return;
          settled = true;
          waiterLeft();
          signal?.removeEventListener('abort', leave);
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          waiterLeft();
          signal?.removeEventListener('abort', leave);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  clear(): void {
    this.done.clear();
  }
}
