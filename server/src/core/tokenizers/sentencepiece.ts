// Reads a SentencePiece `tokenizer.model` (a ModelProto protobuf) by hand into a normalized
// Vocabulary: pieces with their types, the trainer's model type and its special-token ids.
import { BinaryCursor } from '../io/binaryReader';
import { ModelFormatError } from '../errors';
import { readTokenizerFileBytes } from './tokenizerFiles';
import {
  WireType,
  expectWireType,
  readFieldKey,
  readInt32,
  readLengthDelimited,
  readVarint,
  skipField,
} from '../io/protobufWire';
import {
  MAX_VOCABULARY_TOKENS,
  VocabularyBuilder,
  type SpecialTokenIds,
  type TokenKind,
  type TokenizerModelKind,
  type Vocabulary,
} from './vocabulary';

/** sentencepiece_model.proto, ModelProto.SentencePiece.Type. */
export const SentencePieceType = {
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;

/** ModelProto field numbers. */
const MODEL_PIECES = 1;
const MODEL_TRAINER_SPEC = 2;
/** ModelProto.SentencePiece field numbers. */
const PIECE_TEXT = 1;
const PIECE_SCORE = 2;
const PIECE_TYPE = 3;
/** TrainerSpec field numbers. */
const TRAINER_MODEL_TYPE = 3;
const TRAINER_UNK_ID = 40;
const TRAINER_BOS_ID = 41;
const TRAINER_EOS_ID = 42;
const TRAINER_PAD_ID = 43;

/** Keeps a leading U+FEFF: Llama's vocabulary has a piece that is exactly the byte-order mark. */
const pieceDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

export interface SentencePiece {
  piece: string;
  score: number;
  type: number;
}

interface TrainerSpec {
  /** 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR; UNIGRAM when absent. */
  modelType: number;
  specialTokenIds: SpecialTokenIds;
}

export async function readSentencePieceModel(path: string, root?: string): Promise<Vocabulary> {
  return vocabularyFromSentencePieceModel(await readTokenizerFileBytes(path, undefined, root), path);
}

export function vocabularyFromSentencePieceModel(bytes: Uint8Array, file: string): Vocabulary {
  const { pieces, trainerSpec } = parseSentencePieceModel(bytes, file);
  const builder = new VocabularyBuilder(file, 'sentencepiece');
  let userDefined = 0;
  pieces.forEach((piece, id) => {
    if (piece.type === SentencePieceType.UserDefined) userDefined++;
    builder.set({ id, raw: piece.piece, kind: kindOfPieceType(piece.type) });
  });
  // Without a trainer spec, sentencepiece's defaults apply: unk 0, bos 1, eos 2, no pad.
  const spec = trainerSpec ?? { modelType: 1, specialTokenIds: { unk: 0, bos: 1, eos: 2 } };
  return builder.build({
    source: file,
    model: modelKindOf(spec.modelType),
    convention: 'sentencepiece',
    specialTokenIds: spec.specialTokenIds,
    addedTokenCount: userDefined,
  });
}

export function kindOfPieceType(type: number): TokenKind {
  switch (type) {
    case SentencePieceType.Unknown:
    case SentencePieceType.Control:
      return 'special';
    case SentencePieceType.UserDefined:
      return 'user-defined';
    case SentencePieceType.Byte:
      return 'byte';
    default:
      return 'normal';
  }
}

function modelKindOf(modelType: number): TokenizerModelKind {
  if (modelType === 1) return 'sentencepiece-unigram';
  if (modelType === 2) return 'sentencepiece-bpe';
  return 'unknown';
}

/** Walks the ModelProto: repeated pieces (field 1) and the trainer spec (field 2); skips the rest. */
export function parseSentencePieceModel(bytes: Uint8Array, file: string): { pieces: SentencePiece[]; trainerSpec?: TrainerSpec } {
  const cursor = new BinaryCursor(bytes, file);
  const pieces: SentencePiece[] = [];
  let trainerSpec: TrainerSpec | undefined;
  while (cursor.remaining > 0) {
    const key = readFieldKey(cursor);
    if (key.fieldNumber === MODEL_PIECES) {
      expectWireType(cursor, key, WireType.LengthDelimited, 'pieces');
      if (pieces.length >= MAX_VOCABULARY_TOKENS) cursor.fail(`more than ${MAX_VOCABULARY_TOKENS} pieces`);
      pieces.push(parsePiece(readLengthDelimited(cursor), pieces.length));
    } else if (key.fieldNumber === MODEL_TRAINER_SPEC) {
      expectWireType(cursor, key, WireType.LengthDelimited, 'trainer_spec');
      trainerSpec = parseTrainerSpec(readLengthDelimited(cursor));
    } else {
      skipField(cursor, key.wireType);
    }
  }
  if (pieces.length === 0) throw new ModelFormatError(file, 'holds no SentencePiece pieces (is it a SentencePiece tokenizer.model?)');
  return { pieces, trainerSpec };
}

function parsePiece(cursor: BinaryCursor, index: number): SentencePiece {
  let piece: string | undefined;
  let score = 0;
  let type: number = SentencePieceType.Normal;
  while (cursor.remaining > 0) {
    const key = readFieldKey(cursor);
    if (key.fieldNumber === PIECE_TEXT) {
      expectWireType(cursor, key, WireType.LengthDelimited, 'piece');
      piece = pieceDecoder.decode(cursor.take(readVarint(cursor)));
    } else if (key.fieldNumber === PIECE_SCORE) {
      expectWireType(cursor, key, WireType.Fixed32, 'score');
      score = cursor.f32();
    } else if (key.fieldNumber === PIECE_TYPE) {
      expectWireType(cursor, key, WireType.Varint, 'type');
      type = readVarint(cursor);
    } else {
      skipField(cursor, key.wireType);
    }
  }
  if (piece === undefined) {
    cursor.position = 0;
    cursor.fail(`piece ${index} has no text`);
  }
  return { piece, score, type };
}

function parseTrainerSpec(cursor: BinaryCursor): TrainerSpec {
  const spec: TrainerSpec = { modelType: 1, specialTokenIds: { unk: 0, bos: 1, eos: 2 } };
  while (cursor.remaining > 0) {
    const key = readFieldKey(cursor);
    const role = trainerIdRole(key.fieldNumber);
    if (key.fieldNumber === TRAINER_MODEL_TYPE) {
      expectWireType(cursor, key, WireType.Varint, 'model_type');
      spec.modelType = readVarint(cursor);
    } else if (role !== undefined) {
      expectWireType(cursor, key, WireType.Varint, `${role}_id`);
      const id = readInt32(cursor);
      // sentencepiece writes -1 for "this model has no such token".
      if (id >= 0) spec.specialTokenIds[role] = id;
      else delete spec.specialTokenIds[role];
    } else {
      skipField(cursor, key.wireType);
    }
  }
  return spec;
}

function trainerIdRole(fieldNumber: number): keyof SpecialTokenIds | undefined {
  switch (fieldNumber) {
    case TRAINER_UNK_ID:
      return 'unk';
    case TRAINER_BOS_ID:
      return 'bos';
    case TRAINER_EOS_ID:
      return 'eos';
    case TRAINER_PAD_ID:
      return 'pad';
    default:
      return undefined;
  }
}
