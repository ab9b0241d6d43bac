// GGUF parser: the real stories260K model and llama.cpp vocabulary files from the zoo, files
// from the test writer (all metadata types, v1, odd tensor types), and hostile headers.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ModelFormatError, UnsupportedError } from '../../../server/src/core/errors';
import { BufferSource, LocalFileSource } from '../../../server/src/core/io/byteSource';
import { GGML_TYPE_NAMES, dtypeOfGgmlType, readGgufFile, readGgufHeader, type GgufFile, type GgufValue } from '../../../server/src/core/formats/gguf';
import { GGML_BLOCK_LAYOUTS } from '../../../server/src/core/formats/ggmlQuants';
import { isElementDType } from '../../../server/src/core/formats/dtypes';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import { ZOO_DIR, zooPath } from '../../support/zoo';
import { GgufBytes, encodeGguf, writeGgufKv, writeGgufPreamble, writeGgufTensorInfo } from '../../fixtures/ggufWriter';

const STORIES = (): string => zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf');

function parseBytes(bytes: Uint8Array, name = 'test.gguf'): Promise<GgufFile> {
  return readGgufHeader(new BufferSource(name, bytes));
}

/** Asserts that parsing fails fast with a ModelFormatError naming the file and matching `message`. */
async function assertRejects(bytes: Uint8Array, message: RegExp): Promise<ModelFormatError> {
  const started = Date.now();
  let caught: unknown;
  try {
    await parseBytes(bytes, 'hostile.gguf');
  } catch (err) {
    caught = err;
  }
  const elapsedMs = Date.now() - started;
  assert.ok(caught instanceof ModelFormatError, `expected a ModelFormatError, got ${String(caught)}`);
  assert.match(caught.message, /^hostile\.gguf/);
  assert.match(caught.message, message);
  // A hang guard, not a speed target (speed is bench:hostile's business on a quiet machine).
  assert.ok(elapsedMs < 10_000, `took ${elapsedMs} ms: the parser hangs on hostile input`);
  return caught;
}

/** A header with the given key-values and raw tensor infos, padded, then `dataBytes` zero bytes. */
function header(options: {
  kvs?: Array<(out: GgufBytes) => void>;
  tensors?: Array<{ name: string; shape: number[]; type: number; offset: number }>;
  dataBytes?: number;
}): Uint8Array {
  const kvs = options.kvs ?? [];
  const tensors = options.tensors ?? [];
  const out = writeGgufPreamble(new GgufBytes(), tensors.length, kvs.length);
  for (const kv of kvs) kv(out);
  for (const t of tensors) writeGgufTensorInfo(out, t.name, t.shape, t.type, t.offset);
  out.padTo(32);
  out.bytes(new Uint8Array(options.dataBytes ?? 0));
  return out.finish();
}

