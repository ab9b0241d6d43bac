// One normalized vocabulary for every tokenizer format, and the normalization that makes the
// same real token compare equal whatever convention (byte-level, SentencePiece, WordPiece) stored it.
//
// Canonical form of a token: the TEXT it stands for.
// - GPT-2 byte-level (`Ġhello`): every character maps back to one byte through the inverse of
//   GPT-2's bytes_to_unicode table; the bytes are decoded as UTF-8 (`Ġhello` -> ' hello').
//   Bytes that do not form valid UTF-8 (a lone lead byte, a stray continuation byte) are written
//   as `<0xNN>` (upper-case hex), the spelling SentencePiece uses for its byte-fallback pieces,
//   so a lone byte token is the same string in both conventions. A token with a character
//   outside the byte table is not byte-level text and is kept as stored.
// - SentencePiece (`▁hello`): every `▁` (U+2581) becomes a space; byte pieces `<0xNN>` stay `<0xNN>`.
// - WordPiece (`hello`, `##lo`): a token without `##` starts a word, so it stands for ' hello';
//   `##lo` continues a word and stands for 'lo'. A bracketed token (`[CLS]`, `[unused0]`) is kept
//   as-is: it never comes from text, and llama.cpp's BERT conversion keeps it so too (it writes
//   word-initial tokens as `▁hello`, continuations as `lo`, brackets unchanged), which makes a
//   BERT GGUF and its vocab.txt normalize to the same strings.
// - Special / control tokens (`<s>`, `[CLS]`, `<|endoftext|>`) are kept exactly as stored and
//   listed in `specialTokens`. User-defined (added, non-special) tokens are raw text in every
//   format (Hugging Face added tokens are never byte-level encoded); only SentencePiece's `▁` is
//   turned into a space, as llama.cpp does when it detokenizes them.
// - Holes (ids without a token, and llama.cpp's `[PAD<id>]` fillers) are ''.
import { ModelFormatError } from '../errors';

export type TokenizerModelKind =
  | 'bpe'
  | 'wordpiece'
  | 'unigram'
  | 'sentencepiece-bpe'
  | 'sentencepiece-unigram'
  | 'wordlevel'
  | 'unknown';

/** How the stored token strings are spelled (not how the tokenizer splits text). */
export type TokenConvention = 'byte-level' | 'sentencepiece' | 'wordpiece' | 'plain';

/** What a stored token is, which decides how it is normalized. */
export type TokenKind = 'normal' | 'special' | 'user-defined' | 'byte' | 'hole';

export interface SpecialToken {
  id: number;
  content: string;
}

export interface SpecialTokenIds {
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
}

export interface Vocabulary {
  /** The file(s) the vocabulary was read from. */
  source: string;
  model: TokenizerModelKind;
  convention: TokenConvention;
  /** Normalized token string by id (see the module header); holes are ''. */
  tokens: string[];
  /** Token strings exactly as stored, by id. */
  rawTokens?: string[];
  /** Special / control tokens, by increasing id, content as stored. */
  specialTokens: SpecialToken[];
  specialTokenIds?: SpecialTokenIds;
  /** Normalized merges 'a b' in rank order (may be empty). A side may itself contain spaces, so
   * these strings are comparison keys, not something to split again. */
  merges: string[];
  /** Ids defined by added / user-defined tokens rather than by the base model vocabulary. */
  addedTokenCount: number;
}

/** Largest vocabulary we accept (the largest real one, XLM-V, has 901,629 tokens); bounds every id-indexed allocation. */
export const MAX_VOCABULARY_TOKENS = 2_000_000;
/** Largest merge list we accept. */
export const MAX_MERGES = 2_000_000;

const SENTENCEPIECE_SPACE = '\u2581';
const BYTE_PIECE_PATTERN = /^<0[xX]([0-9a-fA-F]{2})>$/;

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 and up. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();
/** Inverse table indexed by UTF-16 code unit (all images are below U+0144); -1 = not a byte char. */
const UNICODE_TO_BYTE: Int16Array = buildUnicodeToByte(BYTE_TO_UNICODE);

function buildByteToUnicode(): string[] {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table.push(String.fromCharCode(printable(b) ? b : 256 + next++));
  }
  return table;
}

function buildUnicodeToByte(byteToUnicode: readonly string[]): Int16Array {
  const inverse = new Int16Array(0x144).fill(-1);
  byteToUnicode.forEach((char, byte) => {
    inverse[char.charCodeAt(0)] = byte;
  });
  return inverse;
}

