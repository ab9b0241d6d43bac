// Tests of PyTorch checkpoint reading: real legacy and zip checkpoints decode to exactly their
// safetensors twins, hostile pickles become findings without running, damaged files give typed errors.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ModelFormatError, UnsupportedError } from '../../../server/src/core/errors';
import { BufferSource } from '../../../server/src/core/io/byteSource';
import { readPytorchCheckpoint, readPytorchCheckpointFrom, type PytorchCheckpoint } from '../../../server/src/core/formats/pytorch';
import { readSafetensorsFile } from '../../../server/src/core/formats/safetensors';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import type { TensorInfo } from '../../../server/src/core/formats/types';
import { buildZip, float32Bytes, legacyCheckpoint, PickleWriter, stateDictPickle, type TensorSpec } from '../../fixtures/pickleWriter';
import { zooPath } from '../../support/zoo';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

function storeOver(name: string, bytes: Uint8Array, tensors: TensorInfo[]): TensorStore {
  return new TensorStore(tensors, async () => new BufferSource(name, bytes));
}

/** Decodes every tensor of the safetensors file from both containers and compares bit for bit. */
async function assertSameValues(binPath: string, safetensorsPath: string): Promise<number> {
  const checkpoint = await readPytorchCheckpoint(binPath);
  const reference = await readSafetensorsFile(safetensorsPath);
  const bin = new TensorStore(checkpoint.tensors);
  const st = new TensorStore(reference.tensors);
  try {
    let values = 0;
    for (const t of reference.tensors) {
      const ours = bin.get(t.name);
      assert.ok(ours, `${t.name} missing from ${binPath}`);
      assert.equal(ours.dtype, t.dtype, t.name);
      assert.deepEqual(ours.shape, t.shape, t.name);
      const [a, b] = [await bin.readAll(t.name), await st.readAll(t.name)];
      assert.equal(a.length, b.length);
      const [ua, ub] = [new Uint32Array(a.buffer), new Uint32Array(b.buffer)];
      for (let i = 0; i < ua.length; i++) {
        if (ua[i] !== ub[i]) assert.fail(`${t.name}[${i}]: ${a[i]} in the .bin, ${b[i]} in safetensors`);
      }
      values += a.length;
    }
    return values;
  } finally {
    await bin.close();
    await st.close();
  }
}

