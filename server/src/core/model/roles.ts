// Maps stored tensor names of every naming scheme (Hugging Face Llama/GPT-2/NeoX/Falcon/BLOOM/
// BERT/T5/..., Meta originals, GGUF, PEFT) to canonical roles, so signals never branch on names.

export type Role =
  | 'embed'
  | 'pos_embed'
  | 'lm_head'
  | 'final_norm'
  | 'attn_norm'
  | 'q'
  | 'k'
  | 'v'
  | 'o'
  | 'qkv'
  | 'mlp_norm'
  | 'gate'
  | 'up'
  | 'down'
  | 'gate_up'
  | 'experts'
  | 'other';

/**
 * How a fused tensor's output rows are ordered:
 * - 'qkv': three contiguous blocks [Q; K; V] (GPT-2 c_attn, Phi-3 qkv_proj, GGUF attn_qkv);
 * - 'qkv_grouped': one block per KV group, each holding that group's query heads, then its key
 *   head, then its value head (GPT-NeoX and BLOOM: one group per head; Falcon: kvHeads groups);
 * - 'gate_up': two contiguous blocks [gate; up] (Phi-3 gate_up_proj).
 */
export type FusedLayout = 'qkv' | 'qkv_grouped' | 'gate_up';

export interface TensorRole {
  role: Role;
  /** Block index, for per-layer tensors. */
  layer?: number;
  part: 'weight' | 'bias';
  /** Stored [in, out] (GPT-2 Conv1D) rather than PyTorch Linear's [out, in]. */
  transposed: boolean;
  fusedLayout?: FusedLayout;
  /** Encoder-decoder models (T5, BART): which stack the tensor belongs to. */
  stack?: 'encoder' | 'decoder';
  /** q/k/v/o of a decoder's cross-attention (T5 EncDecAttention, BART encoder_attn). */
  crossAttention?: boolean;
  /** Expert index of a per-expert MoE tensor (Mixtral `experts.3.w1`); absent for stacked experts. */
  expert?: number;
  /** Which projection an 'experts' tensor holds. */
  expertProjection?: 'gate' | 'up' | 'down' | 'gate_up';
  /**
   * What an 'other' tensor is ('embed_norm', 'token_type_embed', 'router', 'qk_norm', 'vision',
   * 'attention_mask_buffer', ...), or a qualifier of a main role ('shared_expert').
   */
  detail?: string;
  /** A LoRA factor: role is 'other', and `target` is the role of the module it adapts. */
  lora?: { matrix: 'A' | 'B'; target: Role };
}

export interface RoleMappingOptions {
  /**
   * Normalized model family (config.json model_type). Only needed where names are shared by
   * layouts that differ: GPT-BigCode and GPT-Neo name nn.Linear modules `c_attn`/`c_fc` like
   * GPT-2's transposed Conv1D modules.
   */
  family?: string;
}

interface RoleSpec {
  role: Role;
  transposed?: boolean;
  fusedLayout?: FusedLayout;
  detail?: string;
  crossAttention?: boolean;
  expertProjection?: TensorRole['expertProjection'];
}

const spec = (role: Role, extra: Omit<RoleSpec, 'role'> = {}): RoleSpec => ({ role, ...extra });
const other = (detail: string): RoleSpec => ({ role: 'other', detail });

/** Wrappers that add nothing to a name's meaning, stripped from the front repeatedly. */
const WRAPPER_PREFIXES: readonly string[][] = [
  ['base_model', 'model'], // PEFT
  ['module'], // DistributedDataParallel
  ['_orig_mod'], // torch.compile
  ['model', 'language_model'], // transformers >= 4.52 multimodal
  ['language_model', 'model'], // older multimodal (LLaVA)
  ['language_model'],
  ['model'],
  ['transformer'],
  ['gpt_neox'],
  ['bert'],
  ['roberta'],
  ['xlm_roberta'],
  ['distilbert'],
  ['electra'],
];

