// Reads a GPT-2-style `vocab.json` (token -> id, byte-level spelling) with its `merges.txt`
// into a normalized Vocabulary.
import { ModelFormatError } from '../errors';
import { isJsonObject, parseJsonText, readTokenizerTextFile, splitLines } from './tokenizerFiles';
import { MAX_VOCABULARY_TOKENS, VocabularyBuilder, type SpecialTokenIds, type Vocabulary } from './vocabulary';

/** GPT-2-family special tokens are spelled `<|name|>` (`<|endoftext|>`). */
const SPECIAL_TOKEN_PATTERN = /^<\|[^|]{1,64}\|>$/;

export async function readVocabJsonMerges(vocabPath: string, mergesPath?: string, root?: string): Promise<Vocabulary> {
  const vocabText = await readTokenizerTextFile(vocabPath, root);
  const mergesText = mergesPath === undefined ? undefined : await readTokenizerTextFile(mergesPath, root);
  return vocabularyFromVocabJsonMerges(vocabText, vocabPath, mergesText, mergesPath);
}

export function vocabularyFromVocabJsonMerges(
  vocabText: string,
  vocabFile: string,
  mergesText?: string,
  mergesFile?: string,
): Vocabulary {
  const vocab = parseJsonText(vocabText, vocabFile);
  if (!isJsonObject(vocab)) throw new ModelFormatError(vocabFile, 'vocab.json must hold an object mapping token to id');
  const builder = new VocabularyBuilder(vocabFile, 'byte-level');
  let count = 0;
  for (const token in vocab) {
    if (++count > MAX_VOCABULARY_TOKENS) throw new ModelFormatError(vocabFile, `has more than ${MAX_VOCABULARY_TOKENS} tokens`);
    const id = vocab[token];
    if (typeof id !== 'number') throw new ModelFormatError(vocabFile, `id of ${JSON.stringify(token.slice(0, 40))} is not a number`);
    builder.set({ id, raw: token, kind: SPECIAL_TOKEN_PATTERN.test(token) ? 'special' : 'normal' });
  }
  if (mergesText !== undefined) readMergesTxt(mergesText, mergesFile ?? vocabFile, builder);

  const specialTokenIds: SpecialTokenIds = {};
  const endOfText = builder.findId('<|endoftext|>');
  if (endOfText !== undefined) {
    // GPT-2 uses <|endoftext|> as both beginning and end of text.
    specialTokenIds.bos = endOfText;
    specialTokenIds.eos = endOfText;
  }
  const source = mergesFile === undefined ? vocabFile : `${vocabFile} + ${mergesFile}`;
  return builder.build({ source, model: 'bpe', convention: 'byte-level', specialTokenIds, addedTokenCount: 0 });
}

function readMergesTxt(text: string, file: string, builder: VocabularyBuilder): void {
  splitLines(text).forEach((line, index) => {
    // The first line of a tokenizers-written merges.txt is "#version: 0.2"; it is not a merge.
    if ((index === 0 && line.startsWith('#version')) || line === '') return;
    builder.addMergeString(line, `${file} line ${index + 1}`);
  });
}