describe('PyTorch checkpoints: real files from the zoo', () => {
  it('reads the legacy tiny-gpt2 pytorch_model.bin (names, shapes, dtypes, tied and buffer tensors)', async () => {
    const ck = await readPytorchCheckpoint(zooPath('tiny-gpt2', 'pytorch_model.bin'));
    assert.equal(ck.format, 'pytorch-legacy');
    assert.equal(ck.tensors.length, 33);
    const byName = new Map(ck.tensors.map((t) => [t.name, t]));
    assert.deepEqual(byName.get('transformer.wte.weight')?.shape, [50257, 2]);
    assert.deepEqual(byName.get('transformer.h.1.mlp.c_fc.weight')?.shape, [2, 8]);
    assert.deepEqual(byName.get('transformer.h.0.attn.bias'), {
      name: 'transformer.h.0.attn.bias', dtype: 'U8', shape: [1, 1, 1024, 1024], file: ck.file, dataOffset: 14166, byteLength: 1048576,
    });
    // lm_head is tied to the embedding: same storage bytes.
    assert.equal(byName.get('lm_head.weight')?.dataOffset, byName.get('transformer.wte.weight')?.dataOffset);
    assert.ok(ck.tensors.every((t) => t.strides === undefined));
    assert.deepEqual(ck.findings, []);
    assert.deepEqual(ck.globals.map((g) => `${g.module}.${g.name}`).sort(), [
      'collections.OrderedDict', 'torch.ByteStorage', 'torch.FloatStorage', 'torch._utils._rebuild_tensor_v2',
    ]);
  });

  it('the legacy .bin decodes to exactly the values of tiny-gpt2/model.safetensors', async () => {
    const values = await assertSameValues(zooPath('tiny-gpt2', 'pytorch_model.bin'), zooPath('tiny-gpt2', 'model.safetensors'));
    assert.ok(values > 100_000);
  });

  it('reads the torch.save zip checkpoint and decodes it to exactly tiny-gpt2-medical/model.safetensors', async () => {
    const file = zooPath('generated', 'tiny-gpt2-medical-torchzip', 'pytorch_model.bin');
    const ck = await readPytorchCheckpoint(file);
    assert.equal(ck.format, 'pytorch-zip');
    assert.equal(ck.tensors.length, 28);
    assert.deepEqual(ck.findings, []);
    assert.ok(ck.tensors.every((t) => t.dtype === 'F32' && t.dataOffset % 64 === 0));
    const values = await assertSameValues(file, zooPath('tiny-gpt2-medical', 'model.safetensors'));
    assert.ok(values > 100_000);
  });

  it('recognises the Silero VAD TorchScript archive, flags its code, and recovers its tensors', async () => {
    const ck = await readPytorchCheckpoint(zooPath('silero-vad-v5', 'silero_vad.jit'));
    assert.equal(ck.format, 'torchscript');
    const code = ck.findings.filter((f) => f.code === 'torchscript-code');
    assert.deepEqual(code.map((f) => f.severity), ['high', 'info']);
    assert.match(code[0]!.message, /TorchScript code .*torch\.jit\.load executes/);
    assert.ok(!ck.findings.some((f) => f.severity === 'critical' || f.severity === 'medium'));
    assert.ok(ck.globals.some((g) => g.module.startsWith('__torch__.')));
    const basis = ck.tensors.find((t) => t.name === '_model.stft.forward_basis_buffer');
    assert.deepEqual(basis && [basis.dtype, basis.shape], ['F32', [258, 1, 256]]);
  });
});

