// Path confinement (issue 12): every file the engine opens for a model resolves inside the model
// folder (the repo folder for a Hugging Face cache snapshot). One test per escape layout: symlinked
// weights (safetensors, pickle), config, tokenizer, GGUF split, ONNX external data, shard index and
// shard. Each is a clear error or a skipped file with a finding, never read or hashed.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256File } from '../../../server/src/core/io/fileHash';
import { ModelFormatError } from '../../../server/src/core/errors';
import { extractFingerprint } from '../../../server/src/core/fingerprint/extract';
import { confinementRoot, openConfined, PathEscapeError } from '../../../server/src/core/io/confinedPath';
import { LocalFileSource } from '../../../server/src/core/io/byteSource';
import { openModel, type OpenedModel } from '../../../server/src/core/model/openModel';
import { buildHfCache } from '../../fixtures/hfCacheBuilder';
import { encodeGguf } from '../../fixtures/ggufWriter';
import { manyTensorSafetensors, ProtoBytes } from '../../fixtures/hostileInputs';
import { legacyCheckpoint, float32Bytes } from '../../fixtures/pickleWriter';

const SECRET = '{"model_type":"stolen","hidden_size":4096}';

function escapes(model: OpenedModel, name: string): boolean {
  return model.findings.some((f) => f.code === 'file-outside-model-folder' && f.severity === 'high' && path.basename(f.file) === name);
}

async function fingerprintFiles(model: OpenedModel): Promise<string[]> {
  const fp = await extractFingerprint(model);
  return fp.files.map((f) => f.relativePath);
}

function onnxWithExternalData(location: string): Uint8Array {
  const tensor = new ProtoBytes().varintField(1, 4).varintField(2, 1).stringField(8, 'w')
    .messageField(13, new ProtoBytes().stringField(1, 'location').stringField(2, location)).varintField(14, 1);
  const graph = new ProtoBytes().stringField(2, 'g').messageField(5, tensor);
  return new ProtoBytes().varintField(1, 9).messageField(7, graph).messageField(8, new ProtoBytes().stringField(1, '').varintField(2, 17)).finish();
}