describe('GGUF: stories260K (real llama.cpp conversion)', () => {
  let gguf: GgufFile;
  before(async () => {
    gguf = await readGgufFile(STORIES());
  });

  it('reads version, architecture and hyperparameters from metadata', () => {
    assert.equal(gguf.version, 3);
    assert.equal(gguf.alignment, 32);
    assert.equal(gguf.metadata.get('general.architecture'), 'llama');
    assert.equal(gguf.metadata.get('llama.block_count'), 5);
    assert.equal(gguf.metadata.get('llama.embedding_length'), 64);
    assert.equal(gguf.metadata.get('llama.attention.head_count_kv'), 4);
    assert.equal(gguf.metadata.get('tokenizer.ggml.model'), 'llama');
    const eps = gguf.metadata.get('llama.attention.layer_norm_rms_epsilon');
    assert.equal(eps, Math.fround(1e-5));
    assert.deepEqual(gguf.warnings, []);
  });

  it('reads the 512-token SentencePiece vocabulary', () => {
    const tokens = gguf.metadata.get('tokenizer.ggml.tokens') as GgufValue[];
    assert.equal(tokens.length, 512);
    assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.ok(tokens.every((t) => typeof t === 'string'));
    const types = gguf.metadata.get('tokenizer.ggml.token_type') as GgufValue[];
    assert.deepEqual(types.slice(0, 4), [2, 3, 3, 6]); // unknown, control, control, byte
  });

  it('lists tensors with GGUF names, PyTorch-order shapes and in-bounds offsets', () => {
    assert.equal(gguf.tensors.length, 3 + 5 * 9);
    const byName = new Map(gguf.tensors.map((t) => [t.name, t]));
    assert.deepEqual(byName.get('token_embd.weight')!.shape, [512, 64]);
    assert.deepEqual(byName.get('blk.0.attn_k.weight')!.shape, [32, 64]); // 4 KV heads of 8
    assert.deepEqual(byName.get('blk.4.ffn_down.weight')!.shape, [64, 172]);
    assert.deepEqual(byName.get('output_norm.weight')!.shape, [64]);
    for (const t of gguf.tensors) {
      assert.equal(t.dtype, 'F32');
      assert.equal(gguf.ggmlTypes.get(t.name), 0);
      assert.equal(t.byteLength, t.shape.reduce((a, b) => a * b, 1) * 4);
      assert.equal((t.dataOffset - gguf.dataOffset) % 32, 0);
      assert.ok(t.dataOffset + t.byteLength <= 1185376);
    }
    assert.equal(gguf.dataOffset, Math.ceil(gguf.headerBytes / 32) * 32);
  });

  it('TensorStore reads embedding rows that match the file bytes, reading only those rows', async () => {
    const store = new TensorStore(gguf.tensors);
    try {
      const rows = await store.readRowSet('token_embd.weight', [0, 1, 511]);
      assert.equal(rows.length, 3 * 64);
      assert.ok(rows.every(Number.isFinite));
      const embd = gguf.tensors.find((t) => t.name === 'token_embd.weight')!;
      const raw = readFileSync(STORIES());
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const expected = (row: number, col: number): number => view.getFloat32(embd.dataOffset + (row * 64 + col) * 4, true);
      assert.equal(rows[0], expected(0, 0));
      assert.equal(rows[64 + 5], expected(1, 5));
      assert.equal(rows[128 + 63], expected(511, 63));
      assert.ok(Math.abs(rows[0]! - -0.29474878) < 1e-7);
      assert.ok((await store.bytesRead()) <= 3 * 64 * 4);
      // stories260K ties its output projection to the embedding.
      const output = await store.readRowSet('output.weight', [0, 1, 511]);
      assert.deepEqual(output, rows);
    } finally {
      await store.close();
    }
  });
});

describe('GGUF: llama.cpp vocabulary-only files', () => {
  const files = readdirSync(ZOO_DIR)
    .filter((d) => d.startsWith('tok-'))
    .flatMap((d) => readdirSync(path.join(ZOO_DIR, d)).filter((f) => f.endsWith('.gguf')).map((f) => path.join(ZOO_DIR, d, f)));

  it('finds the vocabulary files', () => {
    assert.ok(files.length >= 14, `found ${files.length}`);
  });

  for (const file of files) {
    it(`${path.basename(file)} parses with 0 tensors and its token list`, async () => {
      const gguf = await readGgufFile(file);
      assert.equal(gguf.tensors.length, 0);
      const tokens = gguf.metadata.get('tokenizer.ggml.tokens');
      assert.ok(Array.isArray(tokens) && tokens.length > 1000);
      assert.ok(tokens.every((t) => typeof t === 'string'));
      assert.equal(typeof gguf.metadata.get('tokenizer.ggml.model'), 'string');
    });
  }

  it('known vocabularies have their known sizes and first tokens', async () => {
    const gpt2 = await readGgufFile(zooPath('tok-gpt-2', 'ggml-vocab-gpt-2.gguf'));
    const gpt2Tokens = gpt2.metadata.get('tokenizer.ggml.tokens') as string[];
    assert.equal(gpt2Tokens.length, 50257);
    assert.deepEqual(gpt2Tokens.slice(0, 3), ['!', '"', '#']);
    assert.equal(gpt2Tokens[50256], '<|endoftext|>');
    const bert = await readGgufFile(zooPath('tok-bert-bge', 'ggml-vocab-bert-bge.gguf'));
    assert.equal((bert.metadata.get('tokenizer.ggml.tokens') as string[]).length, 30522);
    assert.equal(bert.metadata.get('tokenizer.ggml.model'), 'bert');
  });

  it('tolerates the repeated general.file_type key in the dbrx vocabulary, with a warning', async () => {
    const dbrx = await readGgufFile(zooPath('tok-dbrx', 'ggml-vocab-dbrx.gguf'));
    assert.equal(dbrx.metadata.get('general.file_type'), 1);
    assert.equal(dbrx.warnings.length, 1);
    assert.match(dbrx.warnings[0]!, /general\.file_type.*more than once/);
  });

  it('reads a multi-megabyte header through small growing chunks without reading past the file', async () => {
    const file = zooPath('tok-deepseek-llm', 'ggml-vocab-deepseek-llm.gguf');
    const whole = await readGgufFile(file);
    const source = await LocalFileSource.open(file);
    try {
      const chunked = await readGgufHeader(source, { initialChunkBytes: 100 });
      assert.deepEqual(chunked.metadata, whole.metadata);
      assert.equal(chunked.headerBytes, whole.headerBytes);
      assert.ok(source.stats.bytesRead <= source.sizeBytes);
      assert.ok(source.stats.reads > 10, `only ${source.stats.reads} reads: chunks did not start small`);
    } finally {
      await source.close();
    }
  });

  it('refuses a header larger than the configured cap', async () => {
    const source = await LocalFileSource.open(zooPath('tok-gpt-2', 'ggml-vocab-gpt-2.gguf'));
    try {
      await assert.rejects(readGgufHeader(source, { maxHeaderBytes: 4096 }), (err: unknown) => {
        assert.ok(err instanceof ModelFormatError);
        assert.match(err.message, /before the 4096 byte header limit/);
        return true;
      });
    } finally {
      await source.close();
    }
  });
});

