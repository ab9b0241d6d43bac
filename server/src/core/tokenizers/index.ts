// Public surface of the tokenizer readers: one normalized Vocabulary from any tokenizer format,
// and the relation between two vocabularies.
export * from './vocabulary';
export { readTokenizerJson, vocabularyFromTokenizerJson } from './tokenizerJson';
export { readVocabTxt, vocabularyFromVocabTxt } from './vocabTxt';
export { readVocabJsonMerges, vocabularyFromVocabJsonMerges } from './vocabJsonMerges';
export { readSentencePieceModel, vocabularyFromSentencePieceModel, parseSentencePieceModel } from './sentencepiece';
export { vocabularyFromGgufMetadata } from './ggufTokenizer';
export { loadVocabularyFromFolder, loadVocabularyFromFile, type LoadVocabularyOptions } from './loadTokenizer';
export { compareVocabularies, type VocabularyRelation, type VocabularyRelationKind } from './compare';
export { MAX_TOKENIZER_FILE_BYTES } from './tokenizerFiles';