describe('PyTorch checkpoints: hostile pickles are findings, and nothing runs', () => {
  const hostile = ['evil_legacy.pkl', 'evil_proto4.pkl', 'evil_torchzip.bin'];
  for (const name of hostile) {
    it(`${name}: a critical dangerous-global finding naming posix.system`, async () => {
      const ck = await readPytorchCheckpoint(zooPath('generated', 'hostile', name));
      const critical = ck.findings.filter((f) => f.severity === 'critical');
      assert.equal(critical.length, 1);
      assert.equal(critical[0]!.code, 'pickle-dangerous-global');
      assert.match(critical[0]!.message, /posix\.system/);
      assert.deepEqual(ck.globals, [{ module: 'posix', name: 'system' }]);
      assert.deepEqual(ck.tensors, []);
    });
  }

  it('the payload (`echo this-would-run`) never reaches a shell: a child process reading all three prints only our report', () => {
    const payload = 'this-would-run';
    for (const name of hostile) assert.ok(readFileSync(zooPath('generated', 'hostile', name)).includes(payload), `${name} carries the payload`);
    const files = hostile.map((name) => zooPath('generated', 'hostile', name));
    const script = `
      const { readPytorchCheckpoint } = require(${JSON.stringify(path.join(REPO_ROOT, 'server/src/core/formats/pytorch.ts'))});
      (async () => {
        for (const f of ${JSON.stringify(files)}) {
          const ck = await readPytorchCheckpoint(f);
          process.stdout.write(JSON.stringify(ck.findings.map((x) => x.severity)) + '\\n');
        }
      })().catch((e) => { process.stdout.write('ERROR ' + e.message + '\\n'); process.exitCode = 1; });`;
    // The child's stdout and stderr are pipes we read in full: an executed `echo` would land there.
    const output = execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(output, '["critical"]\n["critical"]\n["critical"]\n');
    assert.ok(!output.includes(payload));
  });

  it('the reader modules contain no way to run code', () => {
    for (const module of ['zip', 'pickle', 'pickleSafety', 'pytorch']) {
      const source = readFileSync(path.join(REPO_ROOT, 'server/src/core/formats', `${module}.ts`), 'utf8');
      assert.doesNotMatch(source, /child_process|\beval\(|new Function|require\(|import\(|node:vm|worker_threads/, module);
    }
  });

  it('a zip whose data.pkl breaks right after the payload still reports it (nullifAI), with a parse-error finding', async () => {
    const evil = readFileSync(zooPath('generated', 'hostile', 'evil_proto4.pkl'));
    const zip = buildZip([
      { name: 'archive/data.pkl', data: evil.subarray(0, evil.length - 2) },
      { name: 'archive/version', data: Uint8Array.from(Buffer.from('3\n')) },
    ]);
    const ck = await readPytorchCheckpointFrom(new BufferSource('nullifai.pt', zip));
    assert.deepEqual(ck.findings.map((f) => [f.severity, f.code]), [['critical', 'pickle-dangerous-global'], ['high', 'pickle-parse-error']]);
    assert.deepEqual(ck.tensors, []);
  });

  it('a pickle hidden elsewhere in the archive is scanned too', async () => {
    const zip = buildZip([
      { name: 'archive/data.pkl', data: stateDictPickle([]) },
      { name: 'archive/extra/payload.pkl', data: readFileSync(zooPath('generated', 'hostile', 'evil_legacy.pkl')), method: 8 },
    ]);
    const ck = await readPytorchCheckpointFrom(new BufferSource('hidden.pt', zip));
    assert.match(ck.findings.find((f) => f.severity === 'critical')?.message ?? '', /archive\/extra\/payload\.pkl imports posix\.system/);
  });
});

const F32_STORAGE = { key: '0', numel: 6, data: float32Bytes([1, 2, 3, 4, 5, 6]) };
// Half-precision 1.0, 2.0, 3.0, 4.0.
const F16_STORAGE = { key: '1', numel: 4, data: Uint8Array.from([0x00, 0x3c, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44]) };
const SPECS: TensorSpec[] = [
  { name: 'w', storageClass: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
  { name: 'w_t', storageClass: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [3, 2], stride: [1, 3] },
  { name: 'tail', storageClass: 'FloatStorage', key: '0', numel: 6, offset: 4, shape: [2], stride: [1] },
  { name: 'h', storageClass: 'HalfStorage', key: '1', numel: 4, offset: 1, shape: [3], stride: [1] },
];

async function expectFormatError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await assert.rejects(readPytorchCheckpointFrom(new BufferSource('bad.pt', bytes)), (err: Error) => {
    assert.ok(err instanceof ModelFormatError, String(err));
    assert.match(err.message, pattern);
    assert.match(err.message, /bad\.pt/);
    return true;
  });
}

async function checkHandBuilt(ck: PytorchCheckpoint, bytes: Uint8Array): Promise<void> {
  assert.deepEqual(ck.tensors.map((t) => [t.name, t.dtype, t.shape, t.strides]), [
    ['w', 'F32', [2, 3], undefined],
    ['w_t', 'F32', [3, 2], [1, 3]],
    ['tail', 'F32', [2], undefined],
    ['h', 'F16', [3], undefined],
  ]);
  const store = storeOver(ck.file, bytes, ck.tensors);
  assert.deepEqual([...(await store.readAll('w'))], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...(await store.readAll('w_t'))], [1, 4, 2, 5, 3, 6]);
  assert.deepEqual([...(await store.readAll('tail'))], [5, 6]);
  assert.deepEqual([...(await store.readAll('h'))], [2, 3, 4]);
}

describe('PyTorch checkpoints: hand-built files', () => {
  it('legacy: strided views, shared storages and storage offsets', async () => {
    const bytes = legacyCheckpoint(SPECS, [F32_STORAGE, F16_STORAGE]);
    const ck = await readPytorchCheckpointFrom(new BufferSource('hand.bin', bytes));
    assert.equal(ck.format, 'pytorch-legacy');
    await checkHandBuilt(ck, bytes);
  });

  it('zip (and ZIP64): the same tensors from data/<key> entries, data.pkl may be deflated', async () => {
    for (const zip64 of [false, true]) {
      const bytes = buildZip(
        [
          { name: 'hand/data.pkl', data: stateDictPickle(SPECS), method: 8 },
          { name: 'hand/byteorder', data: Uint8Array.from(Buffer.from('little')) },
          { name: 'hand/data/0', data: F32_STORAGE.data, align: 64 },
          { name: 'hand/data/1', data: F16_STORAGE.data, align: 64 },
          { name: 'hand/version', data: Uint8Array.from(Buffer.from('3\n')) },
        ],
        { zip64 },
      );
      const ck = await readPytorchCheckpointFrom(new BufferSource('hand.pt', bytes));
      assert.equal(ck.format, 'pytorch-zip');
      await checkHandBuilt(ck, bytes);
    }
  });

  it('zip: a compressed storage, a big-endian archive or a missing storage is a clear error', async () => {
    const entries = (storageMethod: 0 | 8, byteorder = 'little') =>
      buildZip([
        { name: 'a/data.pkl', data: stateDictPickle(SPECS.slice(0, 1)) },
        { name: 'a/byteorder', data: Uint8Array.from(Buffer.from(byteorder)) },
        { name: 'a/data/0', data: F32_STORAGE.data, method: storageMethod },
      ]);
    await expectFormatError(entries(8), /a\/data\/0 is compressed/);
    await expectFormatError(entries(0, 'big'), /byte order is "big"/);
    await expectFormatError(buildZip([{ name: 'a/data.pkl', data: stateDictPickle(SPECS.slice(0, 1)) }]), /storage entry a\/data\/0 is missing/);
    await expectFormatError(buildZip([{ name: 'a/version', data: Uint8Array.of(0x33) }]), /no <archive>\/data\.pkl/);
  });

  it('legacy: out-of-storage views, truncated data, mismatched counts and big-endian files are typed errors', async () => {
    const pastEnd: TensorSpec = { ...SPECS[0]!, name: 'bad', offset: 5, shape: [2], stride: [1] };
    await expectFormatError(legacyCheckpoint([pastEnd], [F32_STORAGE]), /tensor bad: covers storage bytes 20\.\.28 but storage 0 has 24/);
    const wideStride: TensorSpec = { ...SPECS[0]!, name: 'wide', shape: [2, 3], stride: [4, 1] };
    await expectFormatError(legacyCheckpoint([wideStride], [F32_STORAGE]), /tensor wide: covers storage bytes/);
    const full = legacyCheckpoint(SPECS.slice(0, 1), [F32_STORAGE]);
    await expectFormatError(full.subarray(0, full.length - 1), /runs past the end of the file/);
    await expectFormatError(legacyCheckpoint(SPECS.slice(0, 1), [{ ...F32_STORAGE, numel: 5 }]), /holds 5 elements but the pickle says 6/);
    await expectFormatError(legacyCheckpoint(SPECS.slice(0, 1), [F32_STORAGE], { littleEndian: false }), /big-endian/);
  });

  it('a damaged clean pickle is a typed error, not a silent empty result', async () => {
    const real = readFileSync(zooPath('tiny-gpt2', 'pytorch_model.bin'));
    // Cut inside the object pickle (it spans bytes 137..5162).
    await expectFormatError(real.subarray(0, 3000), /pickle: .*(runs past|before the STOP)/);
    await expectFormatError(Uint8Array.from(Buffer.from('hello, not a checkpoint')), /pickle/);
    await expectFormatError(new Uint8Array(0), /empty file/);
    const tar = new Uint8Array(1024);
    tar.set(Buffer.from('ustar'), 257);
    await expectFormatError(tar, /tar-based/);
  });

  it('nested wrappers, _rebuild_parameter, dtype globals and _rebuild_tensor_v3 over an untyped storage', async () => {
    // {'state_dict': {'p': _rebuild_parameter(_rebuild_tensor_v2(<torch.float32 storage '0'>, 1, (2,), (1,)), True, {}),
    //                 'u': _rebuild_tensor_v3(<torch.storage.UntypedStorage '1'>, 1, (3,), (1,), False, {}, torch.float16)}}
    const w = new PickleWriter().proto(2).op('EMPTY_DICT').binUnicode('state_dict').op('EMPTY_DICT');
    w.binUnicode('p').global('torch._utils', '_rebuild_parameter').op('MARK');
    w.global('torch._utils', '_rebuild_tensor_v2').op('MARK');
    w.op('MARK').binUnicode('storage').global('torch', 'float32').binUnicode('0').binUnicode('cpu').int(6).op('TUPLE').op('BINPERSID');
    w.int(1).tupleOf([2]).tupleOf([1]).op('NEWFALSE').op('EMPTY_DICT').op('TUPLE').op('REDUCE');
    w.op('NEWTRUE').op('EMPTY_DICT').op('TUPLE').op('REDUCE').op('SETITEM');
    w.binUnicode('u').global('torch._utils', '_rebuild_tensor_v3').op('MARK');
    w.op('MARK').binUnicode('storage').global('torch.storage', 'UntypedStorage').binUnicode('1').binUnicode('cpu').int(8).op('TUPLE').op('BINPERSID');
    w.int(1).tupleOf([3]).tupleOf([1]).op('NEWFALSE').op('EMPTY_DICT').global('torch', 'float16').op('TUPLE').op('REDUCE').op('SETITEM');
    w.op('SETITEM').op('STOP');
    const bytes = buildZip([
      { name: 'n/data.pkl', data: w.bytes() },
      { name: 'n/data/0', data: F32_STORAGE.data, align: 64 },
      { name: 'n/data/1', data: Uint8Array.from([0, 0, 0, 0x3c, 0x00, 0x40, 0x00, 0x42]), align: 64 },
    ]);
    const ck = await readPytorchCheckpointFrom(new BufferSource('nested.pt', bytes));
    assert.deepEqual(ck.tensors.map((t) => [t.name, t.dtype, t.shape]), [['state_dict.p', 'F32', [2]], ['state_dict.u', 'F16', [3]]]);
    assert.deepEqual(ck.findings, []);
    const store = storeOver(ck.file, bytes, ck.tensors);
    assert.deepEqual([...(await store.readAll('state_dict.p'))], [2, 3]);
    assert.deepEqual([...(await store.readAll('state_dict.u'))], [1, 2, 3]);
  });

  it('an element type we cannot decode is an UnsupportedError naming it', async () => {
    const spec: TensorSpec = { ...SPECS[0]!, storageClass: 'ComplexFloatStorage' };
    await assert.rejects(readPytorchCheckpointFrom(new BufferSource('c.bin', legacyCheckpoint([spec], [F32_STORAGE]))), (err: Error) => err instanceof UnsupportedError && /torch\.ComplexFloatStorage/.test(err.message));
  });

  it('rejects a storage persistent id that is not a torch storage tuple', async () => {
    const w = new PickleWriter().proto(2).op('EMPTY_DICT').binUnicode('x').global('torch._utils', '_rebuild_tensor_v2');
    w.op('MARK').binUnicode('not-a-tuple').op('BINPERSID').int(0).tupleOf([1]).tupleOf([1]).op('NEWFALSE').op('NONE').op('TUPLE').op('REDUCE');
    const bytes = buildZip([{ name: 'a/data.pkl', data: w.op('SETITEM').op('STOP').bytes() }]);
    await expectFormatError(bytes, /tensor x: persistent id is not a \('storage'/);
  });
});