describe('GGUF: files from the test writer', () => {
  it('round-trips metadata of every value type', async () => {
    const bytes = encodeGguf({
      metadata: [
        ['u8', 200, 'u8'], ['i8', -5, 'i8'], ['u16', 65000, 'u16'], ['i16', -30000, 'i16'],
        ['u32', 4000000000], ['i32', -7], ['f32', 0.1], ['f64', 0.1, 'f64'], ['bool', true],
        ['string', 'héllo ✓'], ['u64.small', 12345n, 'u64'], ['u64.big', 2n ** 60n, 'u64'], ['i64', -(2n ** 40n)],
        ['strings', ['a', '', 'ß']], ['floats', [1.5, -2.25], 'f32'], ['nested', [[1, 2], [3]], 'i32'], ['empty', [], 'string'],
      ],
    });
    const gguf = await parseBytes(bytes);
    const m = gguf.metadata;
    assert.deepEqual(
      [m.get('u8'), m.get('i8'), m.get('u16'), m.get('i16'), m.get('u32'), m.get('i32')],
      [200, -5, 65000, -30000, 4000000000, -7],
    );
    assert.equal(m.get('f32'), Math.fround(0.1));
    assert.equal(m.get('f64'), 0.1);
    assert.equal(m.get('bool'), true);
    assert.equal(m.get('string'), 'héllo ✓');
    assert.equal(m.get('u64.small'), 12345); // safe 64-bit integers come back as numbers
    assert.equal(m.get('u64.big'), 2n ** 60n); // unsafe ones as bigints
    assert.equal(m.get('i64'), -(2 ** 40));
    assert.deepEqual(m.get('strings'), ['a', '', 'ß']);
    assert.deepEqual(m.get('floats'), [1.5, -2.25]);
    assert.deepEqual(m.get('nested'), [[1, 2], [3]]);
    assert.deepEqual(m.get('empty'), []);
    assert.equal(gguf.tensors.length, 0);
  });

  it('honours general.alignment for the data section and tensor offsets', async () => {
    const data = Float32Array.from({ length: 3 * 8 }, (_, i) => i / 4);
    const bytes = encodeGguf({
      alignment: 64,
      tensors: [
        { name: 'a', shape: [3, 8], data, type: 'F32' },
        { name: 'b', shape: [8], data: data.slice(0, 8), type: 'F16' },
        { name: 'c', shape: [8], data: data.slice(8, 16), type: 'BF16' },
      ],
    });
    const gguf = await parseBytes(bytes);
    assert.equal(gguf.alignment, 64);
    assert.equal(gguf.dataOffset % 64, 0);
    assert.deepEqual(gguf.tensors.map((t) => t.dataOffset - gguf.dataOffset), [0, 128, 192]);
    assert.deepEqual(gguf.tensors.map((t) => t.dtype), ['F32', 'F16', 'BF16']);
    const store = new TensorStore(gguf.tensors, async () => new BufferSource('test.gguf', bytes));
    assert.deepEqual(await store.readRows('a', 1, 2), data.slice(8));
    assert.deepEqual(await store.readAll('b'), data.slice(0, 8)); // multiples of 1/4 are exact in f16
    assert.deepEqual(await store.readAll('c'), data.slice(8, 16));
  });

  it('reads GGUF v1 (32-bit counts, lengths and dimensions)', async () => {
    const out = new GgufBytes().bytes(new TextEncoder().encode('GGUF')).u32(1).u32(1).u32(1);
    const str = (s: string): void => {
      const b = new TextEncoder().encode(s);
      out.u32(b.length).bytes(b);
    };
    str('general.architecture');
    out.u32(8);
    str('llama');
    str('w');
    out.u32(2).u32(4).u32(2); // ne = [4, 2] -> shape [2, 4]
    out.u32(0).u64(0);
    out.padTo(32);
    const values = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    out.bytes(new Uint8Array(values.buffer));
    const bytes = out.finish();
    const gguf = await parseBytes(bytes);
    assert.equal(gguf.version, 1);
    assert.equal(gguf.metadata.get('general.architecture'), 'llama');
    assert.deepEqual(gguf.tensors[0]!.shape, [2, 4]);
    const store = new TensorStore(gguf.tensors, async () => new BufferSource('test.gguf', bytes));
    assert.deepEqual(await store.readRows('w', 1, 1), values.slice(4));
  });

  it('keeps tensors of types it cannot decode, with exact sizes where the layout is known', async () => {
    const bytes = header({
      tensors: [
        { name: 'iq', shape: [2, 256], type: 16, offset: 0 }, // IQ2_XXS: 66 bytes per 256
        { name: 'future', shape: [10], type: 99, offset: 160 },
        { name: 'f', shape: [4], type: 0, offset: 256 },
      ],
      dataBytes: 272,
    });
    const gguf = await parseBytes(bytes);
    const [iq, future, f] = gguf.tensors;
    assert.equal(iq!.dtype, 'IQ2_XXS');
    assert.equal(iq!.byteLength, 132);
    assert.equal(future!.dtype, 'GGML_UNKNOWN');
    assert.equal(gguf.ggmlTypes.get('future'), 99);
    assert.equal(future!.byteLength, 96); // up to the next tensor: an upper bound
    assert.equal(f!.byteLength, 16);
    const store = new TensorStore(gguf.tensors, async () => new BufferSource('test.gguf', bytes));
    await assert.rejects(store.readRows('iq', 0, 1), UnsupportedError);
    await assert.rejects(store.readRows('future', 0, 1), UnsupportedError);
  });

  it('names every ggml type id with a dtype that has a layout', () => {
    for (const [id, name] of Object.entries(GGML_TYPE_NAMES)) {
      const dtype = dtypeOfGgmlType(Number(id));
      assert.equal(dtype, name);
      assert.ok(isElementDType(dtype) || dtype in GGML_BLOCK_LAYOUTS, `${name} has no layout`);
    }
    assert.equal(GGML_TYPE_NAMES[12], 'Q4_K');
    assert.equal(GGML_TYPE_NAMES[30], 'BF16');
    assert.equal(dtypeOfGgmlType(4), 'GGML_UNKNOWN');
  });
});

