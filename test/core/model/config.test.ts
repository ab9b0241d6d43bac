import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelFormatError } from '../../../server/src/core/errors';
import { readGgufFile } from '../../../server/src/core/formats/gguf';
import {
  architectureFromConfig,
  architectureFromGgufMetadata,
  canonicalArchitectureHash,
  canonicalJson,
  MAX_METADATA_FILE_BYTES,
  normalizeConfig,
  readConfigJson,
  readModelConfig,
  type ArchitectureTuple,
} from '../../../server/src/core/model/config';
import { zooPath } from '../../support/zoo';

describe('model config normalization', () => {
  it('reads tiny-gpt2: n_embd 2, n_layer 2, vocab 50257, n_inner null -> 4 x n_embd', async () => {
    const config = await readModelConfig(zooPath('tiny-gpt2'));
    assert.ok(config);
    assert.deepEqual(config.problems, []);
    assert.deepEqual(config.architecture, {
      family: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      hiddenSize: 2,
      layers: 2,
      heads: 2,
      kvHeads: 2,
      intermediateSize: 8,
      vocabSize: 50257,
      maxPositions: 1024,
      normType: 'layernorm',
      positional: 'absolute',
      headDim: 1,
    });
  });

  it('reads the MiniLM configs (BERT, with and without `architectures`)', async () => {
    const l6 = (await readModelConfig(zooPath('minilm-all-L6-v2-meta', 'config.json')))!.architecture!;
    assert.equal(l6.family, 'bert');
    assert.deepEqual(l6.architectures, ['BertModel']);
    assert.deepEqual([l6.hiddenSize, l6.layers, l6.heads, l6.kvHeads, l6.intermediateSize, l6.vocabSize, l6.maxPositions, l6.headDim], [384, 6, 12, 12, 1536, 30522, 512, 32]);
    assert.equal(l6.normType, 'layernorm');
    assert.equal(l6.positional, 'absolute');
    const l12 = (await readModelConfig(zooPath('minilm-all-L12-v2-meta')))!.architecture!;
    assert.equal(l12.family, 'bert');
    assert.deepEqual(l12.architectures, []);
    assert.equal(l12.layers, 12);
    const paraphrase = (await readModelConfig(zooPath('minilm-paraphrase-L6-v2-meta')))!.architecture!;
    // Same architecture as all-MiniLM-L6-v2: the canonical hash must say so.
    assert.equal(canonicalArchitectureHash(paraphrase), canonicalArchitectureHash(l6));
    assert.notEqual(canonicalArchitectureHash(l12), canonicalArchitectureHash(l6));
  });

  it('takes dimensions from a nested text_config, not from the vision tower', () => {
    const tuple = architectureFromConfig({
      model_type: 'llava',
      architectures: ['LlavaForConditionalGeneration'],
      vision_config: { model_type: 'clip_vision_model', hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 },
      text_config: {
        model_type: 'llama',
        hidden_size: 4096,
        num_hidden_layers: 32,
        num_attention_heads: 32,
        num_key_value_heads: 8,
        intermediate_size: 11008,
        max_position_embeddings: 4096,
        rms_norm_eps: 1e-5,
      },
      vocab_size: 32064,
      tie_word_embeddings: false,
    });
    assert.ok(tuple);
    assert.equal(tuple.family, 'llama');
    assert.equal(tuple.multimodalFamily, 'llava');
    assert.deepEqual([tuple.hiddenSize, tuple.layers, tuple.heads, tuple.kvHeads, tuple.intermediateSize, tuple.vocabSize], [4096, 32, 32, 8, 11008, 32064]);
    assert.equal(tuple.normType, 'rmsnorm');
    assert.equal(tuple.positional, 'rope');
    assert.equal(tuple.tieWordEmbeddings, false);
  });

  it('reads rope theta from transformers 5 rope_parameters, per attention type', () => {
    const tuple = architectureFromConfig({
      model_type: 'gemma3',
      text_config: {
        model_type: 'gemma3_text',
        hidden_size: 640,
        num_hidden_layers: 18,
        num_attention_heads: 4,
        num_key_value_heads: 1,
        head_dim: 256,
        intermediate_size: 2048,
        vocab_size: 262144,
        rope_parameters: { sliding_attention: { rope_type: 'default', rope_theta: 10000 }, full_attention: { rope_type: 'default', rope_theta: 1000000 } },
      },
    })!;
    assert.equal(tuple.family, 'gemma3');
    assert.equal(tuple.ropeTheta, 1000000);
    assert.equal(tuple.headDim, 256);
    assert.equal(tuple.normType, 'rmsnorm');
    assert.equal(architectureFromConfig({ model_type: 'llama', hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, vocab_size: 10, rope_scaling: { rope_type: 'llama3', rope_theta: 500000 } })!.ropeTheta, 500000);
  });

  const cases: Array<{ name: string; config: Record<string, unknown>; expect: Partial<ArchitectureTuple> }> = [
    {
      name: 'Mistral (GQA, rope_theta, rms_norm_eps)',
      config: { model_type: 'mistral', hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 14336, vocab_size: 32000, rms_norm_eps: 1e-5, rope_theta: 1000000.0, max_position_embeddings: 32768, tie_word_embeddings: false },
      expect: { family: 'mistral', kvHeads: 8, ropeTheta: 1000000, normType: 'rmsnorm', positional: 'rope', headDim: 128, tieWordEmbeddings: false },
    },
    {
      name: 'Falcon-7B (multi_query -> 1 KV head, default 4x FFN)',
      config: { model_type: 'falcon', hidden_size: 4544, num_hidden_layers: 32, num_attention_heads: 71, multi_query: true, new_decoder_architecture: false, alibi: false, parallel_attn: true, vocab_size: 65024, layer_norm_epsilon: 1e-5 },
      expect: { family: 'falcon', kvHeads: 1, intermediateSize: 18176, normType: 'layernorm', positional: 'rope', headDim: 64 },
    },
    {
      name: 'Falcon-40B (new decoder architecture, num_kv_heads)',
      config: { model_type: 'falcon', hidden_size: 8192, num_hidden_layers: 60, num_attention_heads: 128, num_kv_heads: 8, new_decoder_architecture: true, vocab_size: 65024 },
      expect: { kvHeads: 8 },
    },
    {
      name: 'legacy RefinedWeb Falcon config (n_head_kv)',
      config: { model_type: 'RefinedWeb', hidden_size: 8192, n_layer: 60, n_head: 128, n_head_kv: 8, vocab_size: 65024 },
      expect: { family: 'falcon', kvHeads: 8, layers: 60, heads: 128 },
    },
    {
      name: 'BLOOM (n_embed alias, ALiBi)',
      config: { model_type: 'bloom', n_embed: 1024, n_layer: 24, num_attention_heads: 16, vocab_size: 250880, layer_norm_epsilon: 1e-5 },
      expect: { family: 'bloom', hiddenSize: 1024, intermediateSize: 4096, positional: 'alibi', normType: 'layernorm' },
    },
    {
      name: 'T5 (d_model, d_ff, num_layers, d_kv; T5LayerNorm is RMS)',
      config: { model_type: 't5', d_model: 512, d_ff: 2048, d_kv: 64, num_layers: 6, num_decoder_layers: 6, num_heads: 8, vocab_size: 32128, layer_norm_epsilon: 1e-6, relative_attention_num_buckets: 32 },
      expect: { family: 't5', hiddenSize: 512, intermediateSize: 2048, layers: 6, heads: 8, headDim: 64, normType: 'rmsnorm', positional: 'relative' },
    },
    {
      name: 'GPT-NeoX (rotary_emb_base)',
      config: { model_type: 'gpt_neox', hidden_size: 512, num_hidden_layers: 6, num_attention_heads: 8, intermediate_size: 2048, vocab_size: 50304, rotary_emb_base: 10000, rotary_pct: 0.25, layer_norm_eps: 1e-5 },
      expect: { family: 'gpt_neox', ropeTheta: 10000, positional: 'rope', normType: 'layernorm' },
    },
    {
      name: 'MPT (expansion_ratio, attn_config.alibi)',
      config: { model_type: 'mpt', d_model: 4096, n_layers: 32, n_heads: 32, expansion_ratio: 4, max_seq_len: 2048, vocab_size: 50432, attn_config: { alibi: true } },
      expect: { family: 'mpt', intermediateSize: 16384, positional: 'alibi', maxPositions: 2048 },
    },
    {
      name: 'Mixtral (experts)',
      config: { model_type: 'mixtral', hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 14336, vocab_size: 32000, num_local_experts: 8, rms_norm_eps: 1e-5 },
      expect: { expertCount: 8, kvHeads: 8 },
    },
    {
      name: 'family from the class name when model_type is missing',
      config: { architectures: ['GPTNeoXForCausalLM'], hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, vocab_size: 100 },
      expect: { family: 'gpt_neox', architectures: ['GPTNeoXForCausalLM'] },
    },
  ];
  for (const { name, config, expect } of cases) {
    it(`normalizes ${name}`, () => {
      const tuple = architectureFromConfig(config);
      assert.ok(tuple, name);
      for (const [key, value] of Object.entries(expect)) assert.deepEqual(tuple[key as keyof ArchitectureTuple], value, `${name}: ${key}`);
    });
  }

  it('derives nothing from missing or hostile dimensions, and says why', () => {
    const { architecture, problems } = normalizeConfig({ model_type: 'llama', hidden_size: 1e308, num_hidden_layers: -2, num_attention_heads: '32', vocab_size: 1.5, intermediate_size: 11008 });
    assert.equal(architecture, undefined);
    assert.match(problems.join('\n'), /hiddenSize, layers, heads, vocabSize/);
    assert.equal(architectureFromConfig({}), undefined);
    assert.equal(architectureFromConfig({ model_type: 'llama', hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 10 }), undefined, 'llama has no FFN default');
    assert.equal(architectureFromConfig({ model_type: 'x', text_config: 'not an object', hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 10, intermediate_size: 4 })!.family, 'x');
  });
});

