// Fingerprints are values: deterministic for the same bytes wherever they are, round-trip through
// JSON exactly, read a bounded number of bytes, and hostile fingerprint documents are rejected.
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encodeFloatArray, parseFingerprint, serializeFingerprint } from '../../../server/src/core/fingerprint/encoding';
import { extractFingerprint } from '../../../server/src/core/fingerprint/extract';
import fc from 'fast-check';
import { anchorKey, chooseAnchorIds, minhashJaccard, minhashSketch } from '../../../server/src/core/fingerprint/sampling';
import { DEFAULT_SAMPLING_PLAN, type Fingerprint } from '../../../server/src/core/fingerprint/types';
import { ModelFormatError } from '../../../server/src/core/errors';
import { openModel } from '../../../server/src/core/model/openModel';
import { zooPath } from '../../support/zoo';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import { BufferSource } from '../../../server/src/core/io/byteSource';

async function fingerprintOf(target: string): Promise<Fingerprint> {
  const model = await openModel(target);
  try {
    return await extractFingerprint(model);
  } finally {
    await model.close();
  }
}

describe('fingerprint', function () {
  this.timeout(60_000);
  const scratch: string[] = [];
  after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('the same bytes give byte-identical JSON from two different locations', async () => {
    const copies = [0, 1].map(() => {
      const dir = mkdtempSync(path.join(tmpdir(), 'lineage-fp-'));
      scratch.push(dir);
      const target = path.join(dir, 'tiny-gpt2');
      cpSync(zooPath('tiny-gpt2'), target, { recursive: true });
      return target;
    });
    const [a, b] = await Promise.all(copies.map(fingerprintOf));
    assert.equal(serializeFingerprint(a!), serializeFingerprint(b!));
  });

  it('round-trips through JSON exactly', async () => {
    const fp = await fingerprintOf(zooPath('tinyllamas-stories260K-gguf'));
    const json = serializeFingerprint(fp);
    const back = parseFingerprint(json, 'memory');
    assert.equal(serializeFingerprint(back), json);
    assert.ok(back.matrices[0]!.values instanceof Float32Array);
    assert.ok(back.tokenizer!.minhash instanceof Uint32Array);
  });

  it('records what it read, and reads less than the weight file for a real model', async () => {
    const fp = await fingerprintOf(zooPath('tinyllamas-stories260K-gguf'));
    assert.ok(fp.bytesRead > 0);
    assert.ok(fp.bytesRead < 1_185_376 * 1.5, `read ${fp.bytesRead}`);
    assert.equal(fp.model.format, 'gguf');
    assert.equal(fp.architecture?.layers, 5);
    assert.equal(fp.tokenRows[0]!.tokens.length, DEFAULT_SAMPLING_PLAN.anchorCount);
    // q, k, v, o, gate, up, down in every one of the 5 layers.
    assert.equal(fp.matrices.filter((m) => m.layer !== undefined).length, 35);
    assert.equal(fp.vectors.filter((v) => v.role === 'attn_norm').length, 5);
  });

  it('rejects hostile fingerprint documents with a clear error', async () => {
    const good = JSON.parse(serializeFingerprint(await fingerprintOf(zooPath('tiny-gpt2')))) as Record<string, unknown>;
    const cases: Array<[string, (doc: Record<string, unknown>) => void]> = [
      ['wrong schema', (d) => (d.schema = 'other')],
      ['future schema version', (d) => (d.schemaVersion = 99)],
      ['matrices not an array', (d) => (d.matrices = {})],
      ['row index outside the shape', (d) => ((d.matrices as Array<{ rowIndices: number[] }>)[0]!.rowIndices[0] = 1e9)],
      ['values shorter than the shape', (d) => ((d.matrices as Array<{ values: unknown }>)[0]!.values = { f32: 'AAAAAA==' })],
      ['base64 that is not base64', (d) => ((d.vectors as Array<{ values: unknown }>)[0]!.values = { f32: '$$$' })],
    ];
    for (const [what, mutate] of cases) {
      const doc = structuredClone(good);
      mutate(doc);
      assert.throws(() => parseFingerprint(JSON.stringify(doc), 'hostile.json'), ModelFormatError, what);
    }
    assert.throws(() => parseFingerprint('{"schema": ', 'truncated.json'), /truncated\.json: not valid JSON/);
  });

  it('chooses anchors by string, so vocabularies that share strings share anchors whatever the ids', () => {
    const base = Array.from({ length: 5000 }, (_, i) => `tok${i}`);
    const shifted = ['<pad>', '<extra>', ...base];
    const plan = DEFAULT_SAMPLING_PLAN;
    const a = chooseAnchorIds(base, () => true, 256, plan).map((id) => base[id]);
    const b = chooseAnchorIds(shifted, () => true, 256, plan).map((id) => shifted[id]);
    const shared = a.filter((t) => b.includes(t)).length;
    assert.ok(shared >= 254, `only ${shared} shared anchors`);
  });

  it('chooses the anchors a full sort by (key, token) would, duplicates, empties and ineligible ids left out', () => {
    // The selection sorts only the candidates at or below the count-th smallest key; this is the plain definition.
    const reference = (tokens: string[], eligible: (id: number) => boolean, count: number): number[] => {
      const seen = new Set<string>();
      const all: Array<{ id: number; key: number; token: string }> = [];
      tokens.forEach((t, id) => {
        if (t === '' || !eligible(id) || seen.has(t)) return;
        seen.add(t);
        all.push({ id, key: anchorKey(t, DEFAULT_SAMPLING_PLAN), token: t });
      });
      all.sort((a, b) => a.key - b.key || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
      return all.slice(0, count).map((c) => c.id);
    };
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 3 }), { maxLength: 300 }), fc.integer({ min: 0, max: 320 }), fc.integer({ min: 1, max: 7 }), (tokens, count, skipEvery) => {
        const eligible = (id: number) => id % skipEvery !== 1;
        assert.deepEqual(chooseAnchorIds(tokens, eligible, count, DEFAULT_SAMPLING_PLAN), reference(tokens, eligible, count));
      }),
      { numRuns: 300, seed: 20261203 },
    );
  });

  it('MinHash estimates Jaccard similarity', () => {
    const a = Array.from({ length: 4000 }, (_, i) => `w${i}`);
    const b = Array.from({ length: 4000 }, (_, i) => `w${i + 2000}`);
    const estimate = minhashJaccard(minhashSketch(a, 128), minhashSketch(b, 128));
    assert.ok(Math.abs(estimate - 1 / 3) < 0.12, `estimate ${estimate}`);
    assert.equal(minhashJaccard(minhashSketch(a, 128), minhashSketch([...a].reverse(), 128)), 1);
  });
});

