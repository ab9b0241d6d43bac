// Reads a BERT-style WordPiece `vocab.txt` (one token per line, id = line number)
// into a normalized Vocabulary.
import { readTokenizerTextFile, splitLines } from './tokenizerFiles';
import { VocabularyBuilder, type SpecialTokenIds, type Vocabulary } from './vocabulary';

/** The special tokens BERT's tokenizer defines by default; other bracketed tokens are ordinary. */
const BERT_SPECIAL_TOKENS = new Set(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);

export async function readVocabTxt(path: string, root?: string): Promise<Vocabulary> {
  return vocabularyFromVocabTxt(await readTokenizerTextFile(path, root), path);
}

export function vocabularyFromVocabTxt(text: string, file: string): Vocabulary {
  const builder = new VocabularyBuilder(file, 'wordpiece');
  // An empty line is a token id without a token (a hole), as in Hugging Face's load_vocab.
  splitLines(text).forEach((token, id) => {
    builder.set({ id, raw: token, kind: token === '' ? 'hole' : BERT_SPECIAL_TOKENS.has(token) ? 'special' : 'normal' });
  });
  const specialTokenIds: SpecialTokenIds = {};
  const unk = builder.findId('[UNK]');
  const pad = builder.findId('[PAD]');
  if (unk !== undefined) specialTokenIds.unk = unk;
  if (pad !== undefined) specialTokenIds.pad = pad;
  return builder.build({ source: file, model: 'wordpiece', convention: 'wordpiece', specialTokenIds, addedTokenCount: 0 });
}