describe('readConfigJson / readModelConfig on files', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-config-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('returns undefined for a folder without config.json', async () => {
    const empty = path.join(tmp, 'empty');
    await mkdir(empty);
    assert.equal(await readConfigJson(empty), undefined);
    assert.equal(await readModelConfig(empty), undefined);
  });

  it('reads a config with a BOM, and rejects invalid JSON and non-objects with a typed error', async () => {
    const folder = path.join(tmp, 'bom');
    await mkdir(folder);
    await writeFile(path.join(folder, 'config.json'), '\ufeff{"model_type":"gpt2"}');
    assert.deepEqual(await readConfigJson(folder), { model_type: 'gpt2' });
    await writeFile(path.join(folder, 'config.json'), '{"model_type": ');
    await assert.rejects(readConfigJson(folder), (err: unknown) => err instanceof ModelFormatError && /not valid JSON/.test(err.message));
    await writeFile(path.join(folder, 'config.json'), '[1,2]');
    await assert.rejects(readConfigJson(folder), ModelFormatError);
  });

  it('refuses a config.json larger than the metadata limit without reading it', async () => {
    const folder = path.join(tmp, 'huge');
    await mkdir(folder);
    await writeFile(path.join(folder, 'config.json'), Buffer.alloc(MAX_METADATA_FILE_BYTES + 1, 0x20));
    await assert.rejects(readConfigJson(folder), /metadata files over/);
  });

  it('refuses a config.json that links outside the model folder', async () => {
    const folder = path.join(tmp, 'escape');
    await mkdir(folder);
    await writeFile(path.join(tmp, 'secret.json'), '{"model_type":"stolen"}');
    await symlink(path.join(tmp, 'secret.json'), path.join(folder, 'config.json'));
    await assert.rejects(readConfigJson(folder), /links outside the model folder/);
  });
});