/** `<0xNN>` with upper-case hex: the canonical spelling of a byte that is not text. */
export function byteEscape(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** Encodes bytes as GPT-2 byte-level characters (the inverse of byteLevelToText for text). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += BYTE_TO_UNICODE[byte]!;
  return out;
}

/**
 * Decodes UTF-8 strictly; every byte that does not start a valid, shortest-form sequence is
 * written as `<0xNN>` and decoding resumes at the next byte.
 */
export function decodeUtf8WithByteEscapes(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      out += String.fromCharCode(lead);
      i += 1;
      continue;
    }
    let length: number;
    let codePoint: number;
    let minimum: number;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
      codePoint = lead & 0x1f;
      minimum = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      codePoint = lead & 0x0f;
      minimum = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      codePoint = lead & 0x07;
      minimum = 0x10000;
    } else {
      out += byteEscape(lead);
      i += 1;
      continue;
    }
    let valid = i + length <= bytes.length;
    for (let k = 1; valid && k < length; k++) {
      const continuation = bytes[i + k]!;
      if ((continuation & 0xc0) !== 0x80) valid = false;
      codePoint = codePoint * 64 + (continuation & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not valid UTF-8 either.
    if (!valid || codePoint < minimum || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      out += byteEscape(lead);
      i += 1;
      continue;
    }
    out += String.fromCodePoint(codePoint);
    i += length;
  }
  return out;
}

/** The bytes a byte-level token stands for, or undefined if a character is not in the byte table. */
export function byteLevelToBytes(token: string): Uint8Array | undefined {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const unit = token.charCodeAt(i);
    const byte = unit < UNICODE_TO_BYTE.length ? UNICODE_TO_BYTE[unit]! : -1;
    if (byte < 0) return undefined;
    bytes[i] = byte;
  }
  return bytes;
}

/** GPT-2 byte-level token -> text (see the module header); kept as stored if not byte-level. */
export function byteLevelToText(token: string): string {
  const bytes = byteLevelToBytes(token);
  return bytes === undefined ? token : decodeUtf8WithByteEscapes(bytes);
}

export function sentencePieceToText(token: string): string {
  return token.includes(SENTENCEPIECE_SPACE) ? token.replaceAll(SENTENCEPIECE_SPACE, ' ') : token;
}

export function wordPieceToText(token: string): string {
  if (token.startsWith('##')) return token.slice(2);
  if (token.startsWith('[') && token.endsWith(']')) return token;
  return ' ' + token;
}

/** A byte piece `<0xNN>` in canonical upper-case spelling, or undefined if it is not one. */
export function canonicalBytePiece(token: string): string | undefined {
  const match = BYTE_PIECE_PATTERN.exec(token);
  return match ? byteEscape(parseInt(match[1]!, 16)) : undefined;
}

/** Normalizes one stored token to the canonical text form described in the module header. */
export function normalizeToken(raw: string, convention: TokenConvention, kind: TokenKind = 'normal'): string {
  switch (kind) {
    case 'hole':
      return '';
    case 'special':
      return raw;
    case 'byte':
      return canonicalBytePiece(raw) ?? raw;
    case 'user-defined':
      return convention === 'sentencepiece' ? sentencePieceToText(raw) : raw;
    case 'normal':
      break;
  }
  switch (convention) {
    case 'byte-level':
      return byteLevelToText(raw);
    case 'sentencepiece':
      return sentencePieceToText(raw);
    case 'wordpiece':
      return wordPieceToText(raw);
    case 'plain':
      return raw;
  }
}

/** Normalizes one merge pair to the 'a b' comparison key. */
export function normalizeMerge(left: string, right: string, convention: TokenConvention): string {
  return `${normalizeToken(left, convention)} ${normalizeToken(right, convention)}`;
}

/** A token to place in a vocabulary under construction. */
export interface TokenEntry {
  id: number;
  raw: string;
  kind: TokenKind;
}

export interface VocabularyDescription {
  source: string;
  model: TokenizerModelKind;
  convention: TokenConvention;
  specialTokenIds?: SpecialTokenIds;
  addedTokenCount: number;
}

/**
 * Collects tokens by id (from any reader), validating ids against the limits, then normalizes
 * them once. Readers differ only in how they find (id, raw, kind); this is the shared rest.
 */