describe('GGUF: hostile and malformed files', () => {
  const kvString = (key: string, value: string) => (out: GgufBytes): void => void writeGgufKv(out, key, value);
  const f32Tensor = (name: string, elements: number, offset: number) => ({ name, shape: [elements], type: 0, offset });

  it('rejects a file without the GGUF magic', async () => {
    const bytes = header({});
    bytes.set(new TextEncoder().encode('GGML'), 0);
    await assertRejects(bytes, /not a GGUF file/);
  });

  it('rejects tiny and truncated files', async () => {
    await assertRejects(new Uint8Array(5), /too small/);
    const real = readFileSync(STORIES());
    await assertRejects(real.subarray(0, 5000), /truncated/);
    await assertRejects(real.subarray(0, 14140), /truncated/); // cut inside the last tensor info
    await assertRejects(real.subarray(0, 14170), /data section would start at byte 14176, past the end of the file/);
  });

  it('rejects big-endian and unknown versions', async () => {
    const be = header({});
    be.set([0, 0, 0, 3], 4);
    await assertRejects(be, /big-endian GGUF \(version 3\) is not supported/);
    const v4 = header({});
    v4.set([4, 0, 0, 0], 4);
    await assertRejects(v4, /unsupported GGUF version 4/);
  });

  it('rejects a kv count or tensor count that cannot fit in the file, without allocating', async () => {
    const kvBomb = writeGgufPreamble(new GgufBytes(), 0, 1e15).bytes(new Uint8Array(1000)).finish();
    await assertRejects(kvBomb, /metadata key-value count 1000000000000000 cannot fit/);
    const tensorBomb = writeGgufPreamble(new GgufBytes(), 2n ** 52n, 0).bytes(new Uint8Array(1000)).finish();
    await assertRejects(tensorBomb, /tensor count \d+ cannot fit/);
    const outOfRange = writeGgufPreamble(new GgufBytes(), 2n ** 63n, 0).bytes(new Uint8Array(100)).finish();
    await assertRejects(outOfRange, /tensor count \d+ is out of range/);
  });

  it('rejects a string length beyond the file', async () => {
    const bytes = writeGgufPreamble(new GgufBytes(), 0, 1).u64(2n ** 40n).bytes(new Uint8Array(100)).finish();
    await assertRejects(bytes, /metadata key length 1099511627776 runs past the end of the file/);
  });

  it('rejects an array length beyond the file', async () => {
    const bytes = writeGgufPreamble(new GgufBytes(), 0, 1).string('tokenizer.ggml.scores').u32(9).u32(6).u64(1e12).bytes(new Uint8Array(64)).finish();
    await assertRejects(bytes, /array length of "tokenizer.ggml.scores" 1000000000000 cannot fit/);
  });

  it('rejects arrays nested deeper than 4 levels', async () => {
    const out = writeGgufPreamble(new GgufBytes(), 0, 1).string('bomb').u32(9);
    for (let level = 0; level < 50; level++) out.u32(9).u64(1);
    out.u32(4).u64(0);
    await assertRejects(out.finish(), /"bomb" nests arrays deeper than 4 levels/);
  });

  it('rejects unknown metadata value types', async () => {
    const bytes = writeGgufPreamble(new GgufBytes(), 0, 1).string('k').u32(13).bytes(new Uint8Array(16)).finish();
    await assertRejects(bytes, /"k" has unknown value type 13/);
  });

  it('rejects an alignment that is not a power of two', async () => {
    await assertRejects(header({ kvs: [(o) => void writeGgufKv(o, 'general.alignment', 48, 'u32')] }), /general.alignment must be a power-of-two integer, got 48/);
    await assertRejects(header({ kvs: [(o) => void writeGgufKv(o, 'general.alignment', 0, 'u32')] }), /power-of-two/);
    await assertRejects(header({ kvs: [(o) => void writeGgufKv(o, 'general.alignment', 32, 'string')] }), /power-of-two/);
  });

  it('rejects overlapping tensors', async () => {
    const bytes = header({ kvs: [kvString('general.architecture', 'llama')], tensors: [f32Tensor('a', 64, 0), f32Tensor('b', 64, 128)], dataBytes: 512 });
    await assertRejects(bytes, /tensors "a" \(data bytes 0\.\.256\) and "b" \(from 128\) overlap/);
  });

  it('rejects misaligned tensor offsets', async () => {
    await assertRejects(header({ tensors: [f32Tensor('a', 8, 4)], dataBytes: 64 }), /"a" data offset 4 is not a multiple of the alignment 32/);
  });

  it('rejects tensors that run past the end of the file', async () => {
    await assertRejects(header({ tensors: [f32Tensor('a', 1024, 0)], dataBytes: 256 }), /tensor "a" needs bytes \d+\.\.\d+ but the file has/);
    await assertRejects(header({ tensors: [f32Tensor('a', 8, 2 ** 40)], dataBytes: 64 }), /starts at data offset 1099511627776, past the end/);
  });

  it('rejects too many dimensions, zero dimensions and element counts beyond 2^53', async () => {
    await assertRejects(header({ tensors: [{ name: 'a', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], type: 0, offset: 0 }], dataBytes: 32 }), /"a" has 9 dimensions \(at most 8\)/);
    await assertRejects(header({ tensors: [{ name: 'a', shape: [4, 0], type: 0, offset: 0 }], dataBytes: 32 }), /"a" has a dimension of size 0/);
    await assertRejects(header({ tensors: [{ name: 'a', shape: [2 ** 30, 2 ** 30, 2 ** 30], type: 0, offset: 0 }], dataBytes: 32 }), /"a" has too many elements/);
  });

  it('rejects block-quantized rows that do not fill whole blocks', async () => {
    await assertRejects(header({ tensors: [{ name: 'q', shape: [2, 100], type: 12, offset: 0 }], dataBytes: 1024 }), /"q" \(Q4_K\) has rows of 100 elements, not a multiple of the block size 256/);
  });

  it('rejects duplicate tensor names', async () => {
    await assertRejects(header({ tensors: [f32Tensor('a', 8, 0), f32Tensor('a', 8, 32)], dataBytes: 64 }), /duplicate tensor name "a"/);
  });
});
