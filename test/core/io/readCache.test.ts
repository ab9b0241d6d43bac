// The on-disk read cache: exact and contained hits, damaged entries ignored, LRU eviction by size.
import { strict as assert } from 'node:assert';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReadCache } from '../../../server/src/core/io/readCache';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `git:${'c'.repeat(40)}`;

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

describe('ReadCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lineage-readcache-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('serves exact and contained ranges after a flush, per identity', async () => {
    const writer = new ReadCache(dir);
    writer.put(A, 1000, bytes(500, 1));
    writer.put(B, 1000, bytes(500, 2));
    await writer.flush();
    const reader = new ReadCache(dir);
    assert.deepEqual(await reader.get(A, 1000, 500), bytes(500, 1));
    assert.deepEqual(await reader.get(A, 1100, 10), bytes(500, 1).slice(100, 110));
    assert.deepEqual(await reader.get(B, 1000, 500), bytes(500, 2));
    assert.equal(await reader.get(A, 900, 200), undefined, 'not contained');
    assert.equal(await reader.get(C, 1000, 10), undefined);
    assert.equal(await reader.get('https://example.com/x', 0, 1), undefined, 'only content identities are keys');
    const info = await reader.info();
    assert.equal(info.files, 2);
    assert.equal(info.ranges, 2);
  });

  it('takes pieces in any order, serves them from memory, and shows them to others only after flush', async () => {
    const writer = new ReadCache(dir);
    // Out of offset order, as answers arrive.
    writer.put(A, 5000, bytes(300, 4));
    writer.put(A, 0, bytes(200, 5));
    writer.put(A, 2000, bytes(100, 6));
    assert.deepEqual(await writer.get(A, 2010, 20), bytes(100, 6).slice(10, 30), 'served from memory before the flush');
    assert.equal(await new ReadCache(dir).get(A, 0, 200), undefined, 'another reader sees nothing yet');
    await writer.flush();
    const reader = new ReadCache(dir);
    assert.deepEqual(await reader.get(A, 0, 200), bytes(200, 5));
    assert.deepEqual(await reader.get(A, 2000, 100), bytes(100, 6));
    assert.deepEqual(await reader.get(A, 5100, 200), bytes(300, 4).slice(100, 300));
    const folder = path.join(dir, 'ranges', (await readdir(path.join(dir, 'ranges')))[0]!);
    assert.deepEqual((await readdir(folder)).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  });

  it('one shared cache per folder; flushes one at a time, keeping what is put while one is written', async () => {
    const shared = ReadCache.shared(dir);
    assert.equal(ReadCache.shared(path.join(dir, '.')), shared, 'the same folder, the same cache');
    assert.notEqual(ReadCache.shared(path.join(dir, 'other')), shared);
    shared.put(A, 0, bytes(100, 7));
    const first = shared.flush();
    // Put while the first flush is writing, then a second flush asked for at once.
    shared.put(A, 1000, bytes(100, 8));
    shared.put(B, 0, bytes(50, 9));
    const second = shared.flush();
    await Promise.all([first, second]);
    const reader = new ReadCache(dir);
    assert.deepEqual(await reader.get(A, 0, 100), bytes(100, 7));
    assert.deepEqual(await reader.get(A, 1000, 100), bytes(100, 8), 'a piece put during a flush is written by the next');
    assert.deepEqual(await reader.get(B, 0, 50), bytes(50, 9));
    // Each piece written once (two flushes writing the same pending pieces would make 4 or more).
    assert.equal((await reader.info()).ranges, 3);
  });

  it('a pack that cannot be written fails the flush and leaves nothing behind', async () => {
    // The cache's ranges folder is a file: no identity folder can be made.
    await writeFile(path.join(dir, 'ranges'), 'not a folder');
    const writer = new ReadCache(dir);
    writer.put(A, 0, bytes(64, 7));
    await assert.rejects(writer.flush());
    assert.equal(await new ReadCache(dir).get(A, 0, 64), undefined);
  });

  it('ignores an entry whose bytes were altered on disk', async () => {
    const writer = new ReadCache(dir);
    writer.put(A, 0, bytes(64, 3));
    await writer.flush();
    const folder = path.join(dir, 'ranges', (await readdir(path.join(dir, 'ranges')))[0]!);
    const pack = (await readdir(folder)).find((f) => f.endsWith('.pack'))!;
    const data = await readFile(path.join(folder, pack));
    data[10] = data[10]! ^ 0xff;
    await writeFile(path.join(folder, pack), data);
    assert.equal(await new ReadCache(dir).get(A, 0, 64), undefined);
  });

  it('reads neighbouring entries of a pack together; a damaged one misses alone, a cut pack misses what it lost', async () => {
    const writer = new ReadCache(dir);
    // Entries of a few KB (read as one span), and one larger than a span (read by itself).
    const pieces = [0, 1, 2, 3, 4].map((k) => ({ offset: k * 10_000, bytes: bytes(4_000 + k, k) }));
    pieces.push({ offset: 100_000, bytes: bytes(1_500_000, 9) });
    for (const p of pieces) writer.put(A, p.offset, p.bytes);
    await writer.flush();
    const folder = path.join(dir, 'ranges', (await readdir(path.join(dir, 'ranges')))[0]!);
    const pack = path.join(folder, (await readdir(folder)).find((f) => f.endsWith('.pack'))!);
    const ranges = pieces.map((p) => ({ offset: p.offset, length: p.bytes.length }));
    assert.deepEqual(await new ReadCache(dir).getMany(A, ranges), pieces.map((p) => p.bytes));

    // The third entry's bytes altered: only it misses, in whatever order the entries are asked for.
    const data = await readFile(pack);
    const thirdAt = pieces.slice(0, 2).reduce((s, p) => s + p.bytes.length, 0);
    data[thirdAt + 7] = data[thirdAt + 7]! ^ 0xff;
    await writeFile(pack, data);
    const damaged = new ReadCache(dir);
    assert.deepEqual(await damaged.get(A, pieces[1]!.offset + 10, 100), pieces[1]!.bytes.slice(10, 110));
    assert.deepEqual(await damaged.getMany(A, ranges), pieces.map((p, k) => (k === 2 ? undefined : p.bytes)));

    // Cut in the middle of the large entry: the small ones are still served, the large one misses.
    await writeFile(pack, data.subarray(0, data.length - 1000));
    assert.deepEqual(await new ReadCache(dir).getMany(A, ranges.slice().reverse()), pieces.map((p, k) => (k === 2 || k === 5 ? undefined : p.bytes)).reverse());
  });

  it('evicts the least recently used files beyond its size', async () => {
    const first = new ReadCache(dir, { maxBytes: 25_000 });
    first.put(A, 0, bytes(10_000, 1));
    await first.flush();
    const second = new ReadCache(dir, { maxBytes: 25_000 });
    second.put(B, 0, bytes(10_000, 2));
    await second.flush();
    // A is used again (more recently than B); then C pushes the total over the limit.
    const markers = await readdir(path.join(dir, 'ranges'));
    for (const m of markers) await utimes(path.join(dir, 'ranges', m, 'last-used'), new Date(2020, 0, 1), new Date(2020, 0, 1));
    const third = new ReadCache(dir, { maxBytes: 25_000 });
    assert.ok(await third.get(A, 0, 10));
    third.put(C, 0, bytes(10_000, 3));
    await third.flush();
    const after = new ReadCache(dir, { maxBytes: 25_000 });
    assert.ok(await after.get(A, 0, 10), 'recently used A kept');
    assert.ok(await after.get(C, 0, 10), 'new C kept');
    assert.equal(await after.get(B, 0, 10), undefined, 'least recently used B evicted');
    assert.ok((await after.info()).bytes <= 25_000);
    await after.clean();
    assert.equal((await after.info()).files, 0);
  });
});
