// Finds and reads the tokenizer of a model folder, or of one tokenizer file, choosing the reader
// by which files exist (folder) or by name and first bytes (file). Never leaves the folder.
import { realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { readGgufFile } from '../formats/gguf';
import { LocalFileSource } from '../io/byteSource';
import { resolveConfined } from '../io/confinedPath';
import { ModelFormatError } from '../errors';
import { vocabularyFromGgufMetadata } from './ggufTokenizer';
import { readSentencePieceModel } from './sentencepiece';
import { isJsonObject, readTokenizerJsonFile } from './tokenizerFiles';
import { readTokenizerJson, vocabularyFromTokenizerJson } from './tokenizerJson';
import { readVocabJsonMerges } from './vocabJsonMerges';
import { readVocabTxt } from './vocabTxt';
import type { Vocabulary } from './vocabulary';

export interface LoadVocabularyOptions {
  /**
   * Symlinks may point anywhere inside this folder (default: the model folder itself). A Hugging
   * Face cache snapshot links to ../../blobs, so callers pass the repository's cache folder.
   */
  allowedRoot?: string;
}

/** SentencePiece model file names in the order we prefer them (Llama, T5, XLM-R). */
const SENTENCEPIECE_FILE_NAMES = ['tokenizer.model', 'spiece.model', 'sentencepiece.bpe.model'];

/**
 * The vocabulary of a model folder, preferring the most complete description:
 * tokenizer.json > vocab.json + merges.txt > SentencePiece model > vocab.txt.
 * Undefined when the folder has none of them; a file that exists but is malformed throws.
 */
export async function loadVocabularyFromFolder(folder: string, options: LoadVocabularyOptions = {}): Promise<Vocabulary | undefined> {
  const root = await realpath(options.allowedRoot ?? folder);
  const find = (name: string): Promise<string | undefined> => containedFile(folder, name, root);

  const tokenizerJson = await find('tokenizer.json');
  if (tokenizerJson !== undefined) return readTokenizerJson(tokenizerJson, root);

  const vocabJson = await find('vocab.json');
  const mergesTxt = await find('merges.txt');
  if (vocabJson !== undefined && mergesTxt !== undefined) return readVocabJsonMerges(vocabJson, mergesTxt, root);

  for (const name of SENTENCEPIECE_FILE_NAMES) {
    const model = await find(name);
    if (model !== undefined) return readSentencePieceModel(model, root);
  }

  const vocabTxt = await find('vocab.txt');
  if (vocabTxt !== undefined) return readVocabTxt(vocabTxt, root);
  return undefined;
}

/**
 * The vocabulary held by one file: tokenizer.json, vocab.json (with merges.txt beside it),
 * merges.txt (with vocab.json beside it), a SentencePiece model, vocab.txt, or a GGUF file.
 * Undefined for a GGUF without an embedded tokenizer.
 */
export async function loadVocabularyFromFile(filePath: string, options: LoadVocabularyOptions = {}): Promise<Vocabulary | undefined> {
  const folder = path.dirname(filePath);
  const root = await realpath(options.allowedRoot ?? folder);
  const file = await containedFile(folder, path.basename(filePath), root);
  if (file === undefined) throw new ModelFormatError(filePath, 'is not a regular file inside its folder');

  switch (await sniffTokenizerFile(file, root)) {
    case 'gguf': {
      const gguf = await readGgufFile(file, { root });
      return vocabularyFromGgufMetadata(gguf.metadata, file);
    }
    case 'sentencepiece':
      return readSentencePieceModel(file, root);
    case 'json': {
      if (path.basename(file) === 'tokenizer.json') return readTokenizerJson(file, root);
      const json = await readTokenizerJsonFile(file, root);
      if (isJsonObject(json) && isJsonObject(json['model'])) return vocabularyFromTokenizerJson(json, file);
      const merges = await containedFile(folder, 'merges.txt', root);
      return readVocabJsonMerges(file, merges, root);
    }
    case 'text': {
      if (path.basename(file) === 'merges.txt') {
        const vocab = await containedFile(folder, 'vocab.json', root);
        if (vocab === undefined) throw new ModelFormatError(file, 'merges.txt needs a vocab.json beside it');
        return readVocabJsonMerges(vocab, file, root);
      }
      return readVocabTxt(file, root);
    }
  }
}

type TokenizerFileKind = 'gguf' | 'sentencepiece' | 'json' | 'text';

/** Decides the reader from the first bytes, falling back to the file name. */
async function sniffTokenizerFile(file: string, root: string): Promise<TokenizerFileKind> {
  const source = await LocalFileSource.open(file, root);
  let head: Uint8Array;
  try {
    head = await source.read(0, Math.min(16, source.sizeBytes));
  } finally {
    await source.close();
  }
  if (head.length >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46) return 'gguf';
  const firstText = head.find((byte) => byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0xef && byte !== 0xbb && byte !== 0xbf);
  if (firstText === 0x7b) return 'json';
  // A ModelProto starts with field 1 (pieces), length-delimited: key byte 0x0a. A text file that
  // starts with a newline is possible, so the name has the last word for text-looking files.
  if (file.endsWith('.model') || (head[0] === 0x0a && !file.endsWith('.txt'))) return 'sentencepiece';
  if (file.endsWith('.json')) return 'json';
  return 'text';
}

/**
 * `folder/name` if it resolves to a regular file inside `root` (symlinks are resolved and must not
 * lead out), otherwise undefined. Reads open it again through the confined opener.
 */
async function containedFile(folder: string, name: string, root: string): Promise<string | undefined> {
  const candidate = path.join(folder, name);
  // Escaping links are skipped here; openModel reports them as findings when it lists the folder.
  const real = await resolveConfined(candidate, root).catch(() => undefined); // or missing, or dangling
  const info = real === undefined ? undefined : await stat(real).catch(() => undefined);
  // The in-folder name, not the link target, so that errors name the file the user knows.
  return info?.isFile() ? candidate : undefined;
}
