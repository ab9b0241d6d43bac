import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, open, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelFormatError } from '../../../server/src/core/errors';
import { BufferSource, LocalFileSource } from '../../../server/src/core/io/byteSource';
import {
  MAX_HEADER_BYTES,
  readSafetensorsFile,
  readSafetensorsHeader,
  readShardedSafetensors,
} from '../../../server/src/core/formats/safetensors';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import { elementCount } from '../../../server/src/core/formats/types';
import {
  encodeSafetensors,
  encodeSafetensorsPrefix,
  float32ToBF16Bits,
  float32ToF16Bits,
  float32ToF8E4M3Bits,
  float32ToF8E5M2Bits,
  writeSafetensors,
  writeShardedSafetensors,
  writeSparseSafetensors,
  type TensorSpec,
} from '../../fixtures/safetensorsWriter';
import { zooPath } from '../../support/zoo';

/** Asserts that `promise` fails with a ModelFormatError naming `file` whose message matches `pattern`. */
async function rejectsWithFormatError(promise: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ModelFormatError, `expected a ModelFormatError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.message, pattern);
    return true;
  });
}

/** Parses a file built from raw header text (plus optional data bytes) held in memory. */
function parseRaw(headerJson: string, dataBytes = 0): Promise<unknown> {
  const prefix = encodeSafetensorsPrefix(headerJson);
  const bytes = new Uint8Array(prefix.length + dataBytes);
  bytes.set(prefix);
  return readSafetensorsHeader(new BufferSource('raw.safetensors', bytes));
}

const GPT2_LAYER_SUFFIXES = [
  'attn.c_attn.bias', 'attn.c_attn.weight', 'attn.c_proj.bias', 'attn.c_proj.weight',
  'ln_1.bias', 'ln_1.weight', 'ln_2.bias', 'ln_2.weight',
  'mlp.c_fc.bias', 'mlp.c_fc.weight', 'mlp.c_proj.bias', 'mlp.c_proj.weight',
];

describe('safetensors', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-safetensors-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  describe('real files from the zoo', () => {
    it('reads tiny-gpt2: GPT-2 tensor names, shapes, metadata and 102,714 parameters', async () => {
      const file = zooPath('tiny-gpt2', 'model.safetensors');
      const parsed = await readSafetensorsFile(file);
      const expectedNames = [
        'transformer.wte.weight', 'transformer.wpe.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias',
        ...[0, 1].flatMap((layer) => GPT2_LAYER_SUFFIXES.map((s) => `transformer.h.${layer}.${s}`)),
      ];
      assert.deepEqual(parsed.tensors.map((t) => t.name).sort(), expectedNames.sort());
      assert.deepEqual(parsed.metadata, { format: 'pt' });
      assert.equal(parsed.headerBytes, 8 + 2432);
      const byName = new Map(parsed.tensors.map((t) => [t.name, t]));
      assert.deepEqual(byName.get('transformer.wte.weight')!.shape, [50257, 2]);
      assert.deepEqual(byName.get('transformer.wpe.weight')!.shape, [1024, 2]);
      // GPT-2's Conv1D stores [in, out]: c_attn maps n_embd 2 to 3 * n_embd.
      assert.deepEqual(byName.get('transformer.h.0.attn.c_attn.weight')!.shape, [2, 6]);
      assert.equal(parsed.tensors.reduce((sum, t) => sum + elementCount(t.shape), 0), 102_714);
      for (const t of parsed.tensors) {
        assert.equal(t.file, file);
        assert.equal(t.byteLength, elementCount(t.shape) * 4);
      }
      // The tensors tile the data section exactly, up to the end of the file.
      const last = parsed.tensors[parsed.tensors.length - 1]!;
      assert.equal(last.dataOffset + last.byteLength, (await stat(file)).size);
    });

    it('decodes tiny-gpt2 values: the known first and last embedding rows, all finite', async () => {
      const store = new TensorStore((await readSafetensorsFile(zooPath('tiny-gpt2', 'model.safetensors'))).tensors);
      try {
        const rows = await store.readRowSet('transformer.wte.weight', [50256, 0]);
        const expected = [-0.04400422, -0.01820804, 0.00345811, -0.0096169];
        expected.forEach((v, i) => assert.ok(Math.abs(rows[i]! - v) < 1e-7, `wte value ${i}: ${rows[i]} vs ${v}`));
        for (const t of store.tensors) {
          const values = await store.readAll(t.name);
          assert.equal(values.length, elementCount(t.shape));
          assert.ok(values.every(Number.isFinite), `${t.name} has a non-finite value`);
        }
      } finally {
        await store.close();
      }
    });

    it('reads the medical fine-tune with the same layout, every tensor moved by less than 0.01', async () => {
      const base = await readSafetensorsFile(zooPath('tiny-gpt2', 'model.safetensors'));
      const tuned = await readSafetensorsFile(zooPath('tiny-gpt2-medical', 'model.safetensors'));
      assert.deepEqual(
        tuned.tensors.map((t) => [t.name, t.shape, t.dataOffset]),
        base.tensors.map((t) => [t.name, t.shape, t.dataOffset]),
      );
      const baseStore = new TensorStore(base.tensors);
      const tunedStore = new TensorStore(tuned.tensors);
      try {
        for (const t of base.tensors) {
          const a = await baseStore.readAll(t.name);
          const b = await tunedStore.readAll(t.name);
          let maxDelta = 0;
          for (let i = 0; i < a.length; i++) maxDelta = Math.max(maxDelta, Math.abs(a[i]! - b[i]!));
          assert.ok(maxDelta > 0 && maxDelta < 0.01, `${t.name}: max delta ${maxDelta}`);
        }
      } finally {
        await baseStore.close();
        await tunedStore.close();
      }
    });

    it('reads the Silero VAD file, which has no __metadata__ and 3-D convolution weights', async () => {
      const parsed = await readSafetensorsFile(zooPath('silero-vad-16k-tinygrad', 'silero_vad_16k.safetensors'));
      assert.deepEqual(parsed.metadata, {});
      assert.equal(parsed.tensors.length, 15);
      assert.deepEqual(parsed.tensors.map((t) => t.name).slice(0, 2), ['stft_conv.weight', 'conv1.weight']);
      assert.deepEqual(parsed.tensors.find((t) => t.name === 'conv1.weight')!.shape, [128, 129, 3]);
      assert.equal(parsed.tensors.reduce((sum, t) => sum + elementCount(t.shape), 0), 309_633);
      const store = new TensorStore(parsed.tensors);
      try {
        const bias = await store.readAll('final_conv.bias');
        assert.ok(Math.abs(bias[0]! - -0.57403886) < 1e-7);
        const lstmRow = await store.readRows('lstm_cell.weight_ih', 0, 1);
        assert.equal(lstmRow.length, 128);
        assert.ok(Math.abs(lstmRow[2]! - -0.16813071) < 1e-7);
      } finally {
        await store.close();
      }
    });

    it('reads only the header: parsing costs 8 + N bytes, never the weights', async () => {
      const source = await LocalFileSource.open(zooPath('tiny-gpt2', 'model.safetensors'));
      try {
        const parsed = await readSafetensorsHeader(source);
        assert.equal(source.stats.bytesRead, parsed.headerBytes);
      } finally {
        await source.close();
      }
    });
  });

  describe('hostile files', () => {
    const hostile = (name: string): string => zooPath('generated', 'hostile', name);

    /** Parses through a LocalFileSource and returns the error plus how many bytes were read. */
    async function parseHostile(name: string): Promise<{ error: ModelFormatError; bytesRead: number; sizeBytes: number }> {
      const source = await LocalFileSource.open(hostile(name));
      try {
        await readSafetensorsHeader(source);
      } catch (err) {
        assert.ok(err instanceof ModelFormatError, `expected a ModelFormatError, got ${String(err)}`);
        assert.equal(err.file, hostile(name));
        return { error: err, bytesRead: source.stats.bytesRead, sizeBytes: source.sizeBytes };
      } finally {
        await source.close();
      }
      assert.fail(`${name} was accepted`);
    }

    it('header_overflow: a 1e15-byte header in a 10-byte file is refused after reading 8 bytes', async () => {
      const { error, bytesRead } = await parseHostile('header_overflow.safetensors');
      assert.match(error.message, /header length 1000000000000000 is larger than the 2 bytes that follow it/);
      assert.equal(bytesRead, 8);
    });

    it('overlapping_offsets: names both tensors and their shared byte ranges', async () => {
      const { error } = await parseHostile('overlapping_offsets.safetensors');
      assert.match(error.message, /tensors "a" \(data_offsets \[0, 16\]\) and "b" \(data_offsets \[8, 24\]\) overlap/);
    });

    it('truncated_data: a 4 MB tensor in a 64-byte data section is refused without reading it', async () => {
      const { error, bytesRead, sizeBytes } = await parseHostile('truncated_data.safetensors');
      assert.match(error.message, /tensor "a": data_offsets \[0, 4000000\] reach past the end of the data section, which has only 64 bytes: the file is truncated/);
      assert.ok(bytesRead <= sizeBytes && bytesRead < 100, `read ${bytesRead} bytes`);
    });

    it('shape_size_mismatch: shape [3] of F32 needs 12 bytes, not 16', async () => {
      const { error } = await parseHostile('shape_size_mismatch.safetensors');
      assert.match(error.message, /tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 16\] hold 16/);
    });

    const malformed: [string, () => Promise<unknown>, RegExp][] = [
      ['a file shorter than the length prefix', () => readSafetensorsHeader(new BufferSource('raw.safetensors', new Uint8Array(5))), /5 bytes, too few for the 8-byte header length/],
      ['a length above 2^53', () => {
        const bytes = new Uint8Array(16).fill(0xff);
        return readSafetensorsHeader(new BufferSource('raw.safetensors', bytes));
      }, /header length 18446744073709551615 is larger than the 8 bytes/],
      ['a header that is not JSON', () => parseRaw('{"a": '), /header is not valid JSON/],
      ['a header that does not start with {', () => parseRaw(' {}'), /header does not start with '\{'/],
      ['a header that is not UTF-8', () => {
        const prefix = encodeSafetensorsPrefix('{"\u00e9": 1}');
        prefix[10] = 0xff;
        return readSafetensorsHeader(new BufferSource('raw.safetensors', prefix));
      }, /header is not valid UTF-8/],
      ['a duplicate tensor name', () => parseRaw('{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "w": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}', 3), /has the key "w" twice/],
      ['a duplicate field inside an entry', () => parseRaw('{"w": {"dtype": "U8", "dtype": "F32", "shape": [1], "data_offsets": [0, 1]}}', 1), /has the key "dtype" twice/],
      ['nesting bombs', () => parseRaw(`{"x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`), /nests deeper than 32 levels/],
      ['a spec dtype we cannot decode', () => parseRaw('{"w": {"dtype": "F8_E8M0", "shape": [1], "data_offsets": [0, 1]}}', 1), /tensor "w": unsupported dtype "F8_E8M0"/],
      ['an unknown dtype', () => parseRaw('{"w": {"dtype": "Q4_K", "shape": [1], "data_offsets": [0, 1]}}', 1), /tensor "w": unknown \(unsupported\) dtype "Q4_K"/],
      ['a negative dimension', () => parseRaw('{"w": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}'), /shape \[-1\] has a dimension that is not a non-negative integer/],
      ['a fractional dimension', () => parseRaw('{"w": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 1]}}', 1), /not a non-negative integer/],
      ['a shape whose element count overflows', () => parseRaw('{"w": {"dtype": "U8", "shape": [4294967296, 4294967296], "data_offsets": [0, 1]}}', 1), /more elements than can be addressed/],
      ['offsets that end before they begin', () => parseRaw('{"w": {"dtype": "U8", "shape": [0], "data_offsets": [4, 2]}}', 4), /data_offsets \[4, 2\] end before they begin/],
      ['offsets that are not integers', () => parseRaw('{"w": {"dtype": "U8", "shape": [1], "data_offsets": ["0", 1]}}', 1), /data_offsets must be \[begin, end\]/],
      ['an entry that is not an object', () => parseRaw('{"w": [1, 2]}'), /tensor "w": entry must be an object/],
      ['a header that is an array', () => parseRaw('[]'), /header does not start with '\{'/],
      ['non-string metadata', () => parseRaw('{"__metadata__": {"epochs": 3}}'), /__metadata__ entry "epochs" must be a string, not a number/],
      ['a control character in a tensor name, quoted in the message', () => parseRaw('{"evil\\u001b[31m": {"dtype": "XX", "shape": [], "data_offsets": [0, 0]}}'), /tensor "evil\\u001b\[31m": unknown/],
    ];
    for (const [what, parse, pattern] of malformed) {
      it(`refuses ${what}`, async () => {
        await rejectsWithFormatError(parse(), 'raw.safetensors', pattern);
      });
    }

    it('answers 2,000 randomly corrupted or cut copies of a real file with a result or a ModelFormatError, never a crash', async () => {
      const original = await readFile(zooPath('tiny-gpt2', 'model.safetensors'));
      const headerBytes = 8 + 2432;
      let seed = 0x5eed;
      // mulberry32: a tiny seeded generator, so a failure reproduces exactly.
      const random = (): number => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      let refused = 0;
      for (let trial = 0; trial < 2000; trial++) {
        let bytes = Uint8Array.from(original);
        if (trial % 4 === 0) {
          bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
        } else {
          for (let k = 0; k < 1 + trial % 3; k++) bytes[Math.floor(random() * headerBytes)] = Math.floor(random() * 256);
        }
        try {
          await readSafetensorsHeader(new BufferSource('fuzzed.safetensors', bytes));
        } catch (err) {
          assert.ok(err instanceof ModelFormatError, `trial ${trial}: ${String(err)}`);
          refused++;
        }
      }
      assert.ok(refused > 1000, `only ${refused} of 2000 corrupted files were refused`);
    });

    it('refuses a header above the 100 MB cap even when the file is large enough', async () => {
      const file = path.join(tmp, 'huge-header.safetensors');
      const handle = await open(file, 'w');
      try {
        const prefix = new Uint8Array(8);
        new DataView(prefix.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
        await handle.write(prefix, 0, 8, 0);
        await handle.truncate(8 + MAX_HEADER_BYTES + 1); // sparse: costs no disk
      } finally {
        await handle.close();
      }
      await rejectsWithFormatError(readSafetensorsFile(file), file, /header length 100000001 exceeds the limit of 100000000 bytes/);
    });

    it('accepts an empty header, __proto__ keys as plain data, and tolerates gaps between tensors', async () => {
      const empty = (await parseRaw('{}')) as { tensors: unknown[]; metadata: object };
      assert.deepEqual(empty.tensors, []);
      const odd = (await parseRaw('{"__metadata__": {"__proto__": "x"}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [4, 6]}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', 6)) as {
        tensors: { name: string; dataOffset: number }[];
        metadata: Record<string, string>;
      };
      assert.equal(Object.getPrototypeOf(odd.metadata), Object.prototype);
      assert.equal(odd.metadata['__proto__'], 'x');
      // Reported in data order, with absolute offsets (header here is 8 + 152 bytes).
      assert.deepEqual(odd.tensors.map((t) => t.name), ['a', 'b']);
      assert.equal(odd.tensors[1]!.dataOffset - odd.tensors[0]!.dataOffset, 4);
    });
  });

  describe('round trip through the writer and TensorStore', () => {
    /** Each dtype with input values and the values a reader must decode (worked out by hand, not by the encoders). */
    const cases: Record<string, { spec: TensorSpec; expected: number[] }> = {
      f64: { spec: { dtype: 'F64', shape: [3], data: [0.5, -3.25, 1e10] }, expected: [0.5, -3.25, 1e10] },
      f32: { spec: { dtype: 'F32', shape: [2, 2], data: [1, -2, 0.1, 3e38] }, expected: [1, -2, Math.fround(0.1), Math.fround(3e38)] },
      // 1 + 2^-11 is a tie that rounds to even (1.0); 1 + 3*2^-11 ties up to 1 + 2^-9; 65520 overflows to Infinity;
      // 3 * 2^-25 is 1.5 subnormal steps: ties to 2 steps; -0.1 is 0xAE66.
      f16: {
        spec: { dtype: 'F16', shape: [6], data: [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 65504, 3 * 2 ** -25, -0.1] },
        expected: [1, 1 + 2 ** -9, Infinity, 65504, 2 ** -23, -0.0999755859375],
      },
      // bfloat16 keeps 7 mantissa bits: 1 + 2^-8 ties to 1.0, 1 + 3*2^-8 ties up to 1 + 2^-6, -256.5 rounds to -256,
      // 3e38 = 1.7632 * 2^127 rounds to 226/128 * 2^127.
      bf16: {
        spec: { dtype: 'BF16', shape: [4], data: [1 + 2 ** -8, 1 + 3 * 2 ** -8, -256.5, 3.0e38] },
        expected: [1, 1 + 2 ** -6, -256, 1.765625 * 2 ** 127],
      },
      f8e4m3: {
        spec: { dtype: 'F8_E4M3', shape: [6], data: [1, 448, 464, 500, 2 ** -9, -0.3] },
        // 464 ties to 448 (even mantissa); 500 is beyond 448 and becomes NaN; -0.3 -> -0.3125 (1.25 * 2^-2).
        expected: [1, 448, 448, NaN, 2 ** -9, -0.3125],
      },
      f8e5m2: {
        spec: { dtype: 'F8_E5M2', shape: [5], data: [1, 1.125, 57344, 1e6, 2 ** -16] },
        // 1.125 ties to 1.0; 1e6 overflows to Infinity.
        expected: [1, 1, 57344, Infinity, 2 ** -16],
      },
      i64: { spec: { dtype: 'I64', shape: [3], data: [-(2 ** 40), -1, 123456] }, expected: [-(2 ** 40), -1, 123456] },
      i32: { spec: { dtype: 'I32', shape: [2], data: [-(2 ** 31), 2 ** 24] }, expected: [-(2 ** 31), 2 ** 24] },
      i16: { spec: { dtype: 'I16', shape: [2], data: [-32768, 32767] }, expected: [-32768, 32767] },
      i8: { spec: { dtype: 'I8', shape: [4], data: [-128, -1, 0, 127] }, expected: [-128, -1, 0, 127] },
      u64: { spec: { dtype: 'U64', shape: [1], data: [2 ** 40] }, expected: [2 ** 40] },
      u32: { spec: { dtype: 'U32', shape: [1], data: [4_000_000_000] }, expected: [4_000_000_000] },
      u16: { spec: { dtype: 'U16', shape: [2], data: [65535, 258] }, expected: [65535, 258] },
      u8: { spec: { dtype: 'U8', shape: [2], data: [0, 255] }, expected: [0, 255] },
      bool: { spec: { dtype: 'BOOL', shape: [3], data: [1, 0, 5] }, expected: [1, 0, 1] },
      scalar: { spec: { dtype: 'F32', shape: [], data: [7.5] }, expected: [7.5] },
      empty: { spec: { dtype: 'BF16', shape: [0, 4], data: [] }, expected: [] },
    };

    let store: TensorStore;
    let file: string;
    before(async () => {
      file = path.join(tmp, 'every-dtype.safetensors');
      await writeSafetensors(file, Object.fromEntries(Object.entries(cases).map(([name, c]) => [name, c.spec])), { format: 'pt', note: 'round trip' });
      store = new TensorStore((await readSafetensorsFile(file)).tensors);
    });
    after(async () => {
      await store.close();
    });

    it('keeps names, dtypes, shapes and metadata', async () => {
      const parsed = await readSafetensorsFile(file);
      assert.deepEqual(parsed.metadata, { format: 'pt', note: 'round trip' });
      assert.deepEqual(
        parsed.tensors.map((t) => [t.name, t.dtype, t.shape]),
        Object.entries(cases).map(([name, c]) => [name, c.spec.dtype, c.spec.shape]),
      );
      assert.equal(parsed.headerBytes % 8, 0, 'data section starts 8-byte aligned');
    });

    for (const [name, { spec, expected }] of Object.entries(cases)) {
      it(`decodes ${spec.dtype} ${name} to the expected values`, async () => {
        const values = [...(await store.readAll(name))];
        assert.equal(values.length, expected.length);
        expected.forEach((want, i) => {
          if (Number.isNaN(want)) assert.ok(Number.isNaN(values[i]!), `${name}[${i}] should be NaN, got ${values[i]}`);
          else assert.equal(values[i], Math.fround(want), `${name}[${i}]`);
        });
      });
    }

    it('encodes half and bfloat16 bits exactly as IEEE round-to-nearest-even says', () => {
      assert.equal(float32ToF16Bits(1), 0x3c00);
      assert.equal(float32ToF16Bits(-2), 0xc000);
      assert.equal(float32ToF16Bits(-0), 0x8000);
      assert.equal(float32ToF16Bits(65504), 0x7bff);
      assert.equal(float32ToF16Bits(65519.99), 0x7bff);
      assert.equal(float32ToF16Bits(65520), 0x7c00);
      assert.equal(float32ToF16Bits(2 ** -24), 0x0001);
      assert.equal(float32ToF16Bits(2 ** -25), 0x0000);
      assert.equal(float32ToF16Bits(2 ** -14 - 2 ** -25), 0x0400, 'rounds up from the largest subnormal into the normals');
      assert.equal(float32ToF16Bits(NaN), 0x7e00);
      assert.equal(float32ToBF16Bits(1), 0x3f80);
      assert.equal(float32ToBF16Bits(-Infinity), 0xff80);
      assert.equal(float32ToBF16Bits(Math.fround(3.4028234663852886e38)), 0x7f80, 'float32 max rounds to infinity in bfloat16');
      assert.equal(float32ToBF16Bits(NaN), 0x7fc0);
      assert.equal(float32ToF8E4M3Bits(1), 0x38);
      assert.equal(float32ToF8E4M3Bits(-448), 0xfe);
      assert.equal(float32ToF8E4M3Bits(Infinity), 0x7f);
      assert.equal(float32ToF8E5M2Bits(1), 0x3c);
      assert.equal(float32ToF8E5M2Bits(-Infinity), 0xfc);
    });

    it('refuses to write integers that do not fit the dtype', () => {
      assert.throws(() => encodeSafetensors({ w: { dtype: 'I8', shape: [1], data: [128] } }), /not a I8 integer/);
      assert.throws(() => encodeSafetensors({ w: { dtype: 'U8', shape: [1], data: [-1] } }), /not a U8 integer/);
      assert.throws(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: [1] } }), /needs 8 bytes, got 4/);
    });
  });

  describe('sharded models', () => {
    /** Eight small tensors in a fixed order, each filled with its own index so shards can be checked. */
    const tensors: Record<string, TensorSpec> = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [`layers.${i}.weight`, { dtype: 'F32', shape: [4, 3], data: new Float32Array(12).fill(i) }]),
    );

    it('reads a 3-shard model: every tensor, from the right shard, with readable values', async () => {
      const folder = path.join(tmp, 'three-shards');
      const written = await writeShardedSafetensors(folder, tensors, 3);
      assert.deepEqual(written.shardPaths.map((p) => path.basename(p)), [
        'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors',
      ]);
      const model = await readShardedSafetensors(written.indexPath);
      assert.equal(model.indexFile, written.indexPath);
      assert.deepEqual(model.metadata, { total_size: 8 * 12 * 4 });
      assert.deepEqual(model.shards.map((s) => path.basename(s.file)), written.shardPaths.map((p) => path.basename(p)));
      assert.ok(model.shards.every((s) => s.tensors.length > 0), 'no empty shard');
      assert.deepEqual(model.tensors.map((t) => t.name).sort(), Object.keys(tensors).sort());
      assert.deepEqual(model.unmappedTensorNames, []);
      for (const t of model.tensors) assert.equal(path.basename(t.file), written.weightMap[t.name]);

      const store = new TensorStore(model.tensors);
      try {
        for (let i = 0; i < 8; i++) assert.deepEqual([...(await store.readRows(`layers.${i}.weight`, 3, 1))], [i, i, i]);
      } finally {
        await store.close();
      }
    });

    /** A folder with one valid shard and an index whose weight_map is `weightMap`. */
    async function modelWithIndex(name: string, weightMap: Record<string, string>): Promise<string> {
      const folder = path.join(tmp, name);
      await mkdir(folder, { recursive: true });
      await writeSafetensors(path.join(folder, 'model-00001-of-00001.safetensors'), { w: { dtype: 'F32', shape: [2], data: [1, 2] } });
      const indexPath = path.join(folder, 'model.safetensors.index.json');
      await writeFile(indexPath, JSON.stringify({ metadata: {}, weight_map: weightMap }));
      return indexPath;
    }

    const escapes: [string, string, RegExp][] = [
      ['a parent-folder shard name', '../x.safetensors', /shard file "\.\.\/x\.safetensors" contains '\.\.'/],
      ['an absolute shard path', '/etc/passwd', /shard file "\/etc\/passwd" is an absolute path/],
      ['a Windows drive path', 'C:/Windows/x.safetensors', /is an absolute path/],
      ['a backslash traversal', '..\\x.safetensors', /contains a backslash/],
      ['a traversal hidden in a sub-path', 'sub/../../x.safetensors', /contains '\.\.'/],
    ];
    for (const [what, shardName, pattern] of escapes) {
      it(`refuses ${what} in weight_map before opening anything`, async () => {
        const indexPath = await modelWithIndex(`escape-${escapes.findIndex((e) => e[1] === shardName)}`, {
          w: 'model-00001-of-00001.safetensors',
          v: shardName,
        });
        await rejectsWithFormatError(readShardedSafetensors(indexPath), indexPath, pattern);
      });
    }

    it('refuses a shard that is a symlink to a file outside the model folder', async () => {
      const outside = path.join(tmp, 'outside.safetensors');
      await writeSafetensors(outside, { v: { dtype: 'F32', shape: [1], data: [0] } });
      const indexPath = await modelWithIndex('symlink-escape', { w: 'model-00001-of-00001.safetensors', v: 'model-00002-of-00002.safetensors' });
      await symlink(outside, path.join(path.dirname(indexPath), 'model-00002-of-00002.safetensors'));
      await rejectsWithFormatError(readShardedSafetensors(indexPath), indexPath, /shard file "model-00002-of-00002\.safetensors" resolves to .*outside\.safetensors, outside the model folder/);
    });

    it('follows Hugging Face cache symlinks from snapshots/<revision> into blobs/', async () => {
      const repo = path.join(tmp, 'hub', 'models--org--tiny');
      const snapshot = path.join(repo, 'snapshots', '0123abcd');
      await mkdir(path.join(repo, 'blobs'), { recursive: true });
      await mkdir(snapshot, { recursive: true });
      const written = await writeShardedSafetensors(path.join(repo, 'blobs'), tensors, 2);
      for (const [i, shardPath] of [...written.shardPaths, written.indexPath].entries()) {
        const blob = path.join(repo, 'blobs', `blob${i}`);
        await writeFile(blob, await readFile(shardPath));
        await rm(shardPath);
        await symlink(path.relative(snapshot, blob), path.join(snapshot, path.basename(shardPath)));
      }
      const model = await readShardedSafetensors(path.join(snapshot, 'model.safetensors.index.json'));
      assert.equal(model.tensors.length, 8);
      assert.ok(model.tensors.every((t) => path.dirname(t.file) === snapshot), 'tensors are addressed through the snapshot');
    });

    it('refuses an index that maps a tensor to a shard that does not hold it', async () => {
      const indexPath = await modelWithIndex('missing-tensor', { w: 'model-00001-of-00001.safetensors', ghost: 'model-00001-of-00001.safetensors' });
      await rejectsWithFormatError(readShardedSafetensors(indexPath), indexPath, /weight_map puts tensor "ghost" in "model-00001-of-00001\.safetensors", but that shard does not contain it/);
    });

    it('refuses an index that names a shard file that does not exist', async () => {
      const indexPath = await modelWithIndex('missing-shard', { w: 'model-00001-of-00001.safetensors', v: 'model-00009-of-00009.safetensors' });
      await rejectsWithFormatError(readShardedSafetensors(indexPath), indexPath, /shard file "model-00009-of-00009\.safetensors" named in weight_map does not exist/);
    });

    it('keeps tensors a shard holds beyond weight_map, and lists them as unmapped', async () => {
      const folder = path.join(tmp, 'unmapped');
      const written = await writeShardedSafetensors(folder, tensors, 2);
      const index = { metadata: {}, weight_map: { ...written.weightMap } as Record<string, string> };
      delete index.weight_map['layers.0.weight'];
      await writeFile(written.indexPath, JSON.stringify(index));
      const model = await readShardedSafetensors(written.indexPath);
      assert.equal(model.tensors.length, 8);
      assert.deepEqual(model.unmappedTensorNames, ['layers.0.weight']);
    });

    it('refuses one tensor name stored in two shards', async () => {
      const folder = path.join(tmp, 'duplicated');
      await mkdir(folder, { recursive: true });
      const shard = { w: { dtype: 'F32', shape: [1], data: [0] } } satisfies Record<string, TensorSpec>;
      await writeSafetensors(path.join(folder, 'a.safetensors'), { ...shard, x: { dtype: 'F32', shape: [1], data: [0] } });
      await writeSafetensors(path.join(folder, 'b.safetensors'), shard);
      const indexPath = path.join(folder, 'model.safetensors.index.json');
      await writeFile(indexPath, JSON.stringify({ weight_map: { w: 'b.safetensors', x: 'a.safetensors' } }));
      await rejectsWithFormatError(readShardedSafetensors(indexPath), indexPath, /tensor "w" is stored in both "a\.safetensors" and "b\.safetensors"/);
    });

    it('refuses a malformed index: not JSON, no weight_map, non-string shard, empty map', async () => {
      const folder = path.join(tmp, 'bad-index');
      await mkdir(folder, { recursive: true });
      const indexPath = path.join(folder, 'model.safetensors.index.json');
      const cases: [string, RegExp][] = [
        ['{"weight_map": ', /index is not valid JSON/],
        ['{"metadata": {}}', /"weight_map" must be an object/],
        ['{"weight_map": {"w": 3}}', /weight_map entry "w" must name a shard file, not a number/],
        ['{"weight_map": {}}', /weight_map is empty/],
        ['{"metadata": [], "weight_map": {"w": "a.safetensors"}}', /"metadata" must be an object, not an array/],
      ];
      for (const [text, pattern] of cases) {
        await writeFile(indexPath, text);
        await rejectsWithFormatError(readShardedSafetensors(indexPath), indexPath, pattern);
      }
    });
  });

  describe('bounded reads', () => {
    it('samples 8 rows of a 200 MB tensor (sparse file) reading only those rows', async () => {
      const rows = 50_000;
      const cols = 1000;
      const rowBytes = cols * 4;
      const file = path.join(tmp, 'sparse-200mb.safetensors');
      try {
        const { dataOffsets, headerBytes } = await writeSparseSafetensors(file, { 'model.embed_tokens.weight': { dtype: 'F32', shape: [rows, cols] } });
        assert.equal((await stat(file)).size, headerBytes.length + rows * rowBytes);
        // Patch a recognisable value into some sampled rows: row r holds r + column / 1000.
        const marked = [7, 8, 9, 12_345, 49_999];
        const handle = await open(file, 'r+');
        try {
          for (const r of marked) {
            const row = Float32Array.from({ length: cols }, (_, c) => r + c / 1000);
            await handle.write(new Uint8Array(row.buffer), 0, rowBytes, dataOffsets['model.embed_tokens.weight']! + r * rowBytes);
          }
        } finally {
          await handle.close();
        }

        const parsed = await readSafetensorsFile(file);
        const store = new TensorStore(parsed.tensors);
        try {
          const sampled = [12_345, 7, 8, 9, 49_999, 100, 30_000, 20_000];
          const values = await store.readRowSet('model.embed_tokens.weight', sampled);
          sampled.forEach((r, slot) => {
            const first = values[slot * cols]!;
            const last = values[slot * cols + cols - 1]!;
            if (marked.includes(r)) {
              assert.equal(first, Math.fround(r), `row ${r} first value`);
              assert.equal(last, Math.fround(r + 0.999), `row ${r} last value`);
            } else {
              assert.ok(first === 0 && last === 0, `unwritten row ${r} reads as zeros`);
            }
          });
          const bytesRead = await store.bytesRead();
          assert.equal(bytesRead, sampled.length * rowBytes, 'exactly the 8 sampled rows');
          assert.ok(bytesRead < 1024 * 1024);
        } finally {
          await store.close();
        }
      } finally {
        await rm(file, { force: true });
      }
    });
  });
});
