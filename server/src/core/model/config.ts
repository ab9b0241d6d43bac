// Reads a model's config.json (or GGUF metadata) into one normalized ArchitectureTuple, whatever
// the naming scheme (n_embd / hidden_size / d_model ...), plus a canonical hash of that tuple.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ModelFormatError } from '../errors';
import { confinementRoot, openConfined } from '../io/confinedPath';

export type NormType = 'rmsnorm' | 'layernorm' | 'unknown';
export type PositionalEncoding = 'rope' | 'alibi' | 'absolute' | 'relative' | 'unknown';

export interface ArchitectureTuple {
  /** Normalized model_type of the text backbone: 'llama', 'gpt2', 'bert', 'gpt_neox', ... or 'unknown'. */
  family: string;
  /** Outer model_type when the dimensions came from a nested text config (multimodal models). */
  multimodalFamily?: string;
  /** transformers class names (`LlamaForCausalLM`); empty for GGUF. */
  architectures: string[];
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions?: number;
  normType: NormType;
  positional: PositionalEncoding;
  ropeTheta?: number;
  tieWordEmbeddings?: boolean;
  headDim?: number;
  /** Routed experts per MoE layer. */
  expertCount?: number;
}

export interface ModelConfig {
  file: string;
  raw: Record<string, unknown>;
  architecture?: ArchitectureTuple;
  /** Why no architecture could be derived, or what was guessed. */
  problems: string[];
}

/** Metadata files (config.json, README.md, adapter_config.json) larger than this are refused. */
export const MAX_METADATA_FILE_BYTES = 4 * 1024 * 1024;
/** Dimensions above this are not a real model; treating them as absent keeps later arithmetic safe. */
const MAX_DIMENSION = 2 ** 40;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Bounded, contained reads of metadata files (shared by card.ts, adapter.ts and hfCache.ts refs).

export { isPathInside } from '../io/confinedPath';

/** The folder whose contents a model file may link to (see confinementRoot). */
export const allowedRootForModelFolder = confinementRoot;

export interface MetadataFileOptions {
  maxBytes?: number;
  /** Real path the file must resolve inside; default: the model folder (or its HF cache repo folder). */
  allowedRoot?: string;
}

/**
 * Reads `name` in `folder` as UTF-8 text (BOM removed), or undefined when it does not exist. The
 * size is checked before reading, the file must be a regular file, and its real path must stay
 * inside the model folder, or inside the repo's cache folder for HF cache snapshots.
 */
export async function readMetadataTextFile(folder: string, name: string, options: MetadataFileOptions = {}): Promise<{ file: string; text: string } | undefined> {
  const file = path.join(folder, name);
  const info = await stat(file).catch(() => undefined);
  if (!info) return undefined;
  return { file, text: await readBoundedTextFile(file, options.maxBytes ?? MAX_METADATA_FILE_BYTES, options.allowedRoot ?? (await confinementRoot(folder))) };
}

/**
 * Reads a whole small text file (UTF-8, BOM removed) after checking it is a regular file of at most
 * `maxBytes` whose real path lies inside `root` (default: its folder; see openConfined).
 */