/** First segments of tensors that belong to a vision or audio tower, never the language model. */
const NON_TEXT_TOWERS = new Set([
  'vision_tower', 'vision_model', 'visual', 'vision_encoder', 'multi_modal_projector', 'mm_projector', 'image_newline',
  'vision_embed_tokens', 'audio_tower', 'audio_model', 'v', 'mm',
]);

const LAYER_CONTAINERS = new Set(['layers', 'h', 'layer', 'block', 'blocks', 'blk']);
const STACKS: ReadonlyMap<string, 'encoder' | 'decoder'> = new Map([
  ['encoder', 'encoder'],
  ['decoder', 'decoder'],
  ['enc', 'encoder'],
  ['dec', 'decoder'],
]);

/** Top-level (not per-layer) modules. */
const GLOBAL_MODULES: ReadonlyMap<string, RoleSpec> = new Map([
  ...['embed_tokens', 'wte', 'word_embeddings', 'embed_in', 'embeddings.word_embeddings', 'shared', 'token_embd', 'tok_embeddings'].map(
    (m): [string, RoleSpec] => [m, spec('embed')],
  ),
  ...['wpe', 'embeddings.position_embeddings', 'embed_positions', 'position_embd'].map((m): [string, RoleSpec] => [m, spec('pos_embed')]),
  ...['lm_head', 'embed_out', 'output', 'cls.predictions.decoder', 'lm_head.decoder'].map((m): [string, RoleSpec] => [m, spec('lm_head')]),
  ...['norm', 'ln_f', 'final_layer_norm', 'final_layernorm', 'output_norm'].map((m): [string, RoleSpec] => [m, spec('final_norm')]),
  ...['embeddings.LayerNorm', 'word_embeddings_layernorm', 'layernorm_embedding', 'token_embd_norm', 'emb_ln'].map(
    (m): [string, RoleSpec] => [m, other('embed_norm')],
  ),
  ['embeddings.token_type_embeddings', other('token_type_embed')],
  ['token_types', other('token_type_embed')],
  ['pooler.dense', other('pooler')],
  ['rope_freqs', other('rotary_inv_freq')],
]);

