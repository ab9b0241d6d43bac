// One HTTP GET over node:http / node:https, for the range reads of a remote model. Measured on
// bench:remote: receiving through the global fetch (undici's fetch layer and web streams) cost the
// main thread several times more per byte than a node:http response read as a stream, and the main
// thread, not the network, bounded a remote fingerprint. Redirects are never followed here (the
// session follows them by hand, dropping the token off-origin); bodies are never decompressed.
import * as http from 'node:http';
import * as https from 'node:https';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** The body, chunk by chunk; a connection lost mid-body is thrown from the iteration. */
  body: AsyncIterable<Uint8Array>;
  /** Done with this answer without reading (the rest of) its body. */
  discard(): void;
}

/** Bodies up to this size are drained on discard so the connection can be reused; larger ones close it. */
const DRAIN_ON_DISCARD_BYTES = 64 * 1024;

// Keep-alive: a fingerprint sends dozens of requests to the same two origins. Idle sockets do not
// keep the process alive (the agent unrefs them).
const agents = {
  http: new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
  https: new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
};

/** GET `url`; resolves when the status and headers are in. Network failures reject with the system error. */
export function httpGet(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<HttpAnswer> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new Error(`${url.protocol} URLs are not fetched`));
  const secure = url.protocol === 'https:';
  return new Promise<HttpAnswer>((resolve, reject) => {
    const request = (secure ? https : http).request(url, { method: 'GET', headers, signal, agent: secure ? agents.https : agents.http }, (response) => {
      resolve({
        status: response.statusCode ?? 0,
        headers: headersOf(response.rawHeaders),
        body: response,
        discard: () => {
          // Even a complete answer (a redirect's empty body) holds its socket until it is read to its
          // end: resumed, its connection goes back to the pool; left alone, it stays open and keeps
          // the process alive until the server gives up on it (a CLI that hangs after its output).
          const declared = Number(response.headers['content-length']);
          if (response.complete || (Number.isSafeInteger(declared) && declared <= DRAIN_ON_DISCARD_BYTES)) response.resume();
          else response.destroy();
        },
      });
    });
    // Before the answer: the promise rejects. After it: the body's iteration throws (the response is destroyed too).
    request.on('error', reject);
    request.end();
  });
}

/** The answer's headers as a Headers object; a header a Headers object refuses is left out. */
function headersOf(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // Not a valid header name or value: as if absent.
    }
  }
  return headers;
}