describe('path confinement: escape layouts', function () {
  this.timeout(30_000);
  let tmp: string;
  let outside: string;
  let n = 0;
  const folder = async (): Promise<string> => {
    const f = path.join(tmp, `model-${n++}`);
    await mkdir(f);
    return f;
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-confine-'));
    outside = path.join(tmp, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.json'), SECRET);
    await writeFile(path.join(outside, 'model.safetensors'), manyTensorSafetensors(4));
    await writeFile(path.join(outside, 'weights.bin'), Buffer.alloc(64));
    await writeFile(path.join(outside, 'split.gguf'), encodeGguf({ metadata: [['general.architecture', 'llama']] }));
    const t = { name: 'w', storageClass: 'FloatStorage', key: '0', numel: 2, offset: 0, shape: [2], stride: [1] };
    await writeFile(path.join(outside, 'pytorch_model.bin'), legacyCheckpoint([t], [{ key: '0', numel: 2, data: float32Bytes([1, 2]) }]));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('symlinked safetensors weights: skipped with a finding, not read, not hashed', async () => {
    const f = await folder();
    await symlink(path.join(outside, 'model.safetensors'), path.join(f, 'model.safetensors'));
    await writeFile(path.join(f, 'config.json'), '{"model_type":"llama"}');
    const model = await openModel(f);
    try {
      assert.ok(escapes(model, 'model.safetensors'));
      assert.equal(model.format, 'none');
      assert.equal(model.tensors.length, 0);
      assert.ok(!(await fingerprintFiles(model)).includes('model.safetensors'));
    } finally {
      await model.close();
    }
  });

  it('symlinked pytorch_model.bin: skipped with a finding', async () => {
    const f = await folder();
    await symlink(path.join(outside, 'pytorch_model.bin'), path.join(f, 'pytorch_model.bin'));
    const model = await openModel(f);
    try {
      assert.ok(escapes(model, 'pytorch_model.bin'));
      assert.equal(model.tensors.length, 0);
    } finally {
      await model.close();
    }
  });

  it('config.json -> outside file: not read, not in the fingerprint file list', async () => {
    const f = await folder();
    await writeFile(path.join(f, 'model.safetensors'), manyTensorSafetensors(4));
    await symlink(path.join(outside, 'secret.json'), path.join(f, 'config.json'));
    const model = await openModel(f);
    try {
      assert.ok(escapes(model, 'config.json'));
      assert.equal(model.architecture, undefined);
      assert.deepEqual(await fingerprintFiles(model), ['model.safetensors']);
    } finally {
      await model.close();
    }
  });

  it('tokenizer.json -> outside file: skipped with a finding, another tokenizer file is used', async () => {
    const f = await folder();
    await writeFile(path.join(f, 'model.safetensors'), manyTensorSafetensors(4));
    await symlink(path.join(outside, 'secret.json'), path.join(f, 'tokenizer.json'));
    await writeFile(path.join(f, 'vocab.txt'), '[PAD]\nhello\n');
    const model = await openModel(f);
    try {
      assert.ok(escapes(model, 'tokenizer.json'));
      assert.equal(model.vocabulary?.tokens.length, 2);
      assert.ok(!(await fingerprintFiles(model)).includes('tokenizer.json'));
    } finally {
      await model.close();
    }
  });

  it('a second GGUF split linking outside: skipped with a finding, never hashed', async () => {
    const f = await folder();
    await writeFile(path.join(f, 'model-00001-of-00002.gguf'), encodeGguf({ metadata: [['general.architecture', 'llama']] }));
    await symlink(path.join(outside, 'split.gguf'), path.join(f, 'model-00002-of-00002.gguf'));
    const model = await openModel(f);
    try {
      assert.ok(escapes(model, 'model-00002-of-00002.gguf'));
      assert.deepEqual(await fingerprintFiles(model), ['model-00001-of-00002.gguf']);
    } finally {
      await model.close();
    }
  });

  it('ONNX external data through a symlinked file: a finding, the tensor is not read, the file not hashed', async () => {
    const f = await folder();
    await writeFile(path.join(f, 'model.onnx'), onnxWithExternalData('weights.bin'));
    await symlink(path.join(outside, 'weights.bin'), path.join(f, 'weights.bin'));
    const model = await openModel(f);
    try {
      assert.ok(escapes(model, 'weights.bin'));
      assert.ok(model.findings.some((x) => x.code === 'onnx-external-data-path'));
      assert.equal(model.tensors.length, 0);
      assert.deepEqual(await fingerprintFiles(model), ['model.onnx']);
    } finally {
      await model.close();
    }
  });

  it('a shard index linking outside is not read; a shard linking outside is a clear error naming the index', async () => {
    const f = await folder();
    await writeFile(path.join(outside, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { t0: 'model.safetensors' } }));
    await symlink(path.join(outside, 'model.safetensors.index.json'), path.join(f, 'model.safetensors.index.json'));
    await writeFile(path.join(f, 'model.safetensors'), manyTensorSafetensors(4));
    const model = await openModel(f);
    try {
      assert.ok(escapes(model, 'model.safetensors.index.json'));
      assert.equal(model.tensors.length, 4); // read as an unsharded model
    } finally {
      await model.close();
    }

    const g = await folder();
    await writeFile(path.join(g, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { t0: 'model-00001-of-00001.safetensors' } }));
    await symlink(path.join(outside, 'model.safetensors'), path.join(g, 'model-00001-of-00001.safetensors'));
    await assert.rejects(openModel(g), (err: unknown) => {
      assert.ok(err instanceof ModelFormatError);
      assert.match(err.message, /model\.safetensors\.index\.json: shard file "model-00001-of-00001\.safetensors" resolves to .*outside/);
      return true;
    });
  });

  it('hashing and direct opens refuse an escaping path (PathEscapeError), whatever the caller', async () => {
    const f = await folder();
    const link = path.join(f, 'config.json');
    await symlink(path.join(outside, 'secret.json'), link);
    await assert.rejects(sha256File(link), PathEscapeError);
    await assert.rejects(LocalFileSource.open(link), PathEscapeError);
    await assert.rejects(openConfined(link), /links outside the model folder/);
  });

  it('links that stay inside the folder keep working; a FIFO is refused without hanging', async () => {
    const f = await folder();
    await mkdir(path.join(f, 'sub'));
    await writeFile(path.join(f, 'sub', 'real.safetensors'), manyTensorSafetensors(3));
    await symlink('sub/real.safetensors', path.join(f, 'model.safetensors'));
    const model = await openModel(f);
    try {
      assert.equal(model.tensors.length, 3);
    } finally {
      await model.close();
    }
    try {
      execFileSync('mkfifo', [path.join(f, 'fifo.json')]);
    } catch {
      return; // no mkfifo on this system
    }
    await assert.rejects(openConfined(path.join(f, 'fifo.json')), /not a regular file/);
  });

  it('Hugging Face cache snapshots: links into ../../blobs of the same repo work, the root is the repo folder', async () => {
    const cache = path.join(tmp, 'hub');
    const built = await buildHfCache(cache, [{
      repoId: 'org/tiny',
      files: { 'model.safetensors': manyTensorSafetensors(5), 'config.json': Buffer.from('{"model_type":"llama"}') },
    }]);
    const repo = built.repos[0]!;
    assert.equal(await confinementRoot(repo.snapshotFolder), repo.repoFolder);
    const model = await openModel('org/tiny', { cacheRoots: [cache] });
    try {
      assert.equal(model.tensors.length, 5);
      assert.equal(model.findings.length, 0);
      assert.deepEqual((await fingerprintFiles(model)).sort(), ['config.json', 'model.safetensors']);
    } finally {
      await model.close();
    }
  });
});