/** Per-layer modules, by their path below `<container>.<N>.`. */
const LAYER_MODULES: ReadonlyMap<string, RoleSpec> = new Map([
  // Llama, Mistral, Qwen2, Gemma, Phi, Falcon, BLOOM, GPT-NeoX norms
  ['input_layernorm', spec('attn_norm')],
  ['post_attention_layernorm', spec('mlp_norm')],
  ['pre_feedforward_layernorm', spec('mlp_norm')],
  ['post_feedforward_layernorm', other('post_mlp_norm')],
  ['ln_attn', spec('attn_norm')],
  ['ln_mlp', spec('mlp_norm')],
  // Llama-style attention and MLP
  ['self_attn.q_proj', spec('q')],
  ['self_attn.k_proj', spec('k')],
  ['self_attn.v_proj', spec('v')],
  ['self_attn.o_proj', spec('o')],
  ['self_attn.out_proj', spec('o')],
  ['self_attn.dense', spec('o')],
  ['self_attn.qkv_proj', spec('qkv', { fusedLayout: 'qkv' })],
  ['self_attn.q_norm', other('qk_norm')],
  ['self_attn.k_norm', other('qk_norm')],
  ['mlp.gate_proj', spec('gate')],
  ['mlp.up_proj', spec('up')],
  ['mlp.down_proj', spec('down')],
  ['mlp.gate_up_proj', spec('gate_up', { fusedLayout: 'gate_up' })],
  ['mlp.fc1', spec('up')],
  ['mlp.fc2', spec('down')],
  ['mlp.shared_expert.gate_proj', spec('gate', { detail: 'shared_expert' })],
  ['mlp.shared_expert.up_proj', spec('up', { detail: 'shared_expert' })],
  ['mlp.shared_expert.down_proj', spec('down', { detail: 'shared_expert' })],
  ['mlp.shared_experts.gate_proj', spec('gate', { detail: 'shared_expert' })],
  ['mlp.shared_experts.up_proj', spec('up', { detail: 'shared_expert' })],
  ['mlp.shared_experts.down_proj', spec('down', { detail: 'shared_expert' })],
  ['mlp.shared_expert_gate', other('router')],
  ['mlp.gate', other('router')],
  ['block_sparse_moe.gate', other('router')],
  ['mlp.experts.gate_up_proj', spec('experts', { expertProjection: 'gate_up', fusedLayout: 'gate_up' })],
  ['mlp.experts.down_proj', spec('experts', { expertProjection: 'down' })],
  // OPT / BART / CLIP
  ['self_attn_layer_norm', spec('attn_norm')],
  ['final_layer_norm', spec('mlp_norm')],
  ['fc1', spec('up')],
  ['fc2', spec('down')],
  ['encoder_attn.q_proj', spec('q', { crossAttention: true })],
  ['encoder_attn.k_proj', spec('k', { crossAttention: true })],
  ['encoder_attn.v_proj', spec('v', { crossAttention: true })],
  ['encoder_attn.out_proj', spec('o', { crossAttention: true })],
  ['encoder_attn_layer_norm', other('cross_attn_norm')],
  // GPT-2 (Conv1D: stored [in, out]); GPT-J; GPT-Neo
  ['ln_1', spec('attn_norm')],
  ['ln_2', spec('mlp_norm')],
  ['attn.c_attn', spec('qkv', { fusedLayout: 'qkv', transposed: true })],
  ['attn.c_proj', spec('o', { transposed: true })],
  ['mlp.c_fc', spec('up', { transposed: true })],
  ['mlp.c_proj', spec('down', { transposed: true })],
  ['attn.q_proj', spec('q')],
  ['attn.k_proj', spec('k')],
  ['attn.v_proj', spec('v')],
  ['attn.out_proj', spec('o')],
  ['attn.attention.q_proj', spec('q')],
  ['attn.attention.k_proj', spec('k')],
  ['attn.attention.v_proj', spec('v')],
  ['attn.attention.out_proj', spec('o')],
  ['mlp.fc_in', spec('up')],
  ['mlp.fc_out', spec('down')],
  // GPT-NeoX
  ['attention.query_key_value', spec('qkv', { fusedLayout: 'qkv_grouped' })],
  ['attention.dense', spec('o')],
  ['mlp.dense_h_to_4h', spec('up')],
  ['mlp.dense_4h_to_h', spec('down')],
  // Falcon, BLOOM
  ['self_attention.query_key_value', spec('qkv', { fusedLayout: 'qkv_grouped' })],
  ['self_attention.dense', spec('o')],
  // BERT (post-LN: each sublayer's norm follows it; it is the norm of that sublayer)
  ['attention.self.query', spec('q')],
  ['attention.self.key', spec('k')],
  ['attention.self.value', spec('v')],
  ['attention.output.dense', spec('o')],
  ['attention.output.LayerNorm', spec('attn_norm')],
  ['intermediate.dense', spec('up')],
  ['output.dense', spec('down')],
  ['output.LayerNorm', spec('mlp_norm')],
  // DistilBERT
  ['attention.q_lin', spec('q')],
  ['attention.k_lin', spec('k')],
  ['attention.v_lin', spec('v')],
  ['attention.out_lin', spec('o')],
  ['sa_layer_norm', spec('attn_norm')],
  ['ffn.lin1', spec('up')],
  ['ffn.lin2', spec('down')],
  ['output_layer_norm', spec('mlp_norm')],
  // Meta's original Llama checkpoints
  ['attention.wq', spec('q')],
  ['attention.wk', spec('k')],
  ['attention.wv', spec('v')],
  ['attention.wo', spec('o')],
  ['feed_forward.w1', spec('gate')],
  ['feed_forward.w3', spec('up')],
  ['feed_forward.w2', spec('down')],
  ['attention_norm', spec('attn_norm')],
  // GGUF (llama.cpp converters store Linear layout, GPT-2 included, and contiguous fused qkv)
  ['attn_norm', spec('attn_norm')],
  ['attn_q', spec('q')],
  ['attn_k', spec('k')],
  ['attn_v', spec('v')],
  ['attn_output', spec('o')],
  ['attn_qkv', spec('qkv', { fusedLayout: 'qkv' })],
  ['ffn_norm', spec('mlp_norm')],
  ['ffn_gate', spec('gate')],
  ['ffn_up', spec('up')],
  ['ffn_down', spec('down')],
  ['ffn_gate_exps', spec('experts', { expertProjection: 'gate' })],
  ['ffn_up_exps', spec('experts', { expertProjection: 'up' })],
  ['ffn_down_exps', spec('experts', { expertProjection: 'down' })],
  ['ffn_gate_inp', other('router')],
  ['ffn_gate_shexp', spec('gate', { detail: 'shared_expert' })],
  ['ffn_up_shexp', spec('up', { detail: 'shared_expert' })],
  ['ffn_down_shexp', spec('down', { detail: 'shared_expert' })],
  ['attn_q_norm', other('qk_norm')],
  ['attn_k_norm', other('qk_norm')],
  ['post_attention_norm', other('post_attn_norm')],
  ['post_ffw_norm', other('post_mlp_norm')],
  ['attn_output_norm', spec('attn_norm')],
  ['layer_output_norm', spec('mlp_norm')],
  ['attn_rel_b', other('relative_attention_bias')],
  ['cross_attn_q', spec('q', { crossAttention: true })],
  ['cross_attn_k', spec('k', { crossAttention: true })],
  ['cross_attn_v', spec('v', { crossAttention: true })],
  ['cross_attn_o', spec('o', { crossAttention: true })],
  ['cross_attn_norm', other('cross_attn_norm')],
  ['cross_attn_rel_b', other('relative_attention_bias')],
]);