export async function readBoundedTextFile(file: string, maxBytes: number, root?: string): Promise<string> {
  const { handle, stats } = await openConfined(file, root);
  try {
    if (stats.size > maxBytes) throw new ModelFormatError(file, `is ${stats.size} bytes; metadata files over ${maxBytes} bytes are not read`);
    const buffer = Buffer.alloc(stats.size);
    let filled = 0;
    while (filled < stats.size) {
      const { bytesRead } = await handle.read(buffer, filled, stats.size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const text = buffer.subarray(0, filled).toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } finally {
    await handle.close();
  }
}

/** Parses JSON text that must be an object; errors name the file. */
export function parseJsonObject(text: string, file: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(file, `is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(value)) throw new ModelFormatError(file, 'must hold a JSON object');
  return value;
}

/** `folderOrFile` is a model folder (its config.json is read) or a path to a config file. */
async function splitConfigLocation(folderOrFile: string): Promise<{ folder: string; name: string }> {
  const info = await stat(folderOrFile).catch(() => undefined);
  if (info?.isDirectory()) return { folder: folderOrFile, name: 'config.json' };
  return { folder: path.dirname(folderOrFile), name: path.basename(folderOrFile) };
}

/** The parsed config.json, or undefined when there is none. Throws ModelFormatError when it is unreadable. */
export async function readConfigJson(folderOrFile: string): Promise<JsonObject | undefined> {
  const { folder, name } = await splitConfigLocation(folderOrFile);
  const read = await readMetadataTextFile(folder, name);
  return read && parseJsonObject(read.text, read.file);
}

export async function readModelConfig(folderOrFile: string): Promise<ModelConfig | undefined> {
  const { folder, name } = await splitConfigLocation(folderOrFile);
  const read = await readMetadataTextFile(folder, name);
  if (!read) return undefined;
  const raw = parseJsonObject(read.text, read.file);
  const { architecture, problems } = normalizeConfig(raw);
  const config: ModelConfig = { file: read.file, raw, problems };
  if (architecture) config.architecture = architecture;
  return config;
}

// ---------------------------------------------------------------------------------------------
// Family knowledge. Only facts that config files leave implicit live here.

const RMSNORM_FAMILIES = new Set([
  'llama', 'mistral', 'mixtral', 'qwen2', 'qwen2_moe', 'qwen3', 'qwen3_moe', 'gemma', 'gemma2', 'gemma3', 'phi3',
  // T5's "layer_norm_epsilon" configures T5LayerNorm, which is an RMS norm (no mean, no bias).
  't5', 'mt5', 'umt5', 'olmo2', 'internlm2', 'deepseek_v2', 'deepseek_v3', 'baichuan', 'granite', 'mllama',
]);
const LAYERNORM_FAMILIES = new Set([
  'gpt2', 'gpt_neox', 'falcon', 'bloom', 'bert', 'roberta', 'distilbert', 'xlm_roberta', 'electra', 'phi', 'gptj',
  'opt', 'gpt_bigcode', 'mpt', 'stablelm', 'cohere', 'gpt_neo', 'codegen',
]);
const ROPE_FAMILIES = new Set([
  'llama', 'mistral', 'mixtral', 'qwen2', 'qwen2_moe', 'qwen3', 'qwen3_moe', 'gemma', 'gemma2', 'gemma3', 'phi3', 'phi',
  'gpt_neox', 'falcon', 'gptj', 'stablelm', 'internlm2', 'deepseek_v2', 'deepseek_v3', 'cohere', 'olmo', 'olmo2',
  'granite', 'codegen', 'baichuan',
]);
const ALIBI_FAMILIES = new Set(['bloom', 'mpt']);
const ABSOLUTE_FAMILIES = new Set(['gpt2', 'bert', 'roberta', 'distilbert', 'xlm_roberta', 'electra', 'opt', 'gpt_bigcode', 'gpt_neo']);
const RELATIVE_FAMILIES = new Set(['t5', 'mt5', 'umt5']);
/** Families whose FFN width defaults to 4 x hidden when the config leaves it out (GPT-2 `n_inner: null`). */
const FOUR_X_FFN_FAMILIES = new Set(['gpt2', 'gptj', 'gpt_bigcode', 'gpt_neox', 'falcon', 'bloom', 'gpt_neo', 'codegen', 'opt']);

const FAMILY_ALIASES: ReadonlyMap<string, string> = new Map([
  ['refinedweb', 'falcon'],
  ['refinedwebmodel', 'falcon'],
  ['gptneox', 'gpt_neox'],
  ['gptj', 'gptj'],
  ['gpt_j', 'gptj'],
  ['gptbigcode', 'gpt_bigcode'],
  ['xlmroberta', 'xlm_roberta'],
]);

function normalizeFamily(modelType: string): string {
  const lower = modelType.trim().toLowerCase().replace(/-/g, '_');
  // Nested text configs of multimodal models are typed `<family>_text` (gemma3_text, qwen2_vl_text).
  const withoutText = lower.endsWith('_text') ? lower.slice(0, -'_text'.length) : lower;
  return FAMILY_ALIASES.get(withoutText) ?? withoutText;
}

const CLASS_SUFFIXES = /(?:ForCausalLM|LMHeadModel|ForMaskedLM|ForConditionalGeneration|ForSequenceClassification|ForTokenClassification|ForQuestionAnswering|ForPreTraining|Model)$/;

function familyFromClassName(className: string): string | undefined {
  const stem = className.replace(CLASS_SUFFIXES, '');
  return stem === '' || stem === className ? undefined : normalizeFamily(stem);
}

// ---------------------------------------------------------------------------------------------
// config.json normalization

/** Looks keys up in the text config first, then the outer config (vocab_size often sits outside). */
class ConfigView {
  constructor(private readonly layers: JsonObject[]) {}

  value(key: string): unknown {
    for (const layer of this.layers) if (Object.hasOwn(layer, key)) return layer[key];
    return undefined;
  }

  has(key: string): boolean {
    return this.layers.some((layer) => Object.hasOwn(layer, key) && layer[key] !== null);
  }

  integer(...keys: string[]): number | undefined {
    for (const key of keys) {
      const n = this.value(key);
      if (isDimension(n)) return n;
    }
    return undefined;
  }

  number(...keys: string[]): number | undefined {
    for (const key of keys) {
      const n = this.value(key);
      if (typeof n === 'number' && Number.isFinite(n)) return n;
    }
    return undefined;
  }

  object(key: string): JsonObject | undefined {
    const v = this.value(key);
    return isObject(v) ? v : undefined;
  }
}

function isDimension(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= MAX_DIMENSION;
}

/** Keys under which multimodal configs nest their language model's config. */
const TEXT_CONFIG_KEYS = ['text_config', 'llm_config', 'language_config'];

export function architectureFromConfig(config: JsonObject): ArchitectureTuple | undefined {
  return normalizeConfig(config).architecture;
}

export function normalizeConfig(config: JsonObject): { architecture?: ArchitectureTuple; problems: string[] } {
  const problems: string[] = [];
  const textKey = TEXT_CONFIG_KEYS.find((k) => isObject(config[k]));
  const textConfig = textKey === undefined ? undefined : (config[textKey] as JsonObject);
  const view = new ConfigView(textConfig ? [textConfig, config] : [config]);

  const architectures = stringList(config['architectures']);
  const outerType = typeof config['model_type'] === 'string' ? normalizeFamily(config['model_type']) : undefined;
  const innerType = textConfig && typeof textConfig['model_type'] === 'string' ? normalizeFamily(textConfig['model_type']) : undefined;
  const family = innerType ?? outerType ?? familyFromClassName(architectures[0] ?? '') ?? 'unknown';

  const hiddenSize = view.integer('hidden_size', 'n_embd', 'd_model', 'n_embed', 'dim', 'model_dim');
  const layers = view.integer('num_hidden_layers', 'n_layer', 'num_layers', 'n_layers');
  const heads = view.integer('num_attention_heads', 'n_head', 'num_heads', 'n_heads');
  const vocabSize = view.integer('vocab_size', 'n_vocab', 'padded_vocab_size');
  const kvHeads = heads === undefined ? undefined : kvHeadCount(view, family, heads);
  const intermediateSize = hiddenSize === undefined ? undefined : ffnWidth(view, family, hiddenSize, problems);

  const missing = Object.entries({ hiddenSize, layers, heads, vocabSize, intermediateSize })
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (missing.length > 0) {
    problems.push(`config does not state ${missing.join(', ')} under any known key; no architecture derived`);
    return { problems };
  }

  const architecture: ArchitectureTuple = {
    family,
    architectures,
    hiddenSize: hiddenSize!,
    layers: layers!,
    heads: heads!,
    kvHeads: kvHeads!,
    intermediateSize: intermediateSize!,
    vocabSize: vocabSize!,
    normType: normTypeOf(view, family),
    positional: positionalOf(view, family),
  };
  if (textConfig && outerType !== undefined && outerType !== family) architecture.multimodalFamily = outerType;
  const maxPositions = view.integer('max_position_embeddings', 'n_positions', 'n_ctx', 'max_seq_len', 'seq_length', 'max_sequence_length');
  if (maxPositions !== undefined) architecture.maxPositions = maxPositions;
  const ropeTheta = ropeThetaOf(view);
  if (ropeTheta !== undefined) architecture.ropeTheta = ropeTheta;
  const tie = view.value('tie_word_embeddings');
  if (typeof tie === 'boolean') architecture.tieWordEmbeddings = tie;
  // T5 calls the per-head width d_kv.
  const headDim = view.integer('head_dim', 'd_kv') ?? (hiddenSize! % heads! === 0 ? hiddenSize! / heads! : undefined);
  if (headDim !== undefined) architecture.headDim = headDim;
  const experts = view.integer('num_local_experts', 'num_experts', 'n_routed_experts', 'moe_num_experts');
  if (experts !== undefined) architecture.expertCount = experts;
  return { architecture, problems };
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').slice(0, 64) : [];
}

function kvHeadCount(view: ConfigView, family: string, heads: number): number {
  const explicit = view.integer('num_key_value_heads', 'n_head_kv', 'n_kv_heads', 'num_kv_heads');
  if (family === 'falcon') {
    // FalconConfig: new_decoder_architecture uses num_kv_heads; otherwise multi_query (default true) means 1.
    if (view.value('new_decoder_architecture') === true) return explicit ?? heads;
    // Pre-transformers "RefinedWeb" configs of Falcon-40B state n_head_kv without the flag.
    if (explicit !== undefined && view.has('n_head_kv')) return explicit;
    return view.value('multi_query') === false ? heads : 1;
  }
  if (explicit !== undefined) return explicit;
  if (view.value('multi_query') === true) return 1;
  const attnConfig = view.object('attn_config');
  if (attnConfig && isDimension(attnConfig['kv_n_heads'])) return attnConfig['kv_n_heads'];
  return heads;
}

function ffnWidth(view: ConfigView, family: string, hiddenSize: number, problems: string[]): number | undefined {
  const explicit = view.integer('intermediate_size', 'n_inner', 'ffn_dim', 'd_ff', 'ffn_hidden_size', 'hidden_dim', 'ffn_size');
  if (explicit !== undefined) return explicit;
  const ffnConfig = view.object('ffn_config');
  if (ffnConfig && isDimension(ffnConfig['ffn_hidden_size'])) return ffnConfig['ffn_hidden_size'];
  // MPT states the FFN as a multiple of d_model (default 4).
  const ratio = view.value('expansion_ratio');
  if (family === 'mpt') return hiddenSize * (typeof ratio === 'number' && Number.isSafeInteger(ratio) && ratio > 0 && ratio < 64 ? ratio : 4);
  if (FOUR_X_FFN_FAMILIES.has(family)) return 4 * hiddenSize;
  problems.push(`no FFN width (intermediate_size) in a ${family} config`);
  return undefined;
}

function normTypeOf(view: ConfigView, family: string): NormType {
  if (view.value('rmsnorm') === true || view.has('rms_norm_eps')) return 'rmsnorm';
  if (RMSNORM_FAMILIES.has(family)) return 'rmsnorm';
  if (view.has('layer_norm_eps') || view.has('layer_norm_epsilon') || view.has('layernorm_epsilon')) return 'layernorm';
  return LAYERNORM_FAMILIES.has(family) ? 'layernorm' : 'unknown';
}

function positionalOf(view: ConfigView, family: string): PositionalEncoding {
  const attnConfig = view.object('attn_config');
  if (view.value('alibi') === true || attnConfig?.['alibi'] === true || ALIBI_FAMILIES.has(family)) return 'alibi';
  const embeddingType = view.value('position_embedding_type');
  if (embeddingType === 'absolute') return 'absolute';
  if (embeddingType === 'relative_key' || embeddingType === 'relative_key_query') return 'relative';
  if (embeddingType === 'rotary') return 'rope';
  if (view.has('relative_attention_num_buckets') || RELATIVE_FAMILIES.has(family)) return 'relative';
  const ropeKeys = ['rope_theta', 'rotary_emb_base', 'rope_scaling', 'rope_parameters', 'rotary_pct', 'rotary_dim', 'partial_rotary_factor'];
  if (ropeKeys.some((k) => view.has(k)) || ROPE_FAMILIES.has(family)) return 'rope';
  return ABSOLUTE_FAMILIES.has(family) ? 'absolute' : 'unknown';
}

function ropeThetaOf(view: ConfigView): number | undefined {
  const direct = view.number('rope_theta', 'rotary_emb_base');
  if (direct !== undefined) return direct;
  // transformers 5 moves it into rope_parameters, which per-layer-type models key by attention type.
  for (const key of ['rope_parameters', 'rope_scaling']) {
    const params = view.object(key);
    if (!params) continue;
    if (typeof params['rope_theta'] === 'number' && Number.isFinite(params['rope_theta'])) return params['rope_theta'];
    for (const nested of ['full_attention', 'default', ...Object.keys(params).sort()]) {
      const inner = params[nested];
      if (isObject(inner) && typeof inner['rope_theta'] === 'number' && Number.isFinite(inner['rope_theta'])) return inner['rope_theta'];
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// GGUF metadata

/** llama.cpp architecture names that differ from transformers model_type. */
const GGUF_ARCH_FAMILIES: ReadonlyMap<string, string> = new Map([
  ['gptneox', 'gpt_neox'],
  ['starcoder', 'gpt_bigcode'],
  ['command-r', 'cohere'],
  ['qwen2moe', 'qwen2_moe'],
  ['qwen3moe', 'qwen3_moe'],
  ['deepseek2', 'deepseek_v2'],
  ['phi2', 'phi'],
  ['gptj', 'gptj'],
]);

function ggufInteger(value: unknown): number | undefined {
  if (typeof value === 'bigint') return value > 0n && value <= BigInt(MAX_DIMENSION) ? Number(value) : undefined;
  if (isDimension(value)) return value;
  // Some architectures store per-layer arrays (head counts, FFN widths); a uniform array is one value.
  if (Array.isArray(value) && value.length > 0) {
    const first = ggufInteger(value[0]);
    return first !== undefined && value.every((v) => ggufInteger(v) === first) ? first : undefined;
  }
  return undefined;
}

function ggufNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n) return Number(value);
  return undefined;
}

export function architectureFromGgufMetadata(metadata: ReadonlyMap<string, unknown>): ArchitectureTuple | undefined {
  const arch = metadata.get('general.architecture');
  if (typeof arch !== 'string' || arch === '' || arch.length > 64) return undefined;
  const key = (suffix: string): unknown => metadata.get(`${arch}.${suffix}`);
  const family = GGUF_ARCH_FAMILIES.get(arch) ?? normalizeFamily(arch);
  const hiddenSize = ggufInteger(key('embedding_length'));
  const layers = ggufInteger(key('block_count'));
  const heads = ggufInteger(key('attention.head_count'));
  const intermediateSize = ggufInteger(key('feed_forward_length')) ?? (hiddenSize !== undefined && FOUR_X_FFN_FAMILIES.has(family) ? 4 * hiddenSize : undefined);
  const tokens = metadata.get('tokenizer.ggml.tokens');
  const vocabSize = ggufInteger(key('vocab_size')) ?? (Array.isArray(tokens) && tokens.length > 0 ? tokens.length : undefined);
  if (hiddenSize === undefined || layers === undefined || heads === undefined || intermediateSize === undefined || vocabSize === undefined) {
    return undefined;
  }
  let normType: NormType = RMSNORM_FAMILIES.has(family) ? 'rmsnorm' : LAYERNORM_FAMILIES.has(family) ? 'layernorm' : 'unknown';
  if (metadata.has(`${arch}.attention.layer_norm_rms_epsilon`)) normType = 'rmsnorm';
  else if (metadata.has(`${arch}.attention.layer_norm_epsilon`)) normType = 'layernorm';
  let positional: PositionalEncoding;
  if (ALIBI_FAMILIES.has(family)) positional = 'alibi';
  else if (metadata.has(`${arch}.rope.dimension_count`) || metadata.has(`${arch}.rope.freq_base`) || ROPE_FAMILIES.has(family)) positional = 'rope';
  else if (RELATIVE_FAMILIES.has(family)) positional = 'relative';
  else positional = ABSOLUTE_FAMILIES.has(family) ? 'absolute' : 'unknown';

  const architecture: ArchitectureTuple = {
    family,
    architectures: [],
    hiddenSize,
    layers,
    heads,
    kvHeads: ggufInteger(key('attention.head_count_kv')) ?? heads,
    intermediateSize,
    vocabSize,
    normType,
    positional,
  };
  const maxPositions = ggufInteger(key('context_length'));
  if (maxPositions !== undefined) architecture.maxPositions = maxPositions;
  const ropeTheta = ggufNumber(key('rope.freq_base'));
  if (ropeTheta !== undefined) architecture.ropeTheta = ropeTheta;
  const headDim = ggufInteger(key('attention.key_length')) ?? (hiddenSize % heads === 0 ? hiddenSize / heads : undefined);
  if (headDim !== undefined) architecture.headDim = headDim;
  const experts = ggufInteger(key('expert_count'));
  if (experts !== undefined) architecture.expertCount = experts;
  return architecture;
}

// ---------------------------------------------------------------------------------------------
// Canonical hash

/**
 * The fields that define the shape of the network. Class names, context length, rope theta and
 * embedding tying are left out: they differ between containers of the same weights (GGUF has no
 * class names and no tying flag) or between a model and its context-extended fine-tune.
 */
export const ARCHITECTURE_HASH_FIELDS = [
  'family', 'hiddenSize', 'layers', 'heads', 'kvHeads', 'headDim', 'intermediateSize', 'vocabSize', 'normType', 'positional', 'expertCount',
] as const satisfies ReadonlyArray<keyof ArchitectureTuple>;
const ARCHITECTURE_HASH_SCHEMA = 'lineage-lens/architecture/1';

/**
 * Our own canonical JSON: object keys sorted by UTF-16 code units, no whitespace, undefined
 * members dropped, integers written as plain digits (never exponent form), other numbers in
 * ECMAScript's shortest round-trip form. No locale or library is involved.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return Number.isInteger(value) ? BigInt(value).toString() : String(value);
    case 'bigint':
      return value.toString();
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const entries = Object.entries(value as JsonObject)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode ${typeof value}`);
  }
}

/** sha256 hex of the canonical JSON of the shape-defining fields (ARCHITECTURE_HASH_FIELDS). */
export function canonicalArchitectureHash(tuple: ArchitectureTuple): string {
  const picked: JsonObject = { schema: ARCHITECTURE_HASH_SCHEMA };
  for (const field of ARCHITECTURE_HASH_FIELDS) picked[field] = tuple[field];
  return createHash('sha256').update(canonicalJson(picked), 'utf8').digest('hex');
}
