// One budgeted HTTP session for reading a remote model: bounded concurrency, retries with backoff
// that honour Retry-After, per-request timeouts, manual redirects that drop the token off-origin.
import { errorMessage } from '../errors';
import { httpGet, type HttpAnswer } from './httpTransport';

/** What a remote read cost; printed by the CLI and handed to progress callbacks. */
export interface RemoteReadStats {
  /** HTTP requests sent (every attempt and every redirect hop counts). */
  requests: number;
  /** Requests sent to the Hub endpoint (API, resolve). */
  hubRequests: number;
  /** Requests sent to any other origin (the storage behind the Hub's redirects). */
  storageRequests: number;
  /** Body bytes received over the network, failed attempts included. */
  bytesTransferred: number;
  /** Bytes served from the on-disk read cache instead of the network. */
  bytesFromCache: number;
  retries: number;
}

export function emptyRemoteReadStats(): RemoteReadStats {
  return { requests: 0, hubRequests: 0, storageRequests: 0, bytesTransferred: 0, bytesFromCache: 0, retries: 0 };
}

export interface RemoteSessionOptions {
  /** The Hub endpoint (origin + optional path); the only origin that ever receives the token. */
  endpoint: string;
  accessToken?: string;
  /** Bytes this session may receive over the network, all files together (lineage.fingerprint.maxBytesPerModel). */
  maxBytes: number;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Per request, headers and body (default 30 s). */
  timeoutMs?: number;
  /** Attempts per request including the first (default 5). */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt, with jitter (default 250 ms). */
  retryBaseMs?: number;
  /** Longest wait, Retry-After included (default 30 s); a longer Retry-After fails the read. */
  maxRetryDelayMs?: number;
  signal?: AbortSignal;
  onProgress?: (stats: Readonly<RemoteReadStats>) => void;
}

/** The network is not to be used (--offline, HF_HUB_OFFLINE=1) or cannot serve the read. */
export class RemoteReadError extends Error {
  constructor(
    readonly reason: 'offline' | 'budget' | 'gated' | 'not-found' | 'http' | 'protocol' | 'changed' | 'network' | 'timeout',
    message: string,
  ) {
    super(message);
    this.name = 'RemoteReadError';
  }
}

/** A failure worth another attempt (5xx, 429, connection reset, timeout), with the server's wait hint. */
export class RetryableError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'RetryableError';
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const DEFAULT_CONCURRENCY = 8;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_RETRY_BASE_MS = 250;
const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;

export interface SessionResponse {
  response: HttpAnswer;
  /** URL that answered (after redirects). */
  finalUrl: URL;
  /** Headers of the first (Hub) hop, where the Hub puts X-Repo-Commit / X-Linked-* before redirecting. */
  firstHopHeaders: Headers;
}