/** Per-expert MoE tensors: Mixtral `block_sparse_moe.experts.E.w1|w2|w3`, Qwen-MoE `mlp.experts.E.gate_proj|...`. */
const PER_EXPERT = /^(?:block_sparse_moe|mlp|moe)\.experts\.(\d{1,6})\.(w1|w2|w3|gate_proj|up_proj|down_proj)$/;
const EXPERT_PROJECTIONS: Readonly<Record<string, 'gate' | 'up' | 'down'>> = {
  w1: 'gate', w3: 'up', w2: 'down', gate_proj: 'gate', up_proj: 'up', down_proj: 'down',
};
/** T5 sublayers: `layer.<k>.SelfAttention.q`, `layer.<k>.EncDecAttention.o`, `layer.<k>.DenseReluDense.wi_0`, `layer.<k>.layer_norm`. */
const T5_SUBLAYER = /^layer\.(\d)\.(SelfAttention|EncDecAttention|DenseReluDense|layer_norm)(?:\.(\w+))?$/;
const T5_ATTENTION: Readonly<Record<string, Role>> = { q: 'q', k: 'k', v: 'v', o: 'o' };
const T5_FFN: Readonly<Record<string, Role>> = { wi: 'up', wi_0: 'gate', wi_1: 'up', wo: 'down' };
/** Families that reuse GPT-2's module names with ordinary nn.Linear layers. */
const LINEAR_C_ATTN_FAMILIES = new Set(['gpt_bigcode', 'gpt_neo']);
const MAX_NAME_LENGTH = 1024;
/** Parameter-less buffers some checkpoints save under their own names. */
const BUFFER_DETAILS: ReadonlyMap<string, string> = new Map([
  ['masked_bias', 'attention_mask_buffer'],
  ['inv_freq', 'rotary_inv_freq'],
  ['position_ids', 'position_ids_buffer'],
]);