describe('architectureFromGgufMetadata', () => {
  it('reads stories260K.gguf (llama: dim 64, 5 layers, 8 heads / 4 KV heads, FFN 172, vocab 512)', async () => {
    const gguf = await readGgufFile(zooPath('tinyllamas-stories260K-gguf', 'stories260K.gguf'));
    const tuple = architectureFromGgufMetadata(gguf.metadata);
    assert.deepEqual(tuple, {
      family: 'llama',
      architectures: [],
      hiddenSize: 64,
      layers: 5,
      heads: 8,
      kvHeads: 4,
      intermediateSize: 172,
      vocabSize: 512,
      maxPositions: 2048,
      normType: 'rmsnorm',
      positional: 'rope',
      headDim: 8,
    });
    // The same architecture stated as a transformers config hashes the same.
    const fromConfig = architectureFromConfig({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 172,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      num_hidden_layers: 5,
      vocab_size: 512,
      rms_norm_eps: 1e-5,
      max_position_embeddings: 256,
      tie_word_embeddings: true,
    })!;
    assert.equal(canonicalArchitectureHash(tuple!), canonicalArchitectureHash(fromConfig));
  });

  it('maps llama.cpp architecture names, bigints, per-layer arrays and rope.freq_base', () => {
    const metadata = new Map<string, unknown>([
      ['general.architecture', 'gptneox'],
      ['gptneox.embedding_length', 512n],
      ['gptneox.block_count', 6],
      ['gptneox.attention.head_count', [8, 8, 8, 8, 8, 8]],
      ['gptneox.feed_forward_length', 2048],
      ['gptneox.context_length', 2048],
      ['gptneox.rope.freq_base', 10000],
      ['gptneox.attention.layer_norm_epsilon', 1e-5],
      ['tokenizer.ggml.tokens', ['a', 'b', 'c']],
    ]);
    const tuple = architectureFromGgufMetadata(metadata)!;
    assert.equal(tuple.family, 'gpt_neox');
    assert.equal(tuple.hiddenSize, 512);
    assert.equal(tuple.heads, 8);
    assert.equal(tuple.kvHeads, 8);
    assert.equal(tuple.vocabSize, 3);
    assert.equal(tuple.ropeTheta, 10000);
    assert.equal(tuple.normType, 'layernorm');
    assert.equal(architectureFromGgufMetadata(new Map([['general.architecture', 'llama']])), undefined);
    assert.equal(architectureFromGgufMetadata(new Map()), undefined);
    metadata.set('gptneox.attention.head_count', [8, 4]);
    assert.equal(architectureFromGgufMetadata(metadata), undefined, 'non-uniform per-layer head counts are not one number');
  });
});

