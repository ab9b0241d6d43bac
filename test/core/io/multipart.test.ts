// Multi-range answers (multipart/byteranges) from a storage origin that may be hostile or broken:
// well-formed answers in any legal spelling give exactly the file's bytes; every malformation is a
// clear protocol error naming the file, never bytes from the wrong place. A loopback server of its
// own writes each answer byte by byte as the case says.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as fc from 'fast-check';
import { HttpRangeSource } from '../../../server/src/core/io/httpRangeSource';
import { RemoteReadError, RemoteSession } from '../../../server/src/core/io/remoteSession';

const FILE = randomBytes(2_000_000);
const COMMIT = 'c'.repeat(40);
/** Far enough apart that the source never merges them into one range. */
const OFFSETS = [300_000, 500_000, 700_000, 900_000, 1_100_000, 1_300_000];

type Ranges = Array<[number, number]>;
/** The body and content type of a multi-range answer to `ranges` ([start, end) pairs). */
type Craft = (ranges: Ranges) => { body: Buffer; contentType: string };

function wellFormed(options: { boundary?: string; headerCase?: (name: string) => string; extraHeader?: string; preamble?: string } = {}): Craft {
  return (ranges) => {
    const boundary = options.boundary ?? 'b0undary';
    const name = options.headerCase ?? ((n: string) => n);
    const chunks: Buffer[] = [Buffer.from(options.preamble ?? '', 'latin1')];
    for (const [start, end] of ranges) {
      const extra = options.extraHeader ? `${options.extraHeader}\r\n` : '';
      chunks.push(Buffer.from(`--${boundary}\r\n${name('Content-Type')}: application/octet-stream\r\n${extra}${name('Content-Range')}: bytes ${start}-${end - 1}/${FILE.length}\r\n\r\n`, 'latin1'));
      chunks.push(FILE.subarray(start, end), Buffer.from('\r\n', 'latin1'));
    }
    chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
    const quoted = options.boundary?.includes(' ') ? `"${boundary}"` : boundary;
    return { body: Buffer.concat(chunks), contentType: `multipart/byteranges; boundary=${quoted}` };
  };
}

/** A well-formed answer with one edit applied to its text (latin1, so file bytes survive). */
function edited(edit: (text: string, ranges: Ranges) => string): Craft {
  return (ranges) => {
    const { body, contentType } = wellFormed()(ranges);
    return { body: Buffer.from(edit(body.toString('latin1'), ranges), 'latin1'), contentType };
  };
}

describe('multipart/byteranges answers (hostile storage origin)', function () {
  this.timeout(60_000);
  let server: http.Server;
  let url: string;
  let craft: Craft = wellFormed();

  before(async () => {
    server = http.createServer((req, res) => {
      const ranges: Ranges = (req.headers.range ?? '').replace(/^bytes=/, '').split(',').map((r) => {
        const [a, b] = r.split('-').map(Number);
        return [a!, Math.min(FILE.length, b! + 1)];
      });
      if (ranges.length === 1) {
        const [start, end] = ranges[0]!;
        res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${FILE.length}`, 'content-length': String(end - start) });
        return void res.end(FILE.subarray(start, end));
      }
      const { body, contentType } = craft(ranges);
      res.writeHead(206, { 'content-type': contentType, 'content-length': String(body.length) });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function readScattered(answer: Craft): Promise<Uint8Array[]> {
    craft = answer;
    const session = new RemoteSession({ endpoint: url, maxBytes: 10_000_000, maxAttempts: 1 });
    const source = new HttpRangeSource({ name: 'hf://org/model@c/model.safetensors', url: new URL(`${url}/org/model/resolve/${COMMIT}/model.safetensors`), sizeBytes: FILE.length, commit: COMMIT }, session);
    try {
      await source.read(0, 8); // locates the file; the scattered reads below are one multi-range request
      return await source.readMany(OFFSETS.map((offset) => ({ offset, length: 1000 })));
    } finally {
      await source.close();
    }
  }

  const expectBytes = async (answer: Craft) => {
    const parts = await readScattered(answer);
    OFFSETS.forEach((o, i) => assert.deepEqual(Buffer.from(parts[i]!), FILE.subarray(o, o + 1000)));
  };
  const expectProtocolError = async (answer: Craft, message: RegExp, reason: RemoteReadError['reason'] = 'protocol') => {
    await assert.rejects(readScattered(answer), (err: unknown) => {
      assert.ok(err instanceof RemoteReadError, String(err));
      assert.equal(err.reason, reason, err.message);
      assert.match(err.message, /model\.safetensors/);
      assert.match(err.message, message);
      return true;
    });
  };

  it('reads well-formed answers in any legal spelling: header case, extra headers, a preamble, a quoted boundary', async () => {
    await expectBytes(wellFormed());
    await expectBytes(wellFormed({ headerCase: (n) => n.toLowerCase() }));
    await expectBytes(wellFormed({ headerCase: (n) => n.toUpperCase(), extraHeader: 'X-Part: 1' }));
    await expectBytes(wellFormed({ preamble: 'ignored text before the first boundary\r\n' }));
    await expectBytes(wellFormed({ boundary: 'with space' }));
  });

  it('any file bytes, any boundary of token characters: exactly the bytes asked for', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9'()+_,\-.:=?]{1,40}$/), async (boundary) => {
        await expectBytes(wellFormed({ boundary }));
      }),
      { numRuns: 25 },
    );
  });

  it('refuses every malformation with a clear error naming the file', async () => {
    await expectProtocolError(edited((t) => t.replaceAll('--b0undary', '--other')), /without its boundary/);
    await expectProtocolError(edited((t) => t.replace(/Content-Range: [^\r]*\r\n/, '')), /without a valid Content-Range/);
    await expectProtocolError(edited((t) => t.replace(/Content-Range: bytes (\d+)-/, 'Content-Range: bytes x$1-')), /without a valid Content-Range/);
    await expectProtocolError(edited((t) => t.replace('\r\n\r\n', '\r\n')), /without a header end/);
    // A part claiming more bytes than it carries, or fewer.
    await expectProtocolError(edited((t, r) => t.replace(`bytes ${r[0]![0]}-${r[0]![1] - 1}/`, `bytes ${r[0]![0]}-${r[0]![1] + 9}/`)), /longer than|not followed|shorter than/);
    await expectProtocolError(edited((t, r) => t.replace(`bytes ${r[0]![0]}-${r[0]![1] - 1}/`, `bytes ${r[0]![0]}-${r[0]![1] - 11}/`)), /longer than its Content-Range/);
    // A part of another file (the total size differs): the content changed under the listing.
    await expectProtocolError(edited((t) => t.replace(`/${FILE.length}\r\n`, `/${FILE.length + 1}\r\n`)), /has \d+ bytes, the listing says/, 'changed');
    // Cut off before the closing boundary.
    await expectProtocolError(edited((t) => t.slice(0, t.length - 30)), /shorter than|not followed|longer than/);
  });
});
