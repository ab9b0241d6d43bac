// The GET under remote range reads: answers and their bodies as sent, redirects never followed,
// bodies never decompressed, a large body discarded without being received, failures as errors.
import { strict as assert } from 'node:assert';
import { once, type EventEmitter } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { httpGet } from '../../../server/src/core/io/httpTransport';

async function bodyOf(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('httpGet (node:http transport of range reads)', () => {
  let server: http.Server;
  let base: string;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  before(async () => {
    server = http.createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('returns the status, the headers and the body as sent, with the request headers it was given', async () => {
    let seen: http.IncomingHttpHeaders | undefined;
    handler = (req, res) => {
      seen = req.headers;
      res.writeHead(206, { 'content-range': 'bytes 0-4/10', 'x-linked-etag': '"abc"' });
      res.end('hello');
    };
    const answer = await httpGet(new URL(`${base}/file`), { range: 'bytes=0-4' }, AbortSignal.timeout(5000));
    assert.equal(answer.status, 206);
    assert.equal(answer.headers.get('content-range'), 'bytes 0-4/10');
    assert.equal(answer.headers.get('X-Linked-Etag'), '"abc"');
    assert.equal((await bodyOf(answer.body)).toString(), 'hello');
    assert.equal(seen?.range, 'bytes=0-4');
  });

  it('never follows a redirect and never decompresses', async () => {
    handler = (req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/elsewhere' });
        return void res.end();
      }
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync('plain'));
    };
    const redirect = await httpGet(new URL(`${base}/moved`), {}, AbortSignal.timeout(5000));
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/elsewhere');
    redirect.discard();
    const encoded = await httpGet(new URL(`${base}/gz`), {}, AbortSignal.timeout(5000));
    assert.equal(encoded.headers.get('content-encoding'), 'gzip');
    assert.deepEqual(await bodyOf(encoded.body), gzipSync('plain'), 'the bytes as stored');
  });

  it('a discarded answer read to its end (a redirect, a small error) gives its connection back for the next request', async () => {
    const sockets = new Set<unknown>();
    handler = (req, res) => {
      sockets.add(req.socket);
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/elsewhere', 'content-length': '0' });
        return void res.end();
      }
      if (req.url === '/small-error') {
        res.writeHead(500, { 'content-type': 'text/plain', 'content-length': '9' });
        return void res.end('try later');
      }
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    };
    for (const path of ['/moved', '/small-error', '/moved']) {
      const answer = await httpGet(new URL(`${base}${path}`), {}, AbortSignal.timeout(5000));
      // Complete before it is discarded (a redirect's empty body is, once its headers are in).
      await new Promise((resolve) => setImmediate(resolve));
      const ended = once(answer.body as unknown as EventEmitter, 'end');
      answer.discard();
      // Left unread, the answer never ends: this waits forever and the test times out.
      await ended;
      const next = await httpGet(new URL(`${base}/after`), {}, AbortSignal.timeout(5000));
      assert.equal((await bodyOf(next.body)).toString(), 'ok');
    }
    // Left unread, a complete answer keeps its socket open and busy until the server closes it: every
    // request would then need a connection of its own, and a CLI would wait for them before exiting.
    assert.equal(sockets.size, 1, `${sockets.size} connections for 6 sequential requests`);
  });

  it('discarding a large body closes the connection instead of receiving it', async () => {
    let closed!: Promise<void>;
    handler = (_req, res) => {
      closed = new Promise((resolve) => res.on('close', () => resolve()));
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      // Never finishes on its own: only a closed connection ends this answer.
      res.write(Buffer.alloc(1024 * 1024));
    };
    const answer = await httpGet(new URL(`${base}/huge`), {}, AbortSignal.timeout(5000));
    answer.discard();
    await closed;
  });

  it('a connection lost mid-body is thrown from the body; a refused connection and an abort reject', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100));
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const cut = await httpGet(new URL(`${base}/cut`), {}, AbortSignal.timeout(5000));
    await assert.rejects(bodyOf(cut.body));

    const refused = http.createServer();
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', resolve));
    const port = (refused.address() as AddressInfo).port;
    await new Promise<void>((resolve) => refused.close(() => resolve()));
    await assert.rejects(httpGet(new URL(`http://127.0.0.1:${port}/`), {}, AbortSignal.timeout(5000)), /ECONNREFUSED/);

    handler = () => undefined; // never answers
    const controller = new AbortController();
    const pending = httpGet(new URL(`${base}/silent`), {}, controller.signal);
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, (err: Error) => err.name === 'AbortError');
  });

  it('refuses other schemes without sending anything', async () => {
    await assert.rejects(httpGet(new URL('file:///etc/passwd'), {}, AbortSignal.timeout(5000)), /file: URLs are not fetched/);
  });
});
