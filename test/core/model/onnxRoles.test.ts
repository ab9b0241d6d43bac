// ONNX initializers mapped to roles through the graph: torch.onnx-style exports built in code (a synthetic
// Llama, the real stories260K and tiny-gpt2), hand-made graphs (Gemm, Transpose, shared initializers), the
// real onnxruntime GPT-2 export of the zoo, and graphs without module paths (the fallback).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { onnxSourceOpener, readOnnxModel } from '../../../server/src/core/formats/onnx';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import type { TensorInfo } from '../../../server/src/core/formats/types';
import { assignOnnxGraphRoles, modulePathOfNodeName, type OnnxRoleAssignment } from '../../../server/src/core/model/onnxRoles';
import { openModel } from '../../../server/src/core/model/openModel';
import { mapTensorRoles } from '../../../server/src/core/model/roles';
import { loadModelTensors, type ModelTensors } from '../../fixtures/modelTensors';
import {
  encodeTorchOnnxExport,
  floatTensorProto,
  intAttribute,
  intsAttribute,
  onnxModelBytes,
  onnxNode,
  writeOnnxExportFolder,
} from '../../fixtures/onnxExport';
import { makeSyntheticLlama } from '../../fixtures/syntheticModels';
import { writeModelFolder } from '../../fixtures/writeModel';
import { zooPath } from '../../support/zoo';

const root = mkdtempSync(path.join(tmpdir(), 'lineage-onnx-roles-'));
after(() => rmSync(root, { recursive: true, force: true }));
let fileCount = 0;

/** Reads `bytes` as a model file and assigns roles, with the values of every resulting tensor. */
async function assign(bytes: Uint8Array, family?: string): Promise<{ result: OnnxRoleAssignment; values: Map<string, Float32Array> }> {
  const file = path.join(root, `graph-${fileCount++}.onnx`);
  await writeFile(file, bytes);
  const onnx = await readOnnxModel(file);
  const openSource = onnxSourceOpener(onnx);
  const result = await assignOnnxGraphRoles(onnx, { family, openSource });
  const store = new TensorStore(result.tensors, openSource);
  try {
    const values = new Map<string, Float32Array>();
    for (const t of result.tensors) values.set(t.name, await store.readAll(t.name));
    return { result, values };
  } finally {
    await store.close();
  }
}