export class RemoteSession {
  readonly stats: RemoteReadStats = emptyRemoteReadStats();
  readonly endpointOrigin: string;
  private readonly concurrency: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly options: RemoteSessionOptions) {
    this.endpointOrigin = new URL(options.endpoint).origin;
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  }

  get signal(): AbortSignal | undefined {
    return this.options.signal;
  }

  /** Throws when receiving `bytes` more would exceed the budget (checked before a request is sent). */
  reserve(bytes: number, what: string): void {
    if (this.stats.bytesTransferred + bytes > this.options.maxBytes) {
      throw new RemoteReadError(
        'budget',
        `${what}: reading ${bytes} more bytes would exceed the budget of ${this.options.maxBytes} bytes for this model (${this.stats.bytesTransferred} already received)`,
      );
    }
  }

  /** Counts received body bytes; throws past the budget so a runaway body is cut off. */
  countReceived(bytes: number, what: string): void {
    this.stats.bytesTransferred += bytes;
    if (this.stats.bytesTransferred > this.options.maxBytes) {
      throw new RemoteReadError('budget', `${what}: the byte budget of ${this.options.maxBytes} bytes for this model is exhausted`);
    }
  }

  countFromCache(bytes: number): void {
    this.stats.bytesFromCache += bytes;
    this.progress();
  }

  progress(): void {
    this.options.onProgress?.(this.stats);
  }

  /** Waits for one of the `concurrency` request slots; pair with release(). */
  async acquire(): Promise<void> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so `active` is unchanged.
    if (next) next();
    else this.active--;
  }

  /** Origins that answered a multi-range request with something else: asked one range at a time from then on. */
  readonly singleRangeOrigins = new Set<string>();

  /**
   * Runs `attempt` until it succeeds, fails for good, or attempts run out. Each attempt gets its own
   * timeout signal. RetryableError and network errors are retried after a backoff (Retry-After wins).
   */
  async withRetries<T>(what: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    const base = this.options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    const maxDelay = this.options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let lastError: unknown;
    for (let n = 1; n <= maxAttempts; n++) {
      this.throwIfAborted();
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = this.options.signal ? AbortSignal.any([this.options.signal, timeout]) : timeout;
      try {
        return await attempt(signal);
      } catch (err) {
        this.throwIfAborted();
        const retryable = toRetryable(err, timeout.aborted, timeoutMs);
        if (!retryable) throw err;
        lastError = retryable;
        if (n === maxAttempts) break;
        const backoff = Math.min(maxDelay, base * 2 ** (n - 1)) * (0.75 + Math.random() * 0.5);
        const wait = retryable.retryAfterMs ?? backoff;
        if (wait > maxDelay) {
          throw new RemoteReadError('http', `${what}: the server asks to retry after ${Math.round(wait / 1000)} s, longer than ${Math.round(maxDelay / 1000)} s`);
        }
        this.stats.retries++;
        await sleep(wait, this.options.signal);
      }
    }
    const detail = errorMessage(lastError);
    throw new RemoteReadError(lastError instanceof RetryableError && /timed out/.test(detail) ? 'timeout' : 'network', `${what}: gave up after ${maxAttempts} attempts (${detail})`);
  }

  /**
   * One GET following redirects by hand: the token goes to the Hub endpoint's origin only and is
   * dropped for good at the first hop to another origin. Non-2xx answers are returned, not thrown.
   */
  async get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<SessionResponse> {
    let current = url;
    let sendToken = this.options.accessToken !== undefined && current.origin === this.endpointOrigin;
    let firstHopHeaders: Headers | undefined;
    for (let hop = 0; ; hop++) {
      // Compressed ranges are meaningless; ask for the bytes as stored.
      const h: Record<string, string> = { ...headers, 'accept-encoding': 'identity' };
      if (sendToken) h['authorization'] = `Bearer ${this.options.accessToken}`;
      this.stats.requests++;
      if (current.origin === this.endpointOrigin) this.stats.hubRequests++;
      else this.stats.storageRequests++;
      let response: HttpAnswer;
      try {
        response = await httpGet(current, h, signal);
      } catch (err) {
        throw networkError(err, current);
      }
      firstHopHeaders ??= response.headers;
      if (!REDIRECT_STATUSES.has(response.status)) return { response, finalUrl: current, firstHopHeaders };
      const location = response.headers.get('location');
      response.discard();
      if (location === null) throw new RemoteReadError('protocol', `${describeUrl(current)}: redirect without a Location`);
      if (hop >= MAX_REDIRECTS) throw new RemoteReadError('protocol', `${describeUrl(url)}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RemoteReadError('protocol', `${describeUrl(current)}: redirect to a ${next.protocol} URL refused`);
      if (current.protocol === 'https:' && next.protocol === 'http:') throw new RemoteReadError('protocol', `${describeUrl(current)}: redirect from https to plain http refused`);
      // Once off the endpoint, never back on with the token (a storage origin could bounce us anywhere).
      if (next.origin !== this.endpointOrigin) sendToken = false;
      current = next;
    }
  }

  throwIfAborted(): void {
    const signal = this.options.signal;
    if (signal?.aborted) {
      const reason: unknown = signal.reason;
      throw reason instanceof Error ? reason : new DOMException('the remote read was cancelled', 'AbortError');
    }
  }
}

/**
 * Reads a body up to `maxBytes`, counting every chunk against the session budget; more is an error.
 * On an error the caller discards the answer (as it does for every error after the headers).
 */
export async function readBodyBounded(session: RemoteSession, response: HttpAnswer, maxBytes: number, what: string): Promise<Uint8Array> {
  // A declared length within the cap: chunks go straight into one buffer (no second copy at the end).
  const declared = Number(response.headers.get('content-length') ?? NaN);
  let out = Number.isSafeInteger(declared) && declared >= 0 && declared <= maxBytes ? new Uint8Array(declared) : undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const iterator = response.body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let chunk: IteratorResult<Uint8Array>;
      try {
        chunk = await iterator.next();
      } catch (err) {
        throw networkError(err, undefined);
      }
      if (chunk.done) break;
      session.countReceived(chunk.value.length, what);
      if (total + chunk.value.length > maxBytes) throw new RemoteReadError('protocol', `${what}: the server sent more than the ${maxBytes} bytes asked for`);
      if (out && total + chunk.value.length <= out.length) out.set(chunk.value, total);
      else {
        // More than declared (the caller's length checks report it): fall back to collecting chunks.
        if (out) chunks.push(out.subarray(0, total));
        out = undefined;
        chunks.push(chunk.value);
      }
      total += chunk.value.length;
    }
  } finally {
    session.progress();
  }
  if (out) return total === out.length ? out : out.subarray(0, total);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    joined.set(c, at);
    at += c.length;
  }
  return joined;
}

/** Throws RetryableError for 429 and 5xx (with Retry-After); the caller discards the answer. */
export function throwIfRetryableStatus(response: HttpAnswer, what: string): void {
  if (response.status !== 429 && (response.status < 500 || response.status > 599)) return;
  throw new RetryableError(`${what}: HTTP ${response.status}`, parseRetryAfter(response.headers.get('retry-after')));
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Origin and path only: signed storage URLs carry credentials in their query. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function networkError(err: unknown, url: URL | undefined): Error {
  if (err instanceof RemoteReadError || err instanceof RetryableError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const where = url ? `${describeUrl(url)}: ` : '';
  const cause = (err as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? cause.message : errorMessage(err);
  return new RetryableError(`${where}connection failed (${detail})`);
}

function toRetryable(err: unknown, timedOut: boolean, timeoutMs: number): RetryableError | undefined {
  if (err instanceof RetryableError) return err;
  if (timedOut) return new RetryableError(`no complete answer within ${timeoutMs} ms (timed out)`);
  if (err instanceof RemoteReadError) return undefined;
  // undici reports a reset mid-body as a TypeError("terminated") with a socket cause.
  if (err instanceof TypeError) return new RetryableError(`connection failed (${errorMessage((err as { cause?: unknown }).cause ?? err)})`);
  return undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