describe('canonical architecture hash', () => {
  const base: ArchitectureTuple = {
    family: 'llama', architectures: ['LlamaForCausalLM'], hiddenSize: 64, layers: 5, heads: 8, kvHeads: 4,
    intermediateSize: 172, vocabSize: 512, normType: 'rmsnorm', positional: 'rope', headDim: 8,
  };

  it('writes canonical JSON: sorted keys, plain integers, no undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, d: { z: 1e21, y: 0.5 } }), '{"a":[true,null,"x"],"b":1,"d":{"y":0.5,"z":1000000000000000000000}}');
    assert.equal(canonicalJson(-0), '0');
    assert.throws(() => canonicalJson(Number.NaN), TypeError);
    assert.throws(() => canonicalJson({ f: () => 1 }), TypeError);
  });

  it('is a pure function of the shape-defining fields', () => {
    const reordered: ArchitectureTuple = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(base).reverse())));
    assert.equal(canonicalArchitectureHash(reordered), canonicalArchitectureHash(base));
    assert.match(canonicalArchitectureHash(base), /^[0-9a-f]{64}$/);
    // Context length, class names, rope theta and tying differ between containers of the same weights.
    assert.equal(canonicalArchitectureHash({ ...base, architectures: [], maxPositions: 4096, ropeTheta: 1e4, tieWordEmbeddings: true }), canonicalArchitectureHash(base));
    for (const change of [{ hiddenSize: 65 }, { layers: 6 }, { kvHeads: 8 }, { vocabSize: 513 }, { family: 'mistral' }, { normType: 'layernorm' as const }]) {
      assert.notEqual(canonicalArchitectureHash({ ...base, ...change }), canonicalArchitectureHash(base), JSON.stringify(change));
    }
  });
});