function assertSameValues(actual: Float32Array | undefined, expected: Float32Array, what: string): void {
  assert.ok(actual, `${what} is missing`);
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: element ${i} is ${actual[i]}, the original has ${expected[i]}`);
  }
}

/** Every original tensor is present under its own name, with its shape and exact values. */
function assertMatchesOriginal(original: ModelTensors, tensors: readonly TensorInfo[], values: Map<string, Float32Array>, skip: ReadonlySet<string> = new Set()): number {
  let matched = 0;
  for (const [name, t] of original.tensors) {
    if (skip.has(name)) continue;
    const info = tensors.find((x) => x.name === name);
    assert.ok(info, `${name} has no counterpart in the export (it has ${tensors.map((x) => x.name).join(', ')})`);
    assert.deepEqual(info.shape, t.shape, name);
    assertSameValues(values.get(name), t.data, name);
    matched++;
  }
  return matched;
}

describe('ONNX graph roles: node names', () => {
  it('reads module paths from torch.onnx node and value names', () => {
    assert.equal(modulePathOfNodeName('/model/layers.0/mlp/gate_proj/MatMul'), 'model.layers.0.mlp.gate_proj');
    assert.equal(modulePathOfNodeName('/transformer/h.1/ln_1/Add_1_output_0'), 'transformer.h.1.ln_1');
    assert.equal(modulePathOfNodeName('/lm_head/MatMul'), 'lm_head');
    assert.equal(modulePathOfNodeName('MatMul_12'), undefined);
    assert.equal(modulePathOfNodeName('/MatMul'), undefined);
    assert.equal(modulePathOfNodeName('//x//MatMul'), undefined);
  });
});

describe('ONNX graph roles: a torch.onnx-style export of a synthetic Llama', () => {
  const shape = { hidden: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 48, vocab: 300 };

  it('names every anonymous MatMul weight after its module and reads it in the original [out, in] orientation', async () => {
    const model = makeSyntheticLlama({ ...shape, seed: 'onnx-roles-untied' });
    const { result, values } = await assign(encodeTorchOnnxExport(model), 'llama');
    // 7 projections per layer and the untied LM head were anonymous onnx::MatMul_* initializers.
    assert.equal(result.renamed.size, 7 * shape.layers + 1);
    assert.ok([...result.renamed.keys()].every((n) => n.startsWith('onnx::MatMul_')));
    assert.equal(result.transposedViews.length, 7 * shape.layers + 1);
    assert.equal(result.tiedHead, undefined);
    assert.deepEqual(result.unresolved, []);
    assert.deepEqual(result.notes, []);
    assert.equal(assertMatchesOriginal(model, result.tensors, values), model.tensors.size);
    // The int64 head-split shapes stay what they are.
    const reshapes = result.tensors.filter((t) => t.name.startsWith('onnx::Reshape_'));
    assert.equal(reshapes.length, shape.layers);
    assert.ok(reshapes.every((t) => t.dtype === 'I64' && !t.strides));
    const roles = mapTensorRoles(result.tensors.map((t) => t.name), { family: 'llama' });
    assert.equal(roles.get('model.layers.1.mlp.down_proj.weight')?.role, 'down');
    assert.equal(roles.get('model.layers.1.mlp.down_proj.weight')?.layer, 1);
  });

  it('leaves out a tied LM head (the embedding transposed, checked on values), as the original stores it once', async () => {
    const model = makeSyntheticLlama({ ...shape, seed: 'onnx-roles-tied', tieEmbeddings: true });
    const { result, values } = await assign(encodeTorchOnnxExport(model), 'llama');
    assert.ok(result.tiedHead?.startsWith('onnx::MatMul_'));
    assert.ok(!result.tensors.some((t) => t.name === 'lm_head.weight'));
    assert.equal(assertMatchesOriginal(model, result.tensors, values), model.tensors.size);
  });

  it('keeps an untied LM head that merely has the embedding shape', async () => {
    const model = makeSyntheticLlama({ ...shape, seed: 'onnx-roles-untied-2' });
    const { result } = await assign(encodeTorchOnnxExport(model), 'llama');
    assert.ok(result.tensors.some((t) => t.name === 'lm_head.weight' && t.strides !== undefined));
  });

  it('F16 exports map the same way', async () => {
    const model = makeSyntheticLlama({ ...shape, seed: 'onnx-roles-f16' });
    const { result } = await assign(encodeTorchOnnxExport(model, { dtype: 'F16' }), 'llama');
    assert.equal(result.renamed.size, 7 * shape.layers + 1);
    assert.ok(result.tensors.filter((t) => t.name.endsWith('.weight')).every((t) => t.dtype === 'F16'));
  });

  it('falls back to the stored names, and says so, when node names carry no module path', async () => {
    const model = makeSyntheticLlama({ ...shape, seed: 'onnx-roles-anonymous' });
    const { result } = await assign(encodeTorchOnnxExport(model, { anonymousGraph: true }), 'llama');
    assert.equal(result.renamed.size, 0);
    assert.equal(result.transposedViews.length, 0);
    assert.equal(result.unresolved.length, 7 * shape.layers + 1);
    assert.equal(result.notes.length, 1);
    assert.match(result.notes[0]!, /15 initializer\(s\) \(onnx::MatMul_\d+, .*\) keep anonymous names because their consumer nodes carry no module path/);
    // Named parameters (embedding, norm gains) keep their roles as before.
    assert.ok(result.tensors.some((t) => t.name === 'model.layers.0.input_layernorm.weight'));
  });
});

describe('ONNX graph roles: hand-made graphs', () => {
  const matrix = (rows: number, cols: number, seed: number) => Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(seed * 100 + i));

  it('honours Gemm transB, follows a Transpose node, flags a Llama-named weight fed straight to MatMul, and aliases shared gains', async () => {
    const upStored = matrix(6, 4, 1); // Gemm transB=1: stored [out, in] = [6, 4], the Linear layout
    const qStored = matrix(4, 4, 2); // Transpose(perm 1,0) then MatMul: stored [out, in]
    const kStored = matrix(4, 2, 3); // fed to MatMul as B: stored [in, out] = [4, 2] although named like a Linear
    const gain = Float32Array.from([1, 2, 3, 4]);
    const bytes = onnxModelBytes(
      [
        onnxNode('Mul', '/model/layers.0/input_layernorm/Mul_1', ['model.layers.0.input_layernorm.weight', 'x'], ['n0']),
        onnxNode('Transpose', '/model/layers.0/self_attn/q_proj/Transpose', ['model.layers.0.self_attn.q_proj.weight'], ['qT'], [intsAttribute('perm', [1, 0])]),
        onnxNode('MatMul', '/model/layers.0/self_attn/q_proj/MatMul', ['n0', 'qT'], ['q']),
        onnxNode('MatMul', '/model/layers.0/self_attn/k_proj/MatMul', ['n0', 'model.layers.0.self_attn.k_proj.weight'], ['k']),
        onnxNode('Mul', '/model/layers.1/input_layernorm/Mul_1', ['model.layers.0.input_layernorm.weight', 'q'], ['n1']),
        onnxNode('Gemm', '/model/layers.1/mlp/up_proj/Gemm', ['n1', 'onnx::Gemm_77'], ['u'], [intAttribute('transB', 1)]),
      ],
      [
        floatTensorProto('model.layers.0.input_layernorm.weight', [4], gain),
        floatTensorProto('model.layers.0.self_attn.q_proj.weight', [4, 4], qStored),
        floatTensorProto('model.layers.0.self_attn.k_proj.weight', [4, 2], kStored),
        floatTensorProto('onnx::Gemm_77', [6, 4], upStored),
      ],
    );
    const { result, values } = await assign(bytes, 'llama');
    assert.deepEqual([...result.renamed], [['onnx::Gemm_77', 'model.layers.1.mlp.up_proj.weight']]);
    assert.deepEqual([...result.aliases], [['model.layers.1.input_layernorm.weight', 'model.layers.0.input_layernorm.weight']]);
    assert.deepEqual(result.transposedViews, ['model.layers.0.self_attn.k_proj.weight']);
    const byName = new Map(result.tensors.map((t) => [t.name, t]));
    assert.deepEqual(byName.get('model.layers.1.mlp.up_proj.weight')?.shape, [6, 4]);
    assert.deepEqual(byName.get('model.layers.0.self_attn.q_proj.weight')?.shape, [4, 4]);
    assert.equal(byName.get('model.layers.0.self_attn.q_proj.weight')?.strides, undefined);
    assert.deepEqual(byName.get('model.layers.0.self_attn.k_proj.weight')?.shape, [2, 4]);
    // Row r of the view is column r of the stored [4, 2] matrix.
    const k = values.get('model.layers.0.self_attn.k_proj.weight')!;
    for (let r = 0; r < 2; r++) for (let c = 0; c < 4; c++) assert.equal(k[r * 4 + c], kStored[c * 2 + r]);
    assertSameValues(values.get('model.layers.1.input_layernorm.weight'), gain, 'alias');
  });

  it('does not rename onto a name the file already uses, and says so', async () => {
    const bytes = onnxModelBytes(
      [
        onnxNode('MatMul', '/model/layers.0/mlp/up_proj/MatMul', ['x', 'onnx::MatMul_5'], ['a']),
        onnxNode('Mul', '/model/layers.0/mlp/up_proj/Mul', ['model.layers.0.mlp.up_proj.weight', 'a'], ['b']),
      ],
      [floatTensorProto('onnx::MatMul_5', [4, 6], matrix(4, 6, 4)), floatTensorProto('model.layers.0.mlp.up_proj.weight', [6, 4], matrix(6, 4, 5))],
    );
    const { result } = await assign(bytes, 'llama');
    assert.equal(result.renamed.size, 0);
    assert.ok(result.tensors.some((t) => t.name === 'onnx::MatMul_5'));
    assert.match(result.notes.join('\n'), /not renamed because the name their node implies is taken \(onnx::MatMul_5 -> model\.layers\.0\.mlp\.up_proj\.weight\)/);
  });
});

describe('ONNX graph roles: the onnxruntime GPT-2 export (zoo)', () => {
  for (const variant of ['fp32', 'fp16']) {
    it(`${variant}: the anonymous LM head is the tied embedding; deduplicated LayerNorm gains get their layers back`, async () => {
      const onnx = await readOnnxModel(zooPath(`ort-tiny-random-gpt2-${variant}`, 'past.onnx'));
      const result = await assignOnnxGraphRoles(onnx, { family: 'gpt2', openSource: onnxSourceOpener(onnx) });
      assert.equal(result.tiedHead, 'onnx::MatMul_1400');
      assert.deepEqual(result.unresolved, []);
      assert.deepEqual(result.notes, []);
      assert.deepEqual([...result.renamed], [['onnx::MatMul_1400', 'lm_head.weight']]);
      assert.deepEqual(result.transposedViews, ['lm_head.weight']);
      // The optimizer merged equal LayerNorm parameters into h.0.ln_1; its fused nodes' outputs keep
      // torch's value names (/transformer/h.1/ln_1/Add_1_output_0), which name the layer each serves.
      assert.deepEqual([...result.aliases.keys()].sort(), [
        'transformer.h.1.ln_1.bias', 'transformer.h.1.ln_1.weight', 'transformer.h.2.ln_1.bias', 'transformer.h.2.ln_1.weight',
        'transformer.h.3.ln_1.bias', 'transformer.h.3.ln_1.weight', 'transformer.h.4.ln_1.bias', 'transformer.h.4.ln_1.weight',
        'transformer.ln_f.bias', 'transformer.ln_f.weight',
      ]);
      assert.equal(result.tensors.length, 26 + 10);
      const roles = mapTensorRoles(result.tensors.map((t) => t.name), { family: 'gpt2' });
      assert.ok([...roles.values()].every((r) => r.role !== 'other'), 'every tensor has a role');
    });
  }
});

describe('ONNX graph roles: exports of real models against their safetensors originals', function () {
  this.timeout(120_000);

  it('stories260K (Llama, zoo): 47 of 47 tensors match the original by name, shape and value (12 before)', async () => {
    const fromGguf = await loadModelTensors(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const originalFolder = path.join(root, 'stories-safetensors');
    await writeModelFolder(fromGguf, originalFolder, { format: 'safetensors' });
    const original = await loadModelTensors(originalFolder);
    const exportFolder = path.join(root, 'stories-onnx');
    await writeOnnxExportFolder(original, exportFolder);
    const opened = await openModel(exportFolder);
    try {
      // What the reader alone names as the original does: embedding and norm gains.
      const onnx = await readOnnxModel(path.join(exportFolder, 'model.onnx'));
      assert.equal(onnx.tensors.filter((t) => original.tensors.has(t.name)).length, 12);
      assert.deepEqual(opened.problems, []);
      const values = new Map<string, Float32Array>();
      for (const t of opened.tensors) values.set(t.name, await opened.store.readAll(t.name));
      // The LM head of stories260K is tied (GGUF stores it twice, with equal values); the export folds it away.
      assertSameValues(original.tensors.get('lm_head.weight')!.data, original.tensors.get('model.embed_tokens.weight')!.data, 'tied head');
      assert.equal(assertMatchesOriginal(original, opened.tensors, values, new Set(['lm_head.weight'])), 47);
      assert.ok(!opened.tensors.some((t) => t.name === 'lm_head.weight'));
    } finally {
      await opened.close();
    }
  });

  it('tiny-gpt2 (zoo): Conv1D weights through Gemm keep their [in, out] layout; 28 of 28 match', async () => {
    const original = await loadModelTensors(zooPath('tiny-gpt2'));
    const exportFolder = path.join(root, 'gpt2-onnx');
    await writeOnnxExportFolder(original, exportFolder);
    const opened = await openModel(exportFolder);
    try {
      assert.deepEqual(opened.problems, []);
      assert.ok(opened.tensors.every((t) => t.strides === undefined), 'no GPT-2 tensor needs a view');
      const values = new Map<string, Float32Array>();
      for (const t of opened.tensors) values.set(t.name, await opened.store.readAll(t.name));
      assert.equal(assertMatchesOriginal(original, opened.tensors, values), 28);
    } finally {
      await opened.close();
    }
  });
});
