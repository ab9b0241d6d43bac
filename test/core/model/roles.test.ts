import { strict as assert } from 'node:assert';
import { closeSync, openSync, readSync } from 'node:fs';
import { readGgufFile } from '../../../server/src/core/formats/gguf';
import { mapTensorRole, mapTensorRoles, type TensorRole } from '../../../server/src/core/model/roles';
import { zooPath } from '../../support/zoo';

/** Tensor names and shapes from a safetensors header (8-byte LE length + JSON), read inline. */
function safetensorsHeader(file: string): Record<string, { shape: number[] }> {
  const fd = openSync(file, 'r');
  try {
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const length = Number(lengthBytes.readBigUInt64LE(0));
    assert.ok(length < 10_000_000);
    const json = Buffer.alloc(length);
    readSync(fd, json, 0, length, 8);
    const header = JSON.parse(json.toString('utf8')) as Record<string, { shape: number[] }>;
    delete header['__metadata__'];
    return header;
  } finally {
    closeSync(fd);
  }
}

/** role/layer/part/transposed/fusedLayout/... as a compact string, for readable table tests. */
function describe_(role: TensorRole): string {
  const bits: string[] = [role.role];
  if (role.layer !== undefined) bits.push(`L${role.layer}`);
  if (role.part === 'bias') bits.push('bias');
  if (role.transposed) bits.push('T');
  if (role.fusedLayout) bits.push(role.fusedLayout);
  if (role.stack) bits.push(role.stack);
  if (role.crossAttention) bits.push('cross');
  if (role.expert !== undefined) bits.push(`E${role.expert}`);
  if (role.expertProjection) bits.push(role.expertProjection);
  if (role.detail) bits.push(role.detail);
  if (role.lora) bits.push(`lora${role.lora.matrix}:${role.lora.target}`);
  return bits.join(' ');
}

function expectRoles(table: Array<[string, string]>, options = {}): void {
  for (const [name, expected] of table) assert.equal(describe_(mapTensorRole(name, options)), expected, name);
}