export class VocabularyBuilder {
  private readonly rawById: string[] = [];
  private readonly kindById: TokenKind[] = [];
  private readonly merges: string[] = [];

  constructor(
    private readonly file: string,
    private readonly convention: TokenConvention,
  ) {}

  get size(): number {
    return this.rawById.length;
  }

  has(id: number): boolean {
    const kind = this.kindById[id];
    return kind !== undefined && kind !== 'hole';
  }

  /** The id of a stored (raw) token, if present. */
  findId(raw: string): number | undefined {
    const id = this.rawById.indexOf(raw);
    return id < 0 || this.kindById[id] === 'hole' ? undefined : id;
  }

  /**
   * Places a token. `replace` allows overriding an id that is already set (added tokens
   * override the model vocabulary); otherwise a second token for one id is a format error.
   */
  set(entry: TokenEntry, replace = false): void {
    const { id, raw, kind } = entry;
    if (!Number.isSafeInteger(id) || id < 0 || id >= MAX_VOCABULARY_TOKENS) {
      throw new ModelFormatError(this.file, `token id ${id} for ${JSON.stringify(raw.slice(0, 40))} is outside 0..${MAX_VOCABULARY_TOKENS - 1}`);
    }
    if (!replace && this.has(id) && this.rawById[id] !== raw) {
      throw new ModelFormatError(
        this.file,
        `token id ${id} is given to both ${JSON.stringify(this.rawById[id]!.slice(0, 40))} and ${JSON.stringify(raw.slice(0, 40))}`,
      );
    }
    // Filling the gap keeps the arrays dense (no sparse-array slow paths); gaps become holes.
    while (this.rawById.length < id) {
      this.rawById.push('');
      this.kindById.push('hole');
    }
    this.rawById[id] = raw;
    this.kindById[id] = kind;
  }

  addMerge(left: string, right: string): void {
    if (this.merges.length >= MAX_MERGES) {
      throw new ModelFormatError(this.file, `more than ${MAX_MERGES} merges`);
    }
    this.merges.push(normalizeMerge(left, right, this.convention));
  }

  /** Adds a merge written "a b" (exactly one space); `where` locates it in errors ("line 7"). */
  addMergeString(merge: string, where: string): void {
    const space = merge.indexOf(' ');
    if (space <= 0 || space !== merge.lastIndexOf(' ') || space === merge.length - 1) {
      throw new ModelFormatError(this.file, `${where}: ${JSON.stringify(merge.slice(0, 40))} is not a merge "a b"`);
    }
    this.addMerge(merge.slice(0, space), merge.slice(space + 1));
  }

  build(description: VocabularyDescription): Vocabulary {
    if (this.rawById.length === 0) throw new ModelFormatError(this.file, 'the vocabulary is empty');
    const tokens: string[] = new Array<string>(this.rawById.length);
    const specialTokens: SpecialToken[] = [];
    for (let id = 0; id < this.rawById.length; id++) {
      const raw = this.rawById[id]!;
      const kind = this.kindById[id] ?? 'hole';
      tokens[id] = normalizeToken(raw, this.convention, kind);
      if (kind === 'special') specialTokens.push({ id, content: raw });
    }
    return {
      source: description.source,
      model: description.model,
      convention: description.convention,
      tokens,
      rawTokens: this.rawById.slice(),
      specialTokens,
      specialTokenIds: validSpecialTokenIds(description.specialTokenIds, tokens.length),
      merges: this.merges,
      addedTokenCount: description.addedTokenCount,
    };
  }
}

/** Drops special-token ids that do not name a token (e.g. llama.cpp writes 0xFFFFFFFF for "none"). */
function validSpecialTokenIds(ids: SpecialTokenIds | undefined, size: number): SpecialTokenIds | undefined {
  if (ids === undefined) return undefined;
  const valid: SpecialTokenIds = {};
  for (const role of ['bos', 'eos', 'unk', 'pad'] as const) {
    const id = ids[role];
    if (id !== undefined && Number.isSafeInteger(id) && id >= 0 && id < size) valid[role] = id;
  }
  return Object.keys(valid).length > 0 ? valid : undefined;
}

/** Number of ids that hold a token (holes excluded). */
export function countTokens(vocabulary: Vocabulary): number {
  let count = 0;
  for (const token of vocabulary.tokens) if (token !== '') count++;
  return count;
}
