// Reads a Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram, WordLevel + added tokens)
// into a normalized Vocabulary, detecting the token spelling from the pre-tokenizer/decoder.
import { ModelFormatError } from '../errors';
import { findValueSpan, flatObjectEntries, JsonScanError } from '../util/jsonSpans';
import { isJsonObject, parseJsonText, readTokenizerTextFile, type JsonObject } from './tokenizerFiles';
import {
  MAX_MERGES,
  MAX_VOCABULARY_TOKENS,
  VocabularyBuilder,
  type SpecialTokenIds,
  type TokenConvention,
  type TokenizerModelKind,
  type Vocabulary,
} from './vocabulary';

/** Reads a tokenizer.json (confined to `root`, see LocalFileSource.open) into a Vocabulary. */
export async function readTokenizerJson(path: string, root?: string): Promise<Vocabulary> {
  return vocabularyFromTokenizerJsonText(await readTokenizerTextFile(path, root), path);
}

/** Below this size JSON.parse of the whole file is fast whatever it holds. */
const WHOLE_PARSE_MAX_CHARS = 1 << 20;

/**
 * The vocabulary of tokenizer.json text. A large `model.vocab` object is scanned on its own into a Map
 * (JSON.parse makes a million-key object a slow dictionary: seconds and hundreds of MB); the rest of
 * the file is parsed normally. Past MAX_VOCABULARY_TOKENS entries the scan stops with a clear error.
 */
export function vocabularyFromTokenizerJsonText(text: string, file: string): Vocabulary {
  let span: { start: number; end: number } | undefined;
  if (text.length > WHOLE_PARSE_MAX_CHARS) {
    try {
      span = findValueSpan(text, ['model', 'vocab']);
    } catch {
      span = undefined; // not well-formed: JSON.parse below reports it
    }
  }
  if (span === undefined || text.charCodeAt(span.start) !== 0x7b) return vocabularyFromTokenizerJson(parseJsonText(text, file), file);
  let entries: Map<string, unknown>;
  try {
    entries = flatObjectEntries(text, span.start, MAX_VOCABULARY_TOKENS);
  } catch (err) {
    if (err instanceof JsonScanError && /more than/.test(err.message)) throw new ModelFormatError(file, `model.vocab has more than ${MAX_VOCABULARY_TOKENS} tokens`);
    throw new ModelFormatError(file, `is not valid JSON (model.vocab: ${err instanceof Error ? err.message : String(err)})`);
  }
  const rest = parseJsonText(`${text.slice(0, span.start)}{}${text.slice(span.end)}`, file);
  return vocabularyFromTokenizerJson(rest, file, entries);
}

/**
 * Builds the vocabulary of an already parsed tokenizer.json (`file` names it in errors). `vocabEntries`
 * replaces `model.vocab` when the caller scanned it separately (see vocabularyFromTokenizerJsonText).
 */
export function vocabularyFromTokenizerJson(json: unknown, file: string, vocabEntries?: ReadonlyMap<string, unknown>): Vocabulary {
  if (!isJsonObject(json)) throw new ModelFormatError(file, 'tokenizer.json must hold a JSON object');
  const model = json['model'];
  if (!isJsonObject(model)) throw new ModelFormatError(file, 'has no "model" object');
  const modelType = typeof model['type'] === 'string' ? model['type'] : inferModelType(model);
  const convention = detectConvention(json, modelType);
  const builder = new VocabularyBuilder(file, convention);
  const specialTokenIds: SpecialTokenIds = {};

  switch (modelType) {
    case 'BPE':
    case 'WordPiece':
    case 'WordLevel':
      readVocabMap(vocabEntries ?? model['vocab'], builder, file);
      readMerges(model['merges'], builder, file, modelType);
      setUnkByName(model['unk_token'], builder, specialTokenIds);
      break;
    case 'Unigram':
      readUnigramVocab(model['vocab'], builder, file);
      if (typeof model['unk_id'] === 'number') specialTokenIds.unk = model['unk_id'];
      break;
    default:
      throw new ModelFormatError(file, `model type ${JSON.stringify(modelType)} is not a tokenizer model we read (BPE, WordPiece, Unigram, WordLevel)`);
  }
  const addedTokenCount = readAddedTokens(json['added_tokens'], builder, file);
  return builder.build({
    source: file,
    model: modelKind(modelType, convention),
    convention,
    specialTokenIds: Object.keys(specialTokenIds).length > 0 ? specialTokenIds : undefined,
    addedTokenCount,
  });
}

/** Old tokenizer.json files may omit model.type; the shape of the model still tells. */
function inferModelType(model: JsonObject): string {
  if (Array.isArray(model['vocab'])) return 'Unigram';
  if (model['merges'] !== undefined) return 'BPE';
  if (model['continuing_subword_prefix'] !== undefined) return 'WordPiece';
  return 'WordLevel';
}

function modelKind(modelType: string, convention: TokenConvention): TokenizerModelKind {
  switch (modelType) {
    case 'BPE':
      return convention === 'sentencepiece' ? 'sentencepiece-bpe' : 'bpe';
    case 'Unigram':
      return convention === 'sentencepiece' ? 'sentencepiece-unigram' : 'unigram';
    case 'WordPiece':
      return 'wordpiece';
    case 'WordLevel':
      return 'wordlevel';
    default:
      return 'unknown';
  }
}

/**
 * The spelling of stored tokens: ByteLevel in the pre-tokenizer or decoder means GPT-2 byte-level;
 * Metaspace, or a normalizer replacing ' ' with '▁', or a decoder replacing '▁' with ' ', means
 * SentencePiece style; otherwise WordPiece models use `##` and everything else is plain.
 */
