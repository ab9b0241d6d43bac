// Builds a normalized Vocabulary from the `tokenizer.ggml.*` metadata that llama.cpp embeds
// in a GGUF file (token list, token types, merges, special-token ids).
import type { GgufValue } from '../formats/gguf';
import { kindOfPieceType, SentencePieceType } from './sentencepiece';
import { ModelFormatError } from '../errors';
import {
  MAX_MERGES,
  MAX_VOCABULARY_TOKENS,
  VocabularyBuilder,
  type SpecialTokenIds,
  type TokenConvention,
  type TokenKind,
  type TokenizerModelKind,
  type Vocabulary,
} from './vocabulary';

/** llama.cpp's llama_token_type values (tokenizer.ggml.token_type). */
/** llama.cpp's token types copy SentencePiece's piece types (same numbers), so one mapping serves both. */
export const GgufTokenType = { Undefined: 0, ...SentencePieceType } as const;

interface GgufTokenizerModel {
  model: TokenizerModelKind;
  /** How llama.cpp spells the stored tokens for this tokenizer model. */
  convention: TokenConvention;
}

/**
 * tokenizer.ggml.model -> what the vocabulary is. 'bert' vocabularies are stored the way
 * llama.cpp's converter writes them: word-initial pieces prefixed with `▁`, `##` removed from
 * continuations, bracketed tokens unchanged; that is SentencePiece spelling.
 */
const GGUF_TOKENIZER_MODELS: ReadonlyMap<string, GgufTokenizerModel> = new Map([
  ['llama', { model: 'sentencepiece-bpe', convention: 'sentencepiece' }],
  ['gpt2', { model: 'bpe', convention: 'byte-level' }],
  ['bert', { model: 'wordpiece', convention: 'sentencepiece' }],
  ['t5', { model: 'sentencepiece-unigram', convention: 'sentencepiece' }],
]);

/** tokenizer.ggml.model values that mean "this file carries no vocabulary". */
const NO_VOCABULARY_MODELS = new Set(['none', 'no_vocab']);

/** llama.cpp fills ids that have no token (padded embedding rows) with `[PAD<id>]`. */
function isPaddingFiller(token: string, id: number): boolean {
  return token.startsWith('[PAD') && token === `[PAD${id}]`;
}

/**
 * The vocabulary embedded in GGUF metadata, or undefined when the file has none
 * (no tokenizer.ggml.model / tokens, or model 'none').
 */
export function vocabularyFromGgufMetadata(metadata: Map<string, GgufValue>, file: string): Vocabulary | undefined {
  const modelName = metadata.get('tokenizer.ggml.model');
  const tokensValue = metadata.get('tokenizer.ggml.tokens');
  if (modelName === undefined && tokensValue === undefined) return undefined;
  if (typeof modelName === 'string' && NO_VOCABULARY_MODELS.has(modelName)) return undefined;
  if (modelName !== undefined && typeof modelName !== 'string') {
    throw new ModelFormatError(file, 'tokenizer.ggml.model is not a string');
  }
  const tokens = stringArray(tokensValue, 'tokenizer.ggml.tokens', file, MAX_VOCABULARY_TOKENS);
  if (tokens === undefined) throw new ModelFormatError(file, 'has tokenizer.ggml.model but no tokenizer.ggml.tokens');
  const tokenTypes = numberArray(metadata.get('tokenizer.ggml.token_type'), 'tokenizer.ggml.token_type', file);
  if (tokenTypes !== undefined && tokenTypes.length !== tokens.length) {
    throw new ModelFormatError(file, `tokenizer.ggml.token_type has ${tokenTypes.length} entries for ${tokens.length} tokens`);
  }
  const { model, convention } = GGUF_TOKENIZER_MODELS.get(modelName ?? '') ?? { model: 'unknown', convention: 'plain' };

  const builder = new VocabularyBuilder(file, convention);
  let userDefined = 0;
  tokens.forEach((raw, id) => {
    const kind = isPaddingFiller(raw, id) ? 'hole' : kindOfPieceType(tokenTypes?.[id] ?? GgufTokenType.Normal);
    if (kind === 'user-defined') userDefined++;
    builder.set({ id, raw, kind });
  });
  const merges = stringArray(metadata.get('tokenizer.ggml.merges'), 'tokenizer.ggml.merges', file, MAX_MERGES) ?? [];
  merges.forEach((merge, rank) => builder.addMergeString(merge, `tokenizer.ggml.merges[${rank}]`));

  return builder.build({
    source: file,
    model,
    convention,
    specialTokenIds: readSpecialTokenIds(metadata),
    addedTokenCount: userDefined,
  });
}


function readSpecialTokenIds(metadata: Map<string, GgufValue>): SpecialTokenIds {
  const ids: SpecialTokenIds = {};
  const keys = [
    ['bos', 'tokenizer.ggml.bos_token_id'],
    ['eos', 'tokenizer.ggml.eos_token_id'],
    ['unk', 'tokenizer.ggml.unknown_token_id'],
    ['pad', 'tokenizer.ggml.padding_token_id'],
  ] as const;
  for (const [role, key] of keys) {
    const value = metadata.get(key);
    // Out-of-range ids (llama.cpp writes 0xFFFFFFFF for "none") are dropped by the builder.
    if (typeof value === 'number') ids[role] = value;
    else if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER)) ids[role] = Number(value);
  }
  return ids;
}

function stringArray(value: GgufValue | undefined, key: string, file: string, limit: number): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ModelFormatError(file, `${key} is not an array`);
  if (value.length > limit) throw new ModelFormatError(file, `${key} has ${value.length} entries (limit ${limit})`);
  return value.map((item, index) => {
    if (typeof item !== 'string') throw new ModelFormatError(file, `${key}[${index}] is not a string`);
    return item;
  });
}

function numberArray(value: GgufValue | undefined, key: string, file: string): number[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new ModelFormatError(file, `${key} is not an array`);
  if (value.length > MAX_VOCABULARY_TOKENS) throw new ModelFormatError(file, `${key} has ${value.length} entries (limit ${MAX_VOCABULARY_TOKENS})`);
  return value.map((item, index) => {
    if (typeof item === 'number') return item;
    if (typeof item === 'bigint') return Number(item);
    throw new ModelFormatError(file, `${key}[${index}] is not a number`);
  });
}