describe('mapTensorRole', () => {
  it('maps every tensor of the real tiny-gpt2 safetensors file (GPT-2 Conv1D, transposed)', () => {
    const header = safetensorsHeader(zooPath('tiny-gpt2', 'model.safetensors'));
    const names = Object.keys(header);
    assert.equal(names.length, 28);
    const expected: Record<string, string> = {
      'transformer.wte.weight': 'embed',
      'transformer.wpe.weight': 'pos_embed',
      'transformer.ln_f.weight': 'final_norm',
      'transformer.ln_f.bias': 'final_norm bias',
    };
    for (const layer of [0, 1]) {
      Object.assign(expected, {
        [`transformer.h.${layer}.ln_1.weight`]: `attn_norm L${layer}`,
        [`transformer.h.${layer}.ln_1.bias`]: `attn_norm L${layer} bias`,
        [`transformer.h.${layer}.attn.c_attn.weight`]: `qkv L${layer} T qkv`,
        [`transformer.h.${layer}.attn.c_attn.bias`]: `qkv L${layer} bias T qkv`,
        [`transformer.h.${layer}.attn.c_proj.weight`]: `o L${layer} T`,
        [`transformer.h.${layer}.attn.c_proj.bias`]: `o L${layer} bias T`,
        [`transformer.h.${layer}.ln_2.weight`]: `mlp_norm L${layer}`,
        [`transformer.h.${layer}.ln_2.bias`]: `mlp_norm L${layer} bias`,
        [`transformer.h.${layer}.mlp.c_fc.weight`]: `up L${layer} T`,
        [`transformer.h.${layer}.mlp.c_fc.bias`]: `up L${layer} bias T`,
        [`transformer.h.${layer}.mlp.c_proj.weight`]: `down L${layer} T`,
        [`transformer.h.${layer}.mlp.c_proj.bias`]: `down L${layer} bias T`,
      });
    }
    assert.deepEqual(Object.fromEntries(names.map((n) => [n, describe_(mapTensorRole(n))])), expected);
    // Conv1D really is [in, out]: c_fc maps n_embd 2 -> 8, stored as [2, 8].
    assert.deepEqual(header['transformer.h.0.mlp.c_fc.weight']!.shape, [2, 8]);
  });

  it('maps every tensor of the real stories260K.gguf (llama.cpp names)', async () => {
    const gguf = await readGgufFile(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const names = gguf.tensors.map((t) => t.name);
    assert.equal(names.length, 48);
    const roles = mapTensorRoles(names);
    const counts = new Map<string, number>();
    for (const role of roles.values()) {
      assert.notEqual(role.role, 'other', describe_(role));
      assert.equal(role.transposed, false);
      counts.set(role.role, (counts.get(role.role) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), {
      embed: 1, final_norm: 1, lm_head: 1, q: 5, k: 5, v: 5, o: 5, attn_norm: 5, gate: 5, down: 5, up: 5, mlp_norm: 5,
    });
    expectRoles([
      ['token_embd.weight', 'embed'],
      ['output_norm.weight', 'final_norm'],
      ['output.weight', 'lm_head'],
      ['blk.0.attn_norm.weight', 'attn_norm L0'],
      ['blk.0.attn_q.weight', 'q L0'],
      ['blk.0.attn_k.weight', 'k L0'],
      ['blk.0.attn_v.weight', 'v L0'],
      ['blk.0.attn_output.weight', 'o L0'],
      ['blk.0.ffn_norm.weight', 'mlp_norm L0'],
      ['blk.0.ffn_gate.weight', 'gate L0'],
      ['blk.0.ffn_up.weight', 'up L0'],
      ['blk.4.ffn_down.weight', 'down L4'],
    ]);
  });

  it('maps no tensor of a non-transformer (Silero VAD) to a transformer role', () => {
    for (const name of Object.keys(safetensorsHeader(zooPath('silero-vad-16k-tinygrad', 'silero_vad_16k.safetensors')))) {
      assert.equal(mapTensorRole(name).role, 'other', name);
    }
  });

  it('maps GPT-2 names without the transformer. prefix, the lm_head and the attention-mask buffers', () => {
    expectRoles([
      ['wte.weight', 'embed'],
      ['h.3.attn.c_attn.weight', 'qkv L3 T qkv'],
      ['lm_head.weight', 'lm_head'],
      ['transformer.h.0.attn.bias', 'other L0 bias attention_mask_buffer'],
      ['transformer.h.0.attn.masked_bias', 'other L0 attention_mask_buffer'],
      ['h.1.attn.masked_bias', 'other L1 attention_mask_buffer'],
    ]);
  });

  it('knows GPT-BigCode and GPT-Neo use nn.Linear under GPT-2 names when told the family', () => {
    assert.equal(mapTensorRole('transformer.h.0.attn.c_attn.weight', { family: 'gpt_bigcode' }).transposed, false);
    assert.equal(mapTensorRole('transformer.h.0.mlp.c_fc.weight', { family: 'gpt_neo' }).transposed, false);
    assert.equal(mapTensorRole('transformer.h.0.mlp.c_fc.weight', { family: 'gpt2' }).transposed, true);
  });

  it('maps Llama / Mistral / Qwen2 / Gemma names, with model., PEFT and multimodal prefixes', () => {
    expectRoles([
      ['model.embed_tokens.weight', 'embed'],
      ['model.norm.weight', 'final_norm'],
      ['lm_head.weight', 'lm_head'],
      ['model.layers.0.input_layernorm.weight', 'attn_norm L0'],
      ['model.layers.0.self_attn.q_proj.weight', 'q L0'],
      ['model.layers.0.self_attn.q_proj.bias', 'q L0 bias'],
      ['model.layers.0.self_attn.k_proj.weight', 'k L0'],
      ['model.layers.0.self_attn.v_proj.weight', 'v L0'],
      ['model.layers.12.self_attn.o_proj.weight', 'o L12'],
      ['model.layers.0.post_attention_layernorm.weight', 'mlp_norm L0'],
      ['model.layers.0.mlp.gate_proj.weight', 'gate L0'],
      ['model.layers.0.mlp.up_proj.weight', 'up L0'],
      ['model.layers.0.mlp.down_proj.weight', 'down L0'],
      ['model.layers.0.self_attn.rotary_emb.inv_freq', 'other L0 rotary_inv_freq'],
      ['model.layers.0.self_attn.q_norm.weight', 'other L0 qk_norm'],
      ['base_model.model.model.layers.3.self_attn.q_proj.weight', 'q L3'],
      ['base_model.model.model.layers.3.self_attn.q_proj.base_layer.weight', 'q L3'],
      ['base_model.model.model.layers.3.self_attn.v_proj.lora_A.weight', 'other L3 loraA:v'],
      ['base_model.model.model.layers.3.self_attn.v_proj.lora_B.default.weight', 'other L3 loraB:v'],
      ['base_model.model.lm_head.weight', 'lm_head'],
      ['language_model.model.layers.1.mlp.down_proj.weight', 'down L1'],
      ['language_model.lm_head.weight', 'lm_head'],
      ['model.language_model.layers.2.self_attn.k_proj.weight', 'k L2'],
      ['model.language_model.embed_tokens.weight', 'embed'],
      ['module.model.layers.0.mlp.up_proj.weight', 'up L0'],
      ['_orig_mod.model.layers.0.mlp.up_proj.weight', 'up L0'],
      // Vision towers reuse decoder-like names; they must never count as the language model's q.
      ['vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight', 'other vision'],
      ['model.vision_tower.encoder.layers.0.self_attn.q_proj.weight', 'other vision'],
      ['multi_modal_projector.linear_1.weight', 'other vision'],
    ]);
  });

  it('maps Phi-3 fused qkv_proj / gate_up_proj and MoE experts', () => {
    expectRoles([
      ['model.layers.0.self_attn.qkv_proj.weight', 'qkv L0 qkv'],
      ['model.layers.0.mlp.gate_up_proj.weight', 'gate_up L0 gate_up'],
      ['model.layers.1.block_sparse_moe.experts.7.w1.weight', 'experts L1 E7 gate'],
      ['model.layers.1.block_sparse_moe.experts.7.w2.weight', 'experts L1 E7 down'],
      ['model.layers.1.block_sparse_moe.experts.7.w3.weight', 'experts L1 E7 up'],
      ['model.layers.1.block_sparse_moe.gate.weight', 'other L1 router'],
      ['model.layers.2.mlp.experts.15.gate_proj.weight', 'experts L2 E15 gate'],
      ['model.layers.2.mlp.gate.weight', 'other L2 router'],
      ['model.layers.2.mlp.shared_expert.up_proj.weight', 'up L2 shared_expert'],
      ['model.layers.2.mlp.experts.gate_up_proj', 'experts L2 gate_up gate_up'],
      ['model.layers.2.mlp.experts.down_proj', 'experts L2 down'],
    ]);
  });

  it('maps GPT-NeoX, Falcon and BLOOM names', () => {
    expectRoles([
      ['gpt_neox.embed_in.weight', 'embed'],
      ['gpt_neox.layers.0.input_layernorm.weight', 'attn_norm L0'],
      ['gpt_neox.layers.0.attention.query_key_value.weight', 'qkv L0 qkv_grouped'],
      ['gpt_neox.layers.0.attention.dense.weight', 'o L0'],
      ['gpt_neox.layers.0.post_attention_layernorm.weight', 'mlp_norm L0'],
      ['gpt_neox.layers.0.mlp.dense_h_to_4h.weight', 'up L0'],
      ['gpt_neox.layers.0.mlp.dense_4h_to_h.bias', 'down L0 bias'],
      ['gpt_neox.layers.0.attention.bias', 'other L0 bias attention_mask_buffer'],
      ['gpt_neox.final_layer_norm.weight', 'final_norm'],
      ['embed_out.weight', 'lm_head'],
      ['transformer.word_embeddings.weight', 'embed'],
      ['transformer.h.0.self_attention.query_key_value.weight', 'qkv L0 qkv_grouped'],
      ['transformer.h.0.self_attention.dense.weight', 'o L0'],
      ['transformer.h.0.input_layernorm.weight', 'attn_norm L0'],
      ['transformer.h.0.ln_attn.weight', 'attn_norm L0'],
      ['transformer.h.0.ln_mlp.weight', 'mlp_norm L0'],
      ['transformer.h.0.mlp.dense_h_to_4h.weight', 'up L0'],
      ['transformer.h.0.mlp.dense_4h_to_h.weight', 'down L0'],
      ['transformer.ln_f.weight', 'final_norm'],
      ['h.5.self_attention.query_key_value.bias', 'qkv L5 bias qkv_grouped'],
      ['h.5.post_attention_layernorm.weight', 'mlp_norm L5'],
      ['word_embeddings.weight', 'embed'],
      ['word_embeddings_layernorm.weight', 'other embed_norm'],
      ['ln_f.bias', 'final_norm bias'],
    ]);
  });

  it('maps BERT names (with and without bert. prefix, TF-era gamma/beta)', () => {
    expectRoles([
      ['embeddings.word_embeddings.weight', 'embed'],
      ['bert.embeddings.word_embeddings.weight', 'embed'],
      ['embeddings.position_embeddings.weight', 'pos_embed'],
      ['embeddings.token_type_embeddings.weight', 'other token_type_embed'],
      ['embeddings.LayerNorm.weight', 'other embed_norm'],
      ['embeddings.position_ids', 'other position_ids_buffer'],
      ['encoder.layer.0.attention.self.query.weight', 'q L0'],
      ['encoder.layer.0.attention.self.key.bias', 'k L0 bias'],
      ['encoder.layer.0.attention.self.value.weight', 'v L0'],
      ['encoder.layer.0.attention.output.dense.weight', 'o L0'],
      ['encoder.layer.0.attention.output.LayerNorm.weight', 'attn_norm L0'],
      ['encoder.layer.0.attention.output.LayerNorm.gamma', 'attn_norm L0'],
      ['encoder.layer.0.attention.output.LayerNorm.beta', 'attn_norm L0 bias'],
      ['encoder.layer.5.intermediate.dense.weight', 'up L5'],
      ['encoder.layer.5.output.dense.weight', 'down L5'],
      ['encoder.layer.5.output.LayerNorm.weight', 'mlp_norm L5'],
      ['bert.pooler.dense.weight', 'other pooler'],
      ['cls.predictions.decoder.weight', 'lm_head'],
    ]);
  });

  it('maps T5 encoder and decoder stacks, cross-attention and gated FFN', () => {
    expectRoles([
      ['shared.weight', 'embed'],
      ['encoder.embed_tokens.weight', 'embed encoder'],
      ['encoder.block.0.layer.0.SelfAttention.q.weight', 'q L0 encoder'],
      ['encoder.block.0.layer.0.SelfAttention.k.weight', 'k L0 encoder'],
      ['encoder.block.0.layer.0.SelfAttention.v.weight', 'v L0 encoder'],
      ['encoder.block.0.layer.0.SelfAttention.o.weight', 'o L0 encoder'],
      ['encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', 'other L0 encoder relative_attention_bias'],
      ['encoder.block.0.layer.0.layer_norm.weight', 'attn_norm L0 encoder'],
      ['encoder.block.0.layer.1.DenseReluDense.wi.weight', 'up L0 encoder'],
      ['encoder.block.0.layer.1.DenseReluDense.wi_0.weight', 'gate L0 encoder'],
      ['encoder.block.0.layer.1.DenseReluDense.wi_1.weight', 'up L0 encoder'],
      ['encoder.block.0.layer.1.DenseReluDense.wo.weight', 'down L0 encoder'],
      ['encoder.block.0.layer.1.layer_norm.weight', 'mlp_norm L0 encoder'],
      ['encoder.final_layer_norm.weight', 'final_norm encoder'],
      ['decoder.block.2.layer.0.SelfAttention.q.weight', 'q L2 decoder'],
      ['decoder.block.2.layer.1.EncDecAttention.k.weight', 'k L2 decoder cross'],
      ['decoder.block.2.layer.1.layer_norm.weight', 'other L2 decoder cross_attn_norm'],
      ['decoder.block.2.layer.2.DenseReluDense.wo.weight', 'down L2 decoder'],
      ['decoder.block.2.layer.2.layer_norm.weight', 'mlp_norm L2 decoder'],
      ['decoder.final_layer_norm.weight', 'final_norm decoder'],
      ['lm_head.weight', 'lm_head'],
    ]);
  });

  it('maps more GGUF names: fused qkv, stacked experts, T5 enc/dec, sandwich norms', () => {
    expectRoles([
      ['blk.0.attn_qkv.weight', 'qkv L0 qkv'],
      ['blk.0.attn_qkv.bias', 'qkv L0 bias qkv'],
      ['blk.3.ffn_gate_exps.weight', 'experts L3 gate'],
      ['blk.3.ffn_up_exps.weight', 'experts L3 up'],
      ['blk.3.ffn_down_exps.weight', 'experts L3 down'],
      ['blk.3.ffn_gate_inp.weight', 'other L3 router'],
      ['blk.3.ffn_up_shexp.weight', 'up L3 shared_expert'],
      ['blk.0.post_attention_norm.weight', 'other L0 post_attn_norm'],
      ['blk.0.attn_output_norm.weight', 'attn_norm L0'],
      ['blk.0.layer_output_norm.weight', 'mlp_norm L0'],
      ['position_embd.weight', 'pos_embed'],
      ['token_embd_norm.weight', 'other embed_norm'],
      ['enc.blk.1.attn_q.weight', 'q L1 encoder'],
      ['dec.blk.1.cross_attn_k.weight', 'k L1 decoder cross'],
      ['enc.output_norm.weight', 'final_norm encoder'],
      ['rope_freqs.weight', 'other rotary_inv_freq'],
    ]);
  });

  it('maps Meta original, OPT/BART, GPT-J and DistilBERT names', () => {
    expectRoles([
      ['tok_embeddings.weight', 'embed'],
      ['layers.0.attention.wq.weight', 'q L0'],
      ['layers.0.attention.wo.weight', 'o L0'],
      ['layers.0.feed_forward.w1.weight', 'gate L0'],
      ['layers.0.feed_forward.w3.weight', 'up L0'],
      ['layers.0.feed_forward.w2.weight', 'down L0'],
      ['layers.0.attention_norm.weight', 'attn_norm L0'],
      ['layers.0.ffn_norm.weight', 'mlp_norm L0'],
      ['norm.weight', 'final_norm'],
      ['output.weight', 'lm_head'],
      ['model.decoder.layers.0.self_attn.out_proj.weight', 'o L0 decoder'],
      ['model.decoder.layers.0.self_attn_layer_norm.weight', 'attn_norm L0 decoder'],
      ['model.decoder.layers.0.final_layer_norm.weight', 'mlp_norm L0 decoder'],
      ['model.decoder.layers.0.fc1.weight', 'up L0 decoder'],
      ['model.decoder.layers.0.encoder_attn.q_proj.weight', 'q L0 decoder cross'],
      ['model.decoder.embed_positions.weight', 'pos_embed decoder'],
      ['model.decoder.final_layer_norm.weight', 'final_norm decoder'],
      ['transformer.h.0.mlp.fc_in.weight', 'up L0'],
      ['transformer.h.0.attn.out_proj.weight', 'o L0'],
      ['distilbert.transformer.layer.0.attention.q_lin.weight', 'q L0'],
      ['distilbert.transformer.layer.0.ffn.lin2.weight', 'down L0'],
      ['distilbert.transformer.layer.0.output_layer_norm.weight', 'mlp_norm L0'],
    ]);
  });

  it('answers "other" for unknown, empty, huge and hostile names without throwing', () => {
    for (const name of ['', '.', '..', 'weight', 'bias', '__proto__.weight', 'constructor', 'layers.x.q_proj.weight', 'layers.99999999999.self_attn.q_proj.weight', 'a'.repeat(5000), 'model.layers.0.self_attn.q_proj.weight.extra']) {
      assert.equal(mapTensorRole(name).role, 'other', name.slice(0, 40));
    }
  });
});

describe('mapTensorRoles', () => {
  it('reads Gemma 2 sandwich norms: post_attention_layernorm is not the MLP norm when pre_feedforward_layernorm exists', () => {
    const gemma2 = mapTensorRoles([
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.0.pre_feedforward_layernorm.weight',
      'model.layers.0.post_feedforward_layernorm.weight',
    ]);
    assert.deepEqual([...gemma2.values()].map(describe_), ['attn_norm L0', 'other L0 post_attn_norm', 'mlp_norm L0', 'other L0 post_mlp_norm']);
    const llama = mapTensorRoles(['model.layers.0.post_attention_layernorm.weight']);
    assert.equal(llama.get('model.layers.0.post_attention_layernorm.weight')!.role, 'mlp_norm');
  });
});
