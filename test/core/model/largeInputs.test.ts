// Regression tests for the two crash causes of issue 12 (huge arrays spread into call arguments):
// a 200,000-item APPENDS/SETITEMS/ADDITEMS pickle (legacy file and zip data.pkl) and a model with
// 200,000 tensors. Inputs are generated here; they used to throw RangeError (call stack).
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { walkPickle } from '../../../server/src/core/formats/pickle';
import { readPytorchCheckpointFrom } from '../../../server/src/core/formats/pytorch';
import { BufferSource } from '../../../server/src/core/io/byteSource';
import { openModel } from '../../../server/src/core/model/openModel';
import { UnsupportedError } from '../../../server/src/core/errors';
import { extractFingerprint } from '../../../server/src/core/fingerprint/extract';
import { parseOnnxModel } from '../../../server/src/core/formats/onnx';
import { GgufBytes, writeGgufKv, writeGgufPreamble, writeGgufTensorInfo } from '../../fixtures/ggufWriter';
import { hugeAppendsPickle, hugeAppendsZip, junkFieldOnnx, manyTensorSafetensors } from '../../fixtures/hostileInputs';

const ITEMS = 200_000;

describe('huge inputs do not overflow the call stack (issue 12)', function () {
  this.timeout(60_000);
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-large-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  for (const op of ['APPENDS', 'SETITEMS', 'ADDITEMS'] as const) {
    it(`walks a pickle with one ${op} of ${ITEMS} items`, () => {
      const result = walkPickle(hugeAppendsPickle(ITEMS, op), 'huge.pkl');
      const value = result.value;
      assert.ok(typeof value === 'object' && value !== null);
      const size = value.kind === 'dict' ? value.entries.length : value.kind === 'list' || value.kind === 'set' ? value.items.length : -1;
      assert.equal(size, ITEMS);
    });
  }

  it('reads a legacy pickle file with a 200,000-item APPENDS (no tensors, no crash)', async () => {
    const ck = await readPytorchCheckpointFrom(new BufferSource('appends.bin', hugeAppendsPickle(ITEMS)));
    assert.equal(ck.format, 'pytorch-legacy');
    assert.deepEqual(ck.tensors, []);
  });

  it('reads a zip whose data.pkl has a 200,000-item APPENDS', async () => {
    const ck = await readPytorchCheckpointFrom(new BufferSource('appends.pt', hugeAppendsZip(ITEMS)));
    assert.equal(ck.format, 'pytorch-zip');
    assert.deepEqual(ck.tensors, []);
  });

  it('opens a safetensors model with 200,000 tensors', async () => {
    const folder = path.join(tmp, 'many');
    await import('node:fs/promises').then((fs) => fs.mkdir(folder));
    await writeFile(path.join(folder, 'model.safetensors'), manyTensorSafetensors(ITEMS));
    const model = await openModel(folder);
    try {
      assert.equal(model.tensors.length, ITEMS);
      assert.equal(model.tensors[ITEMS - 1]!.name, `t${ITEMS - 1}`);
      assert.deepEqual(Array.from(await model.store.readAll(`t${ITEMS / 2}`)), [0.5]);
    } finally {
      await model.close();
    }
  });

  it('an ONNX model with 8 MiB of junk fields reads to its one tensor', async () => {
    const model = await parseOnnxModel(new BufferSource('/nowhere/junk.onnx', junkFieldOnnx(8 << 20)));
    assert.deepEqual(model.tensors.map((t) => [t.name, t.shape]), [['w', [4]]]);
  });

  it('a GGUF tensor of an unknown ggml type: the fingerprint fails naming the file and the tensor', async () => {
    const out = new GgufBytes();
    writeGgufPreamble(out, 1, 1);
    writeGgufKv(out, 'general.architecture', 'llama');
    writeGgufTensorInfo(out, 'blk.0.attn_norm.weight', [64], 200, 0);
    const header = out.finish();
    const file = path.join(tmp, 'unknown-type.gguf');
    await writeFile(file, Buffer.concat([header, Buffer.alloc((32 - (header.length % 32)) % 32), Buffer.alloc(256)]));
    const model = await openModel(file);
    try {
      await assert.rejects(extractFingerprint(model), (err: unknown) => {
        assert.ok(err instanceof UnsupportedError);
        assert.match(err.message, /unknown-type\.gguf: tensor blk\.0\.attn_norm\.weight cannot be decoded/);
        return true;
      });
    } finally {
      await model.close();
    }
  });
});
