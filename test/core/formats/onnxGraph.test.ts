// ONNX reader: the main graph's nodes as role mapping needs them (op, name, inputs, outputs, Gemm
// transB, Transpose perm), and hostile graphs (too many nodes, huge names) failing with clear errors.
import { strict as assert } from 'node:assert';
import { ModelFormatError } from '../../../server/src/core/errors';
import { BufferSource } from '../../../server/src/core/io/byteSource';
import { MAX_GRAPH_NODES, MAX_NODE_STRING_BYTES, parseOnnxModel, readOnnxModel } from '../../../server/src/core/formats/onnx';
import { ProtoBytes } from '../../fixtures/hostileInputs';
import { floatTensorProto, intAttribute, intsAttribute, onnxModelBytes, onnxNode } from '../../fixtures/onnxExport';
import { zooPath } from '../../support/zoo';

const HOSTILE = '/nowhere/hostile-graph.onnx';

async function rejectsNaming(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await assert.rejects(parseOnnxModel(new BufferSource(HOSTILE, bytes)), (err: unknown) => {
    assert.ok(err instanceof ModelFormatError, `expected a ModelFormatError, got ${String(err)}`);
    assert.ok(err.message.startsWith(HOSTILE), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('ONNX graph nodes', () => {
  it('keeps op type, name, inputs (with empty optional slots), outputs, Gemm transB and Transpose perm', async () => {
    const bytes = onnxModelBytes(
      [
        onnxNode('Transpose', '/model/layers.0/self_attn/q_proj/Transpose', ['w'], ['wT'], [intsAttribute('perm', [1, 0])]),
        onnxNode('Gemm', '/model/layers.0/mlp/up_proj/Gemm', ['x', 'wT', ''], ['y'], [intAttribute('transB', 1)]),
      ],
      [floatTensorProto('w', [2, 2], Float32Array.from([1, 2, 3, 4]))],
    );
    const model = await parseOnnxModel(new BufferSource('/x/model.onnx', bytes));
    assert.deepEqual(model.nodes, [
      { opType: 'Transpose', name: '/model/layers.0/self_attn/q_proj/Transpose', inputs: ['w'], outputs: ['wT'], perm: [1, 0] },
      { opType: 'Gemm', name: '/model/layers.0/mlp/up_proj/Gemm', inputs: ['x', 'wT', ''], outputs: ['y'], transB: 1 },
    ]);
  });

  it('reads the 39 nodes of the zoo onnxruntime GPT-2 export, LM head last', async () => {
    const model = await readOnnxModel(zooPath('ort-tiny-random-gpt2-fp32', 'past.onnx'));
    assert.equal(model.nodes.length, 39);
    assert.deepEqual(model.nodes.at(-1), { opType: 'MatMul', name: '/lm_head/MatMul', inputs: ['/transformer/ln_f/Add_1_output_0', 'onnx::MatMul_1400'], outputs: ['logits'] });
  });

  it('keeps no nodes of subgraphs (Silero VAD: all nodes inside If branches but the If itself)', async () => {
    const model = await readOnnxModel(zooPath('silero-vad-v5', 'silero_vad.onnx'));
    assert.ok(model.nodes.length < 20, `${model.nodes.length} main-graph nodes`);
    assert.ok(model.nodes.some((n) => n.opType === 'If'));
  });
});

describe('ONNX graph nodes: hostile graphs', function () {
  this.timeout(60_000);

  it(`fails, naming the file, on more than ${MAX_GRAPH_NODES} nodes`, async () => {
    // Each node is the 4 bytes `0a 02 22 00` (a NodeProto holding an empty op_type): 800 KB of graph.
    const node = Uint8Array.from([0x0a, 0x02, 0x22, 0x00]);
    const graphBody = new Uint8Array((MAX_GRAPH_NODES + 1) * node.length);
    for (let i = 0; i < MAX_GRAPH_NODES + 1; i++) graphBody.set(node, i * node.length);
    const bytes = new ProtoBytes().varintField(1, 8).bytesField(7, graphBody).finish();
    await rejectsNaming(bytes, new RegExp(`the graph has more than ${MAX_GRAPH_NODES} nodes`));
  });

  it('fails, naming the file, on a node name longer than the per-string limit', async () => {
    const longName = `/model/${'x'.repeat(MAX_NODE_STRING_BYTES)}/MatMul`;
    const bytes = onnxModelBytes([onnxNode('MatMul', longName, ['a', 'b'], ['c'])], []);
    await rejectsNaming(bytes, new RegExp(`NodeProto.name is ${longName.length} bytes long \\(limit ${MAX_NODE_STRING_BYTES}\\)`));
  });

  it('fails on an input name longer than the limit, too', async () => {
    const bytes = onnxModelBytes([onnxNode('Add', 'n', ['i'.repeat(MAX_NODE_STRING_BYTES + 1)], ['o'])], []);
    await rejectsNaming(bytes, /NodeProto.input is \d+ bytes long/);
  });
});
