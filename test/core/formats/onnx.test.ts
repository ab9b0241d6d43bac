// ONNX reader: the real onnxruntime GPT-2 exports (fp32 and fp16) and Silero VAD from the zoo,
// models built here with a tiny protobuf writer (every value encoding), and hostile files.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelFormatError } from '../../../server/src/core/errors';
import { BufferSource, LocalFileSource } from '../../../server/src/core/io/byteSource';
import {
  externalDataLocationProblem,
  onnxSourceOpener,
  parseOnnxModel,
  readOnnxModel,
  type OnnxModel,
} from '../../../server/src/core/formats/onnx';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import { float32ToF16Bits } from '../../fixtures/safetensorsWriter';
import { zooPath } from '../../support/zoo';

const GPT2_FP32 = (): string => zooPath('ort-tiny-random-gpt2-fp32', 'past.onnx');
const GPT2_FP16 = (): string => zooPath('ort-tiny-random-gpt2-fp16', 'past.onnx');
const SILERO = (): string => zooPath('silero-vad-v5', 'silero_vad.onnx');

// ---- a minimal protobuf writer, enough to build ModelProto / GraphProto / TensorProto ----------

class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v > 0n ? byte | 0x80 : byte);
    } while (v > 0n);
    this.chunks.push(Uint8Array.from(out));
    return this;
  }
  key(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }
  varintField(field: number, value: number | bigint): this {
    return this.key(field, 0).varint(value);
  }
  bytesField(field: number, bytes: Uint8Array): this {
    this.key(field, 2).varint(bytes.length);
    this.chunks.push(bytes);
    return this;
  }
  stringField(field: number, text: string): this {
    return this.bytesField(field, new TextEncoder().encode(text));
  }
  messageField(field: number, message: ProtoWriter): this {
    return this.bytesField(field, message.finish());
  }
  fixed32Field(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.key(field, 5);
    this.chunks.push(bytes);
    return this;
  }
  raw(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    return this;
  }
  finish(): Uint8Array {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

const ONNX_FLOAT = 1;
const ONNX_INT64 = 7;
const ONNX_FLOAT16 = 10;

function floatBytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** TensorProto with name and dims; `fill` adds the data fields. */
function tensorProto(name: string, dataType: number, dims: readonly number[], fill: (t: ProtoWriter) => void): ProtoWriter {
  const t = new ProtoWriter();
  for (const d of dims) t.varintField(1, d);
  t.varintField(2, dataType);
  t.stringField(8, name);
  fill(t);
  return t;
}

function rawTensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): ProtoWriter {
  return tensorProto(name, ONNX_FLOAT, dims, (t) => t.bytesField(9, floatBytes(values)));
}

function externalTensor(name: string, dims: readonly number[], entries: Record<string, string>): ProtoWriter {
  return tensorProto(name, ONNX_FLOAT, dims, (t) => {
    for (const [key, value] of Object.entries(entries)) {
      t.messageField(13, new ProtoWriter().stringField(1, key).stringField(2, value));
    }
    t.varintField(14, 1);
  });
}

/** A ModelProto whose main graph holds `initializers` (and optional extra graph fields). */
function modelBytes(initializers: ProtoWriter[], extendGraph?: (graph: ProtoWriter) => void): Uint8Array {
  const graph = new ProtoWriter().stringField(2, 'test_graph');
  extendGraph?.(graph);
  for (const init of initializers) graph.messageField(5, init);
  return new ProtoWriter()
    .varintField(1, 9)
    .stringField(2, 'lineage-test')
    .messageField(7, graph)
    .messageField(8, new ProtoWriter().stringField(1, '').varintField(2, 17))
    .finish();
}

function parseBytes(bytes: Uint8Array, name = '/nowhere/hostile.onnx'): Promise<OnnxModel> {
  return parseOnnxModel(new BufferSource(name, bytes));
}