function detectConvention(json: JsonObject, modelType: string): TokenConvention {
  const components = [
    ...componentsOf(json['pre_tokenizer']),
    ...componentsOf(json['decoder']),
    ...componentsOf(json['normalizer']),
  ];
  if (components.some((c) => c['type'] === 'ByteLevel')) return 'byte-level';
  if (components.some((c) => c['type'] === 'Metaspace' || isSpaceMarkerReplace(c))) return 'sentencepiece';
  if (modelType === 'WordPiece') return 'wordpiece';
  return 'plain';
}

function isSpaceMarkerReplace(component: JsonObject): boolean {
  if (component['type'] !== 'Replace') return false;
  const pattern = component['pattern'];
  const from = isJsonObject(pattern) ? pattern['String'] : undefined;
  const to = component['content'];
  return (from === ' ' && to === '\u2581') || (from === '\u2581' && to === ' ');
}

/** Flattens Sequence components (normalizers / pretokenizers / decoders lists), depth-bounded. */
function componentsOf(value: unknown, depth = 0): JsonObject[] {
  if (!isJsonObject(value) || depth > 8) return [];
  const nested = [value['normalizers'], value['pretokenizers'], value['decoders']].find(Array.isArray);
  if (!Array.isArray(nested)) return [value];
  return nested.flatMap((child: unknown) => componentsOf(child, depth + 1));
}

function readVocabMap(vocab: unknown, builder: VocabularyBuilder, file: string): void {
  if (!(vocab instanceof Map) && !isJsonObject(vocab)) throw new ModelFormatError(file, 'model.vocab must be an object mapping token to id');
  // Object.keys then index: for-in over a dictionary-mode object is several times slower.
  const entries: Iterable<[string, unknown]> = vocab instanceof Map ? (vocab as Map<string, unknown>) : Object.keys(vocab).map((k) => [k, vocab[k]]);
  let count = 0;
  for (const [token, id] of entries) {
    if (++count > MAX_VOCABULARY_TOKENS) throw new ModelFormatError(file, `model.vocab has more than ${MAX_VOCABULARY_TOKENS} tokens`);
    if (typeof id !== 'number') throw new ModelFormatError(file, `model.vocab id of ${JSON.stringify(token.slice(0, 40))} is not a number`);
    builder.set({ id, raw: token, kind: 'normal' });
  }
}

function readUnigramVocab(vocab: unknown, builder: VocabularyBuilder, file: string): void {
  if (!Array.isArray(vocab)) throw new ModelFormatError(file, 'Unigram model.vocab must be a list of [piece, score]');
  if (vocab.length > MAX_VOCABULARY_TOKENS) throw new ModelFormatError(file, `model.vocab has ${vocab.length} pieces (limit ${MAX_VOCABULARY_TOKENS})`);
  vocab.forEach((entry: unknown, id) => {
    const piece: unknown = Array.isArray(entry) ? entry[0] : undefined;
    if (typeof piece !== 'string') throw new ModelFormatError(file, `Unigram model.vocab entry ${id} is not [piece, score]`);
    builder.set({ id, raw: piece, kind: 'normal' });
  });
}

function readMerges(merges: unknown, builder: VocabularyBuilder, file: string, modelType: string): void {
  if (merges === undefined || merges === null) {
    if (modelType === 'BPE') throw new ModelFormatError(file, 'BPE model has no merges');
    return;
  }
  if (!Array.isArray(merges)) throw new ModelFormatError(file, 'model.merges must be a list');
  if (merges.length > MAX_MERGES) throw new ModelFormatError(file, `model.merges has ${merges.length} entries (limit ${MAX_MERGES})`);
  merges.forEach((merge: unknown, rank) => {
    // Older files write "a b"; tokenizers >= 0.20 write ["a", "b"] so that sides may hold spaces.
    if (typeof merge === 'string') {
      builder.addMergeString(merge, `model.merges[${rank}]`);
    } else if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === 'string' && typeof merge[1] === 'string') {
      builder.addMerge(merge[0], merge[1]);
    } else {
      throw new ModelFormatError(file, `merge ${rank} is neither "a b" nor ["a", "b"]`);
    }
  });
}

function setUnkByName(unkToken: unknown, builder: VocabularyBuilder, ids: SpecialTokenIds): void {
  if (typeof unkToken !== 'string') return;
  const id = builder.findId(unkToken);
  if (id !== undefined) ids.unk = id;
}

/** Applies added_tokens (they override the model vocabulary at their id); returns how many are new ids. */
function readAddedTokens(addedTokens: unknown, builder: VocabularyBuilder, file: string): number {
  if (addedTokens === undefined || addedTokens === null) return 0;
  if (!Array.isArray(addedTokens)) throw new ModelFormatError(file, 'added_tokens must be a list');
  if (addedTokens.length > MAX_VOCABULARY_TOKENS) throw new ModelFormatError(file, `added_tokens has ${addedTokens.length} entries`);
  let newIds = 0;
  addedTokens.forEach((added: unknown, index) => {
    if (!isJsonObject(added) || typeof added['id'] !== 'number' || typeof added['content'] !== 'string') {
      throw new ModelFormatError(file, `added_tokens[${index}] needs a numeric "id" and a string "content"`);
    }
    const id = added['id'];
    if (!builder.has(id)) newIds++;
    builder.set({ id, raw: added['content'], kind: added['special'] === true ? 'special' : 'user-defined' }, true);
  });
  return newIds;
}