describe('fingerprint value encoding', () => {
  it('stores bf16- and f16-exact values in 2 bytes and everything else in 4, losslessly', async () => {
    const bf16Exact = Float32Array.from([1, -2, 0.5, 3.140625, -0, 2 ** 100, Infinity]);
    const f16Exact = Float32Array.from([1.5, -0.0009765625, 2 ** -24, 65504, -0, 0.333251953125]);
    const general = Float32Array.from([0.1, Math.PI, -1e-8]);
    const withNaN = Float32Array.from([NaN, 1]);
    assert.ok('bf16' in encodeFloatArray(bf16Exact));
    assert.ok('f16' in encodeFloatArray(f16Exact));
    assert.ok('f32' in encodeFloatArray(general));
    // The full path: a fingerprint with these arrays survives serialize -> parse bit for bit.
    const fp = await fingerprintOf(zooPath('tiny-gpt2'));
    fp.vectors[0]!.values = f16Exact;
    fp.vectors[1]!.values = general;
    fp.vectors[2]!.values = withNaN;
    const back = parseFingerprint(serializeFingerprint(fp), 'memory');
    assert.deepEqual([...back.vectors[0]!.values].map((v) => Object.is(v, -0) ? '-0' : v), [...f16Exact].map((v) => Object.is(v, -0) ? '-0' : v));
    assert.deepEqual([...back.vectors[1]!.values], [...general]);
    assert.ok(Number.isNaN(back.vectors[2]!.values[0]!) && back.vectors[2]!.values[1] === 1);
  });
});

describe('BF16 values decoded by the tensor store', () => {
  // Any 16-bit word, with NaNs (every payload, both signs), infinities, zeros and subnormals well represented.
  const word = fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0x7f80, 0xff80, 0x7fc0, 0x7f81, 0xffff, 0x0000, 0x8000, 0x0001));

  it('pack to exactly what packing their float32 values gives (the form recorded while decoding)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(word, { minLength: 2, maxLength: 64 }), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.nat({ max: 3 }), async (words, picks, dataOffset) => {
        const cols = 2;
        const rows = Math.floor(words.length / cols);
        const tensorBytes = new Uint8Array(Uint16Array.from(words.slice(0, rows * cols)).buffer);
        // The tensor at an odd offset too: multipart parts put rows at any alignment.
        const bytes = new Uint8Array(dataOffset + tensorBytes.length);
        bytes.set(tensorBytes, dataOffset);
        const file = '/memory/bf16.bin';
        const store = new TensorStore([{ name: 'm', dtype: 'BF16', shape: [rows, cols], file, dataOffset, byteLength: tensorBytes.length }], async () => new BufferSource(file, bytes));
        const rowSet = picks.map((p) => p % rows);
        for (const decoded of [await store.readRowSet('m', rowSet), await store.readAll('m'), (await store.readAllMany(['m'])).get('m')!]) {
          // A copy carries no recorded form: it is packed from its float32 bits, the reference.
          assert.deepEqual(encodeFloatArray(decoded), encodeFloatArray(decoded.slice()));
        }
        // And the values themselves are the words' float32s, NaN payloads included.
        const all = await store.readAll('m');
        assert.deepEqual([...new Uint32Array(all.buffer)], words.slice(0, rows * cols).map((w) => (w << 16) >>> 0));
      }),
      { numRuns: 300 },
    );
  });
});