async function rejectsWithFormatError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const started = Date.now();
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ModelFormatError, `expected a ModelFormatError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
  assert.ok(Date.now() - started < 1000, 'a hostile file must fail fast');
}

async function readAllTensors(model: OnnxModel): Promise<Map<string, Float32Array>> {
  const store = new TensorStore(model.tensors, onnxSourceOpener(model));
  try {
    const values = new Map<string, Float32Array>();
    for (const t of model.tensors) values.set(t.name, await store.readAll(t.name));
    return values;
  } finally {
    await store.close();
  }
}

// ---- real files --------------------------------------------------------------------------------

describe('ONNX: onnxruntime GPT-2 export (zoo)', () => {
  let fp32: OnnxModel;
  let fp16: OnnxModel;
  before(async () => {
    fp32 = await readOnnxModel(GPT2_FP32());
    fp16 = await readOnnxModel(GPT2_FP16());
  });

  it('reads the model header: IR version, producer and opsets', () => {
    assert.equal(fp32.irVersion, 6);
    assert.equal(fp32.producer, 'onnxruntime.transformers');
    assert.equal(fp32.producerVersion, '1.17.0');
    assert.deepEqual(fp32.opsetVersions, [11, 1]);
    assert.deepEqual(fp32.opsets.map((o) => o.domain), ['', 'com.microsoft']);
    assert.deepEqual(fp32.findings, []);
    assert.deepEqual(fp32.skippedTensors, []);
  });

  it('lists the 27 GPT-2 initializers under their Hugging Face names, the LM head as onnx::MatMul_*', () => {
    assert.equal(fp32.initializerCount, 27);
    assert.equal(fp32.tensors.length, 27);
    const byName = new Map(fp32.tensors.map((t) => [t.name, t]));
    assert.deepEqual(byName.get('transformer.wte.weight')?.shape, [1000, 32]);
    assert.deepEqual(byName.get('transformer.wpe.weight')?.shape, [512, 32]);
    // Conv1D layout [in, out], as in the PyTorch checkpoint.
    assert.deepEqual(byName.get('transformer.h.0.attn.c_attn.weight')?.shape, [32, 96]);
    assert.deepEqual(byName.get('transformer.h.4.mlp.c_proj.weight')?.shape, [128, 32]);
    // The optimizer fused later LayerNorms and biases into SkipLayerNormalization / Attention inputs;
    // the tied LM head survives only as a transposed MatMul weight.
    assert.deepEqual(byName.get('onnx::MatMul_1400')?.shape, [32, 1000]);
    assert.ok(fp32.tensors.every((t) => t.dtype === 'F32' && t.file === GPT2_FP32()));
  });

  it('gives the fp16 export the same names and shapes in F16', () => {
    assert.deepEqual(fp16.tensors.map((t) => t.name), fp32.tensors.map((t) => t.name));
    assert.deepEqual(fp16.tensors.map((t) => t.shape), fp32.tensors.map((t) => t.shape));
    assert.ok(fp16.tensors.every((t) => t.dtype === 'F16'));
  });

  it('decodes fp16 weights to the fp32 weights rounded to half precision', async () => {
    const values32 = await readAllTensors(fp32);
    const values16 = await readAllTensors(fp16);
    let compared = 0;
    let exactRoundings = 0;
    for (const [name, a] of values32) {
      const b = values16.get(name)!;
      assert.equal(b.length, a.length);
      let maxRelative = 0;
      for (let i = 0; i < a.length; i++) {
        const denominator = Math.max(Math.abs(a[i]!), 1e-4);
        maxRelative = Math.max(maxRelative, Math.abs(a[i]! - b[i]!) / denominator);
        if (float32ToF16Bits(a[i]!) === float32ToF16Bits(b[i]!)) exactRoundings++;
        compared++;
      }
      assert.ok(maxRelative < 1e-3, `${name}: max relative difference ${maxRelative}`);
    }
    assert.ok(compared > 100_000);
    assert.equal(exactRoundings, compared, 'every fp16 value is its fp32 value rounded');
  });

  it('reads the same tensors when walking the file by positional reads instead of in memory', async () => {
    const streamed = await readOnnxModel(GPT2_FP32(), { inMemoryLimitBytes: 0 });
    assert.deepEqual(streamed.tensors, fp32.tensors);
    assert.deepEqual(streamed.opsets, fp32.opsets);
  });
});

describe('ONNX: Silero VAD v5 (zoo, weights in Constant nodes inside If branches)', () => {
  let silero: OnnxModel;
  before(async () => {
    silero = await readOnnxModel(SILERO());
  });

  it('finds both sample-rate branches of weights with unique names', () => {
    assert.equal(silero.irVersion, 8);
    assert.equal(silero.producer, 'spox');
    assert.deepEqual(silero.opsetVersions, [16]);
    assert.equal(silero.initializerCount, 0);
    assert.equal(silero.constantTensorCount, 30);
    const weight8k = silero.tensors.find((t) => t.name === 'If_0_else_branch__Inline_0__decoder.rnn.weight_ih');
    const basis16k = silero.tensors.find((t) => t.name === 'If_0_then_branch__Inline_0__stft.forward_basis_buffer');
    assert.deepEqual(weight8k?.shape, [512, 128]);
    assert.deepEqual(basis16k?.shape, [258, 1, 256]);
    assert.deepEqual(silero.origins.get(weight8k!.name), { kind: 'constant', graphPath: 'If_0/else_branch', protoName: 'decoder.rnn.weight_ih' });
    // Shape plumbing (unnamed int64 scalars and axes) is not reported as weights.
    assert.ok(silero.tensors.every((t) => t.dtype === 'F32'));
  });

  it('reads the weights with finite values', async () => {
    const values = await readAllTensors(silero);
    const lstm = values.get('If_0_then_branch__Inline_0__decoder.rnn.weight_hh')!;
    assert.equal(lstm.length, 512 * 128);
    assert.ok(lstm.every(Number.isFinite));
    assert.ok(lstm.some((v) => v !== 0));
  });
});

// ---- value encodings, built here ----------------------------------------------------------------

describe('ONNX: value encodings', () => {
  it('addresses raw_data and packed float_data in place, decodes int32_data F16 and int64_data in memory', async () => {
    const halfBits = [1, -2, 0.5, 65504].map(float32ToF16Bits);
    const packedHalf = new ProtoWriter();
    for (const bits of halfBits) packedHalf.varint(bits);
    const packedInt64 = new ProtoWriter().varint(-3).varint(2n ** 40n);
    const bytes = modelBytes([
      rawTensor('raw', [1, 2, 3, 4, 5, 6], [2, 3]),
      tensorProto('packed_floats', ONNX_FLOAT, [3], (t) => t.bytesField(4, floatBytes([0.25, -1, 7]))),
      tensorProto('unpacked_floats', ONNX_FLOAT, [2], (t) => t.fixed32Field(4, 1.5).fixed32Field(4, -2.5)),
      tensorProto('half_as_int32', ONNX_FLOAT16, [4], (t) => t.bytesField(5, packedHalf.finish())),
      tensorProto('int64_packed', ONNX_INT64, [2], (t) => t.bytesField(7, packedInt64.finish())),
      tensorProto('int64_unpacked', ONNX_INT64, [1], (t) => t.varintField(7, 42)),
    ]);
    const model = await parseBytes(bytes, '/models/m.onnx');
    assert.deepEqual(model.tensors.map((t) => `${t.name}:${t.dtype}`), [
      'raw:F32', 'packed_floats:F32', 'unpacked_floats:F32', 'half_as_int32:F16', 'int64_packed:I64', 'int64_unpacked:I64',
    ]);
    const byName = new Map(model.tensors.map((t) => [t.name, t]));
    assert.equal(byName.get('raw')!.file, '/models/m.onnx');
    assert.equal(byName.get('packed_floats')!.file, '/models/m.onnx');
    assert.match(byName.get('half_as_int32')!.file, /^onnx-inline:/);
    assert.equal(model.inlineTensorBytes.size, 4);

    const store = new TensorStore(model.tensors, onnxSourceOpener(model, async (file) => {
      assert.equal(file, '/models/m.onnx');
      return new BufferSource(file, bytes);
    }));
    assert.deepEqual([...await store.readAll('raw')], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...await store.readRows('raw', 1, 1)], [4, 5, 6]);
    assert.deepEqual([...await store.readAll('packed_floats')], [0.25, -1, 7]);
    assert.deepEqual([...await store.readAll('unpacked_floats')], [1.5, -2.5]);
    assert.deepEqual([...await store.readAll('half_as_int32')], [1, -2, 0.5, 65504]);
    assert.deepEqual([...await store.readAll('int64_packed')], [-3, 2 ** 40]);
    assert.deepEqual([...await store.readAll('int64_unpacked')], [42]);
  });

  it('reads a large model without reading its weights', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lineage-onnx-'));
    try {
      const big = new Array<number>(512 * 1024).fill(0.5);
      const file = path.join(dir, 'big.onnx');
      await writeFile(file, modelBytes([rawTensor('big', big, [512, 1024]), rawTensor('small', [1, 2])]));
      const source = await LocalFileSource.open(file);
      try {
        const model = await parseOnnxModel(source);
        assert.deepEqual(model.tensors.map((t) => t.name), ['big', 'small']);
        assert.ok(source.stats.bytesRead < 256 * 1024, `read ${source.stats.bytesRead} of ${source.sizeBytes} bytes`);
      } finally {
        await source.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---- external data ------------------------------------------------------------------------------

describe('ONNX: external data', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lineage-onnx-ext-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeModel(tensors: ProtoWriter[]): Promise<string> {
    const file = path.join(dir, 'model.onnx');
    await writeFile(file, modelBytes(tensors));
    return file;
  }

  it('reads tensors from a data file beside the model at the given offset', async () => {
    await writeFile(path.join(dir, 'model.onnx.data'), Buffer.concat([Buffer.alloc(16), Buffer.from(floatBytes([3, 1, 4, 1]))]));
    const model = await readOnnxModel(await writeModel([externalTensor('w', [2, 2], { location: 'model.onnx.data', offset: '16', length: '16' })]));
    assert.deepEqual(model.findings, []);
    assert.equal(model.tensors[0]!.file, path.join(dir, 'model.onnx.data'));
    assert.equal(model.tensors[0]!.dataOffset, 16);
    const values = await readAllTensors(model);
    assert.deepEqual([...values.get('w')!], [3, 1, 4, 1]);
  });

  it('reports a high finding for "../../etc/passwd" and an absolute path, and opens neither', async () => {
    const model = await readOnnxModel(await writeModel([
      externalTensor('climbs', [4], { location: '../../etc/passwd' }),
      externalTensor('also_climbs', [4], { location: '../../etc/passwd' }),
      externalTensor('absolute', [4], { location: '/etc/passwd' }),
      externalTensor('windows', [4], { location: 'C:\\Windows\\win.ini' }),
      rawTensor('fine', [1]),
    ]));
    assert.deepEqual(model.tensors.map((t) => t.name), ['fine']);
    assert.deepEqual(model.findings.map((f) => [f.severity, f.code]), [
      ['high', 'onnx-external-data-path'],
      ['high', 'onnx-external-data-path'],
      ['high', 'onnx-external-data-path'],
    ]);
    assert.match(model.findings[0]!.message, /\.\.\/\.\.\/etc\/passwd/);
    assert.deepEqual(model.skippedTensors.map((s) => s.name), ['climbs', 'also_climbs', 'absolute', 'windows']);
  });

  it('reports a symlink inside the folder that leads outside it', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'lineage-onnx-outside-'));
    try {
      await writeFile(path.join(outside, 'secret.bin'), Buffer.alloc(64));
      await symlink(path.join(outside, 'secret.bin'), path.join(dir, 'weights.bin'));
      const model = await readOnnxModel(await writeModel([externalTensor('linked', [4], { location: 'weights.bin' })]));
      assert.equal(model.tensors.length, 0);
      assert.equal(model.findings[0]?.code, 'onnx-external-data-path');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('notes a missing data file and fails on a truncated one', async () => {
    const missing = await readOnnxModel(await writeModel([externalTensor('w', [4], { location: 'absent.bin' })]));
    assert.equal(missing.tensors.length, 0);
    assert.match(missing.skippedTensors[0]!.reason, /missing/);

    await writeFile(path.join(dir, 'short.bin'), Buffer.alloc(8));
    await rejectsWithFormatError(readOnnxModel(await writeModel([externalTensor('w', [4], { location: 'short.bin' })])), /truncated external data/);
    await rejectsWithFormatError(
      readOnnxModel(await writeModel([externalTensor('w', [4], { location: 'short.bin', length: '99' })])),
      /length 99 does not match/,
    );
  });

  it('classifies locations', () => {
    assert.equal(externalDataLocationProblem('weights/part-1.bin'), undefined);
    assert.equal(externalDataLocationProblem('./model.data'), undefined);
    assert.equal(externalDataLocationProblem('a/../../b')?.escapes, true);
    assert.equal(externalDataLocationProblem('..\\b')?.escapes, true);
    assert.equal(externalDataLocationProblem('\\\\server\\share\\x')?.escapes, true);
    assert.equal(externalDataLocationProblem('')?.escapes, false);
  });
});

// ---- hostile and malformed files ---------------------------------------------------------------

describe('ONNX: hostile and malformed files', () => {
  it('rejects a truncated real model', async () => {
    const whole = await readFile(GPT2_FP32());
    await rejectsWithFormatError(parseBytes(whole.subarray(0, 300_000)), /truncated|remain/);
    await rejectsWithFormatError(parseBytes(whole.subarray(0, 5)), /./);
  });

  it('rejects a huge length prefix without allocating it', async () => {
    const hugeGraph = new ProtoWriter().varintField(1, 7).key(7, 2).varint(2n ** 50n).raw(new Uint8Array(16)).finish();
    await rejectsWithFormatError(parseBytes(hugeGraph), /claims \d+ bytes/);
    const hugeRaw = new ProtoWriter().key(9, 2).varint(2 ** 40);
    const tensor = new ProtoWriter().varintField(1, 4).varintField(2, ONNX_FLOAT).stringField(8, 'w').raw(hugeRaw.finish());
    await rejectsWithFormatError(parseBytes(modelBytes([tensor])), /claims \d+ bytes/);
  });

  it('rejects a raw_data length that disagrees with the shape, and impossible dims', async () => {
    await rejectsWithFormatError(parseBytes(modelBytes([rawTensor('w', [1, 2, 3], [4])])), /raw_data has 12 bytes but F32\[4\] needs 16/);
    const negative = tensorProto('w', ONNX_FLOAT, [], (t) => t.varintField(1, -4).bytesField(9, new Uint8Array(16)));
    await rejectsWithFormatError(parseBytes(modelBytes([negative])), /dimension -4 is invalid/);
    const overflowing = tensorProto('w', ONNX_FLOAT, [2 ** 30, 2 ** 30, 2 ** 30], (t) => t.bytesField(9, new Uint8Array(4)));
    await rejectsWithFormatError(parseBytes(modelBytes([overflowing])), /impossible shape/);
    const tooManyValues = tensorProto('w', ONNX_INT64, [1], (t) => t.varintField(7, 1).varintField(7, 2));
    await rejectsWithFormatError(parseBytes(modelBytes([tooManyValues])), /more values than its shape/);
  });

  it('skips a tensor with an unknown data_type and keeps the rest', async () => {
    const unknown = tensorProto('mystery', 999, [2], (t) => t.bytesField(9, new Uint8Array(8)));
    const strings = tensorProto('labels', 8, [1], (t) => t.stringField(6, 'cat'));
    const model = await parseBytes(modelBytes([unknown, strings, rawTensor('ok', [1, 2])]));
    assert.deepEqual(model.tensors.map((t) => t.name), ['ok']);
    assert.equal(model.initializerCount, 3);
    assert.deepEqual(model.skippedTensors, [
      { name: 'mystery', reason: 'data_type 999 (unknown) is not supported' },
      { name: 'labels', reason: 'data_type 8 (STRING) is not supported' },
    ]);
  });

  it('refuses subgraphs nested without end', async () => {
    let graph = new ProtoWriter().stringField(2, 'leaf');
    for (let depth = 0; depth < 40; depth++) {
      const attribute = new ProtoWriter().stringField(1, 'then_branch').messageField(6, graph);
      const node = new ProtoWriter().stringField(4, 'If').messageField(5, attribute);
      graph = new ProtoWriter().messageField(1, node);
    }
    await rejectsWithFormatError(parseBytes(new ProtoWriter().messageField(7, graph).finish()), /nest deeper/);
  });

  it('rejects files that are not ONNX with a typed error', async () => {
    await rejectsWithFormatError(parseBytes(new Uint8Array(0)), /no graph/);
    await rejectsWithFormatError(readOnnxModel(zooPath('tiny-gpt2', 'model.safetensors')), /./);
    // Deterministic garbage: whatever it decodes to, the failure must be a ModelFormatError.
    let seed = 12345;
    for (let round = 0; round < 50; round++) {
      const garbage = new Uint8Array(4096).map(() => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed >>> 24;
      });
      await parseBytes(garbage).then(
        () => undefined,
        (err: unknown) => assert.ok(err instanceof ModelFormatError, `round ${round}: ${String(err)}`),
      );
    }
  });
});
