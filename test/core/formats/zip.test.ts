// Tests of the zip central-directory reader: a real torch.save archive, hand-built ZIP64 archives,
// and damaged or hostile archives that must fail with typed errors.
import { strict as assert } from 'node:assert';
import { ModelFormatError } from '../../../server/src/core/errors';
import { BufferSource, withLocalFile } from '../../../server/src/core/io/byteSource';
import { readZipDirectory, readZipEntry, storedEntrySource } from '../../../server/src/core/formats/zip';
import { buildZip } from '../../fixtures/pickleWriter';
import { zooPath } from '../../support/zoo';

const text = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'utf8'));

async function rejects(bytes: Uint8Array, pattern: RegExp, read = false): Promise<void> {
  const source = new BufferSource('bad.zip', bytes);
  await assert.rejects(
    async () => {
      const dir = await readZipDirectory(source);
      if (read) for (const e of dir.entries) await readZipEntry(source, e);
    },
    (err: Error) => err instanceof ModelFormatError && pattern.test(err.message) && err.message.includes('bad.zip'),
  );
}

describe('zip reader', () => {
  it('lists a real torch.save archive with 64-byte aligned stored storages', async () => {
    await withLocalFile(zooPath('generated', 'tiny-gpt2-medical-torchzip', 'pytorch_model.bin'), async (source) => {
      const dir = await readZipDirectory(source);
      assert.equal(dir.entries.length, 30);
      assert.equal(dir.isZip64, true, 'PyTorch writes ZIP64 end records even for small archives');
      const pkl = dir.byName.get('pytorch_model/data.pkl')!;
      assert.equal(pkl.compressionMethod, 0);
      assert.equal(pkl.uncompressedSize, 2546);
      const bytes = await readZipEntry(source, pkl);
      assert.deepEqual([bytes[0], bytes[1], bytes[bytes.length - 1]], [0x80, 0x02, 0x2e]);
      const storages = dir.entries.filter((e) => e.name.startsWith('pytorch_model/data/'));
      assert.equal(storages.length, 28);
      for (const e of storages) {
        assert.equal(e.dataOffset % 64, 0, e.name);
        assert.equal(storedEntrySource(source, e).sizeBytes, e.uncompressedSize);
      }
      assert.equal(new TextDecoder().decode(await readZipEntry(source, dir.byName.get('pytorch_model/version')!)), '3\n');
      // Positional reads only: the directory and local headers, not the 400 KB of storages.
      assert.ok(source.stats.bytesRead < 80_000, `read ${source.stats.bytesRead} bytes`);
    });
  });

  it('reads ZIP64 end records, locators and extra fields', async () => {
    const payload = new Uint8Array(300).map((_, i) => i & 0xff);
    const bytes = buildZip(
      [
        { name: 'archive/data.pkl', data: text('hello pickle'), method: 8 },
        { name: 'archive/data/0', data: payload, align: 64 },
      ],
      { zip64: true },
    );
    const source = new BufferSource('z64.zip', bytes);
    const dir = await readZipDirectory(source);
    assert.equal(dir.isZip64, true);
    const [pkl, storage] = dir.entries;
    assert.deepEqual([pkl!.name, pkl!.compressionMethod, pkl!.uncompressedSize], ['archive/data.pkl', 8, 12]);
    assert.equal(new TextDecoder().decode(await readZipEntry(source, pkl!)), 'hello pickle');
    assert.equal(storage!.dataOffset % 64, 0);
    assert.deepEqual(await readZipEntry(source, storage!), payload);
    const window = storedEntrySource(source, storage!);
    assert.deepEqual(await window.read(290, 10), payload.subarray(290));
  });

  it('refuses a compressed entry where stored bytes are required', async () => {
    const source = new BufferSource('c.zip', buildZip([{ name: 'a/data/0', data: new Uint8Array(100), method: 8 }]));
    const [entry] = (await readZipDirectory(source)).entries;
    assert.throws(() => storedEntrySource(source, entry!), (err: Error) => err instanceof ModelFormatError && /compressed/.test(err.message));
  });

  it('a truncated central directory or end record is a typed error', async () => {
    const good = buildZip([
      { name: 'a/x', data: text('x') },
      { name: 'a/y', data: text('y') },
    ]);
    await rejects(good.subarray(0, good.length - 30), /no end-of-central-directory record/);
    // Cut the middle of the central directory out but keep the end record: offsets no longer fit.
    const cdCut = Buffer.concat([good.subarray(0, good.length - 22 - 20), good.subarray(good.length - 22)]);
    await rejects(cdCut, /central directory/);
    // An end record claiming more entries than the directory can hold.
    const inflated = Uint8Array.from(good);
    new DataView(inflated.buffer).setUint16(inflated.length - 22 + 10, 5000, true);
    new DataView(inflated.buffer).setUint16(inflated.length - 22 + 8, 5000, true);
    await rejects(inflated, /5000 entries cannot fit/);
    await rejects(new Uint8Array(10), /too small/);
  });

  it('ZIP64 markers without a locator, or a locator pointing nowhere, are typed errors', async () => {
    const z64 = buildZip([{ name: 'a/x', data: text('x') }], { zip64: true });
    const noLocator = Buffer.concat([z64.subarray(0, z64.length - 42), z64.subarray(z64.length - 22)]);
    await rejects(noLocator, /no ZIP64 locator/);
    const badPointer = Uint8Array.from(z64);
    new DataView(badPointer.buffer).setBigUint64(badPointer.length - 42 + 8, 3n, true);
    await rejects(badPointer, /ZIP64 end record/);
  });

  it('rejects unsafe and duplicate names, and local headers that disagree with the directory', async () => {
    for (const name of ['../evil.pkl', 'a/../../etc/passwd', '/abs/data.pkl', 'C:\\win\\x', 'a\\..\\b']) {
      await rejects(buildZip([{ name, data: text('x') }]), /unsafe entry name/);
    }
    await rejects(buildZip([{ name: 'a/x', data: text('1') }, { name: 'a/x', data: text('2') }]), /duplicate entry name/);
    const mismatch = Uint8Array.from(buildZip([{ name: 'a/x', data: text('1') }]));
    mismatch[30 + 2] = 'y'.charCodeAt(0); // the local copy of the name becomes a/y
    await rejects(mismatch, /local header name/);
  });

  it('bounds inflation and checks CRC-32', async () => {
    const bomb = Uint8Array.from(buildZip([{ name: 'a/data.pkl', data: new Uint8Array(1 << 20), method: 8 }]));
    // Claim a 100-byte result in the central directory (uncompressed size field).
    const cd = bomb.length - 22 - (46 + 'a/data.pkl'.length);
    new DataView(bomb.buffer).setUint32(cd + 24, 100, true);
    await rejects(bomb, /cannot inflate/, true);
    const source = new BufferSource('bad.zip', buildZip([{ name: 'a/data.pkl', data: new Uint8Array(5000) }]));
    const [entry] = (await readZipDirectory(source)).entries;
    await assert.rejects(readZipEntry(source, entry!, 1000), /exceed the limit of 1000/);
    const corrupt = Uint8Array.from(buildZip([{ name: 'a/x', data: text('payload') }]));
    corrupt[33] = corrupt[33]! ^ 0xff; // a byte of the stored data
    await rejects(corrupt, /CRC-32 mismatch/, true);
  });
});