function otherRole(part: 'weight' | 'bias', detail?: string): TensorRole {
  const role: TensorRole = { role: 'other', part, transposed: false };
  if (detail !== undefined) role.detail = detail;
  return role;
}

function stripWrappers(segments: string[]): string[] {
  let rest = segments;
  for (let changed = true, rounds = 0; changed && rounds < 8; rounds++) {
    changed = false;
    for (const prefix of WRAPPER_PREFIXES) {
      // Keep at least one segment beyond the prefix, so `model.weight`-like names are not emptied.
      if (rest.length > prefix.length && prefix.every((p, i) => rest[i] === p)) {
        rest = rest.slice(prefix.length);
        changed = true;
        break;
      }
    }
  }
  return rest;
}

/**
 * The canonical role of one tensor name. Names nobody maps (buffers, routers, vision towers,
 * unknown modules) get role 'other', so callers can always rely on getting an answer.
 */
export function mapTensorRole(name: string, options: RoleMappingOptions = {}): TensorRole {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return otherRole('weight');
  let segments = stripWrappers(name.split('.'));

  // PEFT: `<module>.lora_A.<adapter>.weight`, and `<module>.base_layer.weight` for the wrapped layer.
  let lora: TensorRole['lora'] | undefined;
  const loraIndex = segments.findIndex((s) => /^lora_(?:embedding_)?[AB]$/.test(s));
  if (loraIndex !== -1) {
    lora = { matrix: segments[loraIndex]!.endsWith('A') ? 'A' : 'B', target: 'other' };
    const last = segments[segments.length - 1]!;
    segments = [...segments.slice(0, loraIndex), last === 'weight' || last === 'bias' ? last : 'weight'];
  }
  segments = segments.filter((s) => s !== 'base_layer');

  if (NON_TEXT_TOWERS.has(segments[0]!)) return otherRole(partOf(segments[segments.length - 1]!) ?? 'weight', 'vision');

  const last = segments[segments.length - 1]!;
  const part = partOf(last) ?? 'weight';
  const bufferDetail = BUFFER_DETAILS.get(last);
  // Without a weight/bias suffix the last segment is the parameter itself: a buffer, or one of the
  // fused expert parameters transformers 5 stores without `.weight`.
  let modulePath = partOf(last) !== undefined || bufferDetail !== undefined ? segments.slice(0, -1) : segments;

  let stack: 'encoder' | 'decoder' | undefined;
  const stackName = STACKS.get(modulePath[0] ?? '');
  if (stackName !== undefined && modulePath.length > 1) {
    stack = stackName;
    modulePath = modulePath.slice(1);
  }
  let layer: number | undefined;
  if (modulePath.length >= 3 && LAYER_CONTAINERS.has(modulePath[0]!) && /^\d{1,6}$/.test(modulePath[1]!)) {
    // BERT names its only stack `encoder.layer.N`: an encoder-only model has no stacks to tell
    // apart, and GGUF BERT names (`blk.N`) carry none, so no stack is recorded for it.
    if (stack === 'encoder' && modulePath[0] === 'layer') stack = undefined;
    layer = Number(modulePath[1]);
    modulePath = modulePath.slice(2);
  }

  const roleSpec = bufferDetail !== undefined ? other(bufferDetail) : layer === undefined ? GLOBAL_MODULES.get(modulePath.join('.')) : layerRoleSpec(modulePath, stack);
  let result: TensorRole;
  if (roleSpec) {
    result = { role: roleSpec.role, part, transposed: roleSpec.transposed === true && !LINEAR_C_ATTN_FAMILIES.has(options.family ?? '') };
    if (roleSpec.fusedLayout) result.fusedLayout = roleSpec.fusedLayout;
    if (roleSpec.detail) result.detail = roleSpec.detail;
    if (roleSpec.crossAttention) result.crossAttention = true;
    if (roleSpec.expertProjection) result.expertProjection = roleSpec.expertProjection;
  } else {
    const expert = layer === undefined ? undefined : PER_EXPERT.exec(modulePath.join('.'));
    if (expert) {
      result = { role: 'experts', part, transposed: false, expert: Number(expert[1]), expertProjection: EXPERT_PROJECTIONS[expert[2]!]! };
    } else {
      // GPT-2 / GPT-NeoX save their causal-mask buffers as `attn.bias` / `attention.bias`.
      const isMaskBuffer = part === 'bias' && (modulePath.join('.') === 'attn' || modulePath.join('.') === 'attention');
      result = otherRole(part, isMaskBuffer ? 'attention_mask_buffer' : modulePath.includes('relative_attention_bias') ? 'relative_attention_bias' : undefined);
    }
  }
  if (layer !== undefined) result.layer = layer;
  if (stack !== undefined) result.stack = stack;
  if (lora) {
    lora.target = result.role;
    const factor: TensorRole = { role: 'other', part: result.part, transposed: false, lora };
    if (layer !== undefined) factor.layer = layer;
    if (stack !== undefined) factor.stack = stack;
    return factor;
  }
  return result;
}

function partOf(segment: string): 'weight' | 'bias' | undefined {
  // `gamma`/`beta` are the TF-era names of LayerNorm parameters in old BERT checkpoints.
  if (segment === 'weight' || segment === 'gamma') return 'weight';
  if (segment === 'bias' || segment === 'beta') return 'bias';
  return undefined;
}

function layerRoleSpec(modulePath: string[], stack: 'encoder' | 'decoder' | undefined): RoleSpec | undefined {
  const joined = modulePath.join('.');
  const direct = LAYER_MODULES.get(joined);
  if (direct) return direct;
  const t5 = T5_SUBLAYER.exec(joined);
  if (!t5) return undefined;
  const sublayer = Number(t5[1]);
  const kind = t5[2]!;
  const leaf = t5[3];
  if (kind === 'SelfAttention' || kind === 'EncDecAttention') {
    if (leaf === 'relative_attention_bias') return other('relative_attention_bias');
    const role = leaf === undefined ? undefined : T5_ATTENTION[leaf];
    if (!role) return undefined;
    return kind === 'EncDecAttention' ? spec(role, { crossAttention: true }) : spec(role);
  }
  if (kind === 'DenseReluDense') {
    const role = leaf === undefined ? undefined : T5_FFN[leaf];
    return role && spec(role);
  }
  // layer_norm of sublayer k: 0 precedes self-attention; in a decoder 1 precedes cross-attention;
  // the last one (encoder 1, decoder 2) precedes the feed-forward block.
  if (leaf !== undefined) return undefined;
  if (sublayer === 0) return spec('attn_norm');
  if (stack === 'decoder' && sublayer === 1) return other('cross_attn_norm');
  return spec('mlp_norm');
}

/**
 * Roles for all tensors of one model. Beyond per-name mapping it resolves what only the whole
 * name set reveals: in Gemma 2/3 (which have `pre_feedforward_layernorm`),
 * `post_attention_layernorm` normalizes the attention output rather than the MLP input.
 */
export function mapTensorRoles(names: Iterable<string>, options: RoleMappingOptions = {}): Map<string, TensorRole> {
  const roles = new Map<string, TensorRole>();
  let sandwichNorms = false;
  for (const name of names) {
    roles.set(name, mapTensorRole(name, options));
    if (name.includes('.pre_feedforward_layernorm.')) sandwichNorms = true;
  }
  if (sandwichNorms) {
    for (const [name, role] of roles) {
      if (name.includes('.post_attention_layernorm.') && role.role === 'mlp_norm') {
        roles.set(name, { ...role, role: 'other', detail: 'post_attn_norm' });
      }
    }
  }
  return roles;
}
