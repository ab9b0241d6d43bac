import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { compareVocabularies, type VocabularyRelation } from '../../../server/src/core/tokenizers/compare';
import { loadVocabularyFromFile, loadVocabularyFromFolder } from '../../../server/src/core/tokenizers/loadTokenizer';
import { vocabularyFromTokenizerJson } from '../../../server/src/core/tokenizers/tokenizerJson';
import { readTokenizerJson } from '../../../server/src/core/tokenizers/tokenizerJson';
import { readVocabJsonMerges } from '../../../server/src/core/tokenizers/vocabJsonMerges';
import { readVocabTxt } from '../../../server/src/core/tokenizers/vocabTxt';
import type { Vocabulary } from '../../../server/src/core/tokenizers/vocabulary';
import { zooPath } from '../../support/zoo';

/** A WordLevel vocabulary with the given tokens by id ('' = no token at that id). */
function wordLevel(tokens: string[], specials: string[] = []): Vocabulary {
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    if (token !== '') vocab[token] = id;
  });
  const added_tokens = specials.map((content) => ({ id: vocab[content], content, special: true }));
  return vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab }, added_tokens }, 'synthetic.json');
}

const words = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

describe('tokenizers: compareVocabularies rules', () => {
  it('identical: same string at every id', () => {
    const relation = compareVocabularies(wordLevel(words('w', 10)), wordLevel(words('w', 10)));
    assert.equal(relation.relation, 'identical');
    assert.equal(relation.commonPrefix, 10);
  });

  it('extends: the smaller is an id-prefix of the larger, or the larger fills its holes', () => {
    assert.equal(compareVocabularies(wordLevel(words('w', 10)), wordLevel(words('w', 12))).relation, 'b-extends-a');
    const withHole = words('w', 10);
    withHole[4] = '';
    const relation = compareVocabularies(wordLevel(words('w', 10)), wordLevel(withHole));
    assert.equal(relation.relation, 'a-extends-b');
    assert.equal(relation.sizeB, 9);
    assert.equal(relation.commonPrefix, 4);
  });

  it('common ancestor: most content tokens at the same ids, even with one edit early on', () => {
    const edited = words('w', 10);
    edited[1] = 'changed';
    const relation = compareVocabularies(wordLevel(words('w', 10)), wordLevel(edited));
    assert.equal(relation.commonPrefix, 1);
    assert.equal(relation.relation, 'common-ancestor');
  });

  it('does not call a shared alphabet and shared specials a common ancestor', () => {
    // Same specials and single characters at the same ids, different content after them.
    const alphabet = ['<s>', 'a', 'b', 'c', 'd', 'e', 'f'];
    const a = wordLevel([...alphabet, ...words('x', 4)], ['<s>']);
    const b = wordLevel([...alphabet, ...words('y', 4)], ['<s>']);
    const relation = compareVocabularies(a, b);
    assert.ok(relation.samePositionFraction > 0.6);
    assert.equal(relation.samePositionContentFraction, 0);
    assert.equal(relation.relation, 'overlapping');
  });

  it('overlapping when strings are shared at other ids, disjoint when few are', () => {
    const shifted = compareVocabularies(wordLevel(words('w', 10)), wordLevel(['new', ...words('w', 10)]));
    assert.equal(shifted.relation, 'overlapping');
    assert.equal(shifted.shared, 10);
    assert.equal(shifted.samePosition, 0);
    const disjoint = compareVocabularies(wordLevel(words('w', 10)), wordLevel([...words('v', 9), 'w3']));
    assert.equal(disjoint.relation, 'disjoint');
    assert.equal(disjoint.jaccard, 1 / 19);
  });

  it('compares merges as identical, prefix or different', () => {
    const bpe = (merges: string[]): Vocabulary =>
      vocabularyFromTokenizerJson({ model: { type: 'BPE', vocab: { a: 0, b: 1, c: 2, ab: 3, bc: 4 }, merges } }, 'm.json');
    assert.equal(compareVocabularies(bpe(['a b', 'b c']), bpe(['a b', 'b c'])).mergesRelation, 'identical');
    assert.equal(compareVocabularies(bpe(['a b']), bpe(['a b', 'b c'])).mergesRelation, 'prefix');
    assert.equal(compareVocabularies(bpe(['b c', 'a b']), bpe(['a b', 'b c'])).mergesRelation, 'different');
    assert.equal(compareVocabularies(wordLevel(['a']), wordLevel(['a'])).mergesRelation, undefined);
  });
});

/** Reads a zoo entry: the GGUF file in a tok-* folder, or the folder's tokenizer files. */
async function loadZoo(entry: string): Promise<Vocabulary> {
  const folder = zooPath(entry);
  const gguf = readdirSync(folder).find((name) => name.endsWith('.gguf'));
  const vocabulary = gguf === undefined ? await loadVocabularyFromFolder(folder) : await loadVocabularyFromFile(zooPath(entry, gguf));
  assert.ok(vocabulary, `${entry} has a vocabulary`);
  return vocabulary;
}

const cache = new Map<string, Promise<Vocabulary>>();
function zoo(entry: string): Promise<Vocabulary> {
  let loaded = cache.get(entry);
  if (loaded === undefined) {
    loaded = loadZoo(entry);
    cache.set(entry, loaded);
  }
  return loaded;
}

function inRange(value: number, low: number, high: number, what: string): void {
  assert.ok(value >= low && value <= high, `${what} = ${value}, expected ${low}..${high}`);
}

describe('tokenizers: zoo pairs (PAIRS.md, Tokenizers)', () => {
  let relation: VocabularyRelation;

  it('T1 llama-spm GGUF vs Llama 2 tokenizer.model: identical 32,000 pieces', async () => {
    const [a, b] = await Promise.all([zoo('tok-llama-spm'), zoo('tok-llama2-sentencepiece')]);
    relation = compareVocabularies(a, b);
    assert.equal(a.tokens.length, 32000);
    assert.equal(b.tokens.length, 32000);
    // Piece 30143 is U+FEFF: a UTF-8 decoder that strips byte-order marks turns it into a hole.
    assert.equal(a.tokens[30143], '\ufeff', 'GGUF strings must be decoded with the byte-order mark kept (TextDecoder ignoreBOM: true)');
    assert.equal(relation.relation, 'identical');
    assert.equal(relation.samePosition, 32000);
    assert.equal(relation.shared, 32000);
  });

  it('T2 llama-spm vs phi-3: B extends A, first 32,000 identical, 64 ids added', async () => {
    const [a, b] = await Promise.all([zoo('tok-llama-spm'), zoo('tok-phi-3')]);
    relation = compareVocabularies(a, b);
    assert.equal(relation.relation, 'b-extends-a');
    assert.equal(relation.commonPrefix, 32000);
    assert.equal(relation.containmentAinB, 1);
    assert.equal(b.tokens.length - a.tokens.length, 64);
    // Of the 64 ids, 11 hold Phi-3's chat tokens; 53 are llama.cpp's [PAD<id>] fillers (holes).
    assert.equal(relation.sizeB, 32011);
    assert.deepEqual(b.tokens.slice(32000, 32003), ['<|endoftext|>', '<|assistant|>', '<|placeholder1|>']);
  });

  it('T3 gpt-neox vs mpt: identical', async () => {
    relation = compareVocabularies(await zoo('tok-gpt-neox'), await zoo('tok-mpt'));
    assert.equal(relation.relation, 'identical');
    assert.equal(relation.sizeA, 50277);
    assert.equal(relation.mergesRelation, 'identical');
  });

  it('T4 gpt-2 GGUF vs tiny-gpt2 vocab.json + merges.txt and tokenizer.json: identical GPT-2 vocabulary', async () => {
    const gpt2 = await zoo('tok-gpt-2');
    const fromVocabJson = await readVocabJsonMerges(zooPath('tiny-gpt2', 'vocab.json'), zooPath('tiny-gpt2', 'merges.txt'));
    const fromTokenizerJson = await readTokenizerJson(zooPath('tiny-gpt2', 'tokenizer.json'));
    for (const other of [fromVocabJson, fromTokenizerJson]) {
      relation = compareVocabularies(gpt2, other);
      assert.equal(relation.relation, 'identical');
      assert.equal(relation.samePosition, 50257);
      assert.equal(relation.mergesRelation, 'identical');
    }
  });

  it('T5 bert-bge GGUF vs MiniLM vocab.txt (and tokenizer.json): identical once ▁/## are normalized', async () => {
    const bert = await zoo('tok-bert-bge');
    for (const other of [await readVocabTxt(zooPath('minilm-all-L6-v2-meta', 'vocab.txt')), await zoo('minilm-all-L6-v2-meta')]) {
      relation = compareVocabularies(bert, other);
      assert.equal(relation.relation, 'identical');
      assert.equal(relation.samePosition, 30522);
    }
  });

  it('T6 MiniLM L6 vs L12 tokenizer.json: identical', async () => {
    relation = compareVocabularies(await zoo('minilm-all-L6-v2-meta'), await zoo('minilm-all-L12-v2-meta'));
    assert.equal(relation.relation, 'identical');
    assert.equal(relation.sizeA, 30522);
  });

  it('T7 dbrx vs stablelm: common ancestor, first 100,000 ids identical', async () => {
    relation = compareVocabularies(await zoo('tok-dbrx'), await zoo('tok-stablelm'));
    assert.equal(relation.relation, 'common-ancestor');
    assert.equal(relation.commonPrefix, 100256); // cl100k_base's ordinary tokens; specials differ after
    assert.equal(relation.mergesRelation, 'identical');
    assert.equal(relation.samePosition, 100261);
  });

  it('T8 refact vs starcoder: about 99.5% shared strings, ids shifted', async () => {
    relation = compareVocabularies(await zoo('tok-refact'), await zoo('tok-starcoder'));
    inRange(relation.jaccard, 0.99, 0.999, 'jaccard');
    assert.equal(relation.shared, 49060);
    assert.ok(relation.samePositionFraction < 0.02, `samePositionFraction ${relation.samePositionFraction}`);
    assert.equal(relation.relation, 'overlapping');
  });

  it('TN1 Llama 2 vs OpenLLaMA tokenizer.model: about 37% overlap, about 0.8% same-position', async () => {
    relation = compareVocabularies(await zoo('tok-llama2-sentencepiece'), await zoo('tok-openllama-sentencepiece'));
    inRange(relation.jaccard, 0.35, 0.39, 'jaccard');
    inRange(relation.samePositionFraction, 0.006, 0.01, 'samePositionFraction');
    assert.equal(relation.commonPrefix, 259); // <unk> <s> </s> and the 256 byte pieces
    assert.equal(relation.relation, 'overlapping');
  });

  it('TN2 deepseek-coder vs deepseek-llm: Jaccard about 0.30', async () => {
    relation = compareVocabularies(await zoo('tok-deepseek-coder'), await zoo('tok-deepseek-llm'));
    inRange(relation.jaccard, 0.28, 0.33, 'jaccard');
    assert.equal(relation.relation, 'overlapping');
  });

  it('TN3 baichuan vs llama-spm: low overlap, no lineage relation', async () => {
    relation = compareVocabularies(await zoo('tok-baichuan'), await zoo('tok-llama-spm'));
    inRange(relation.jaccard, 0.15, 0.25, 'jaccard');
    assert.ok(relation.samePositionFraction < 0.001);
    assert.equal(relation.relation, 'overlapping');
  });

  it('TN4 falcon vs gpt-2: Jaccard about 0.58, about 0 same-position', async () => {
    relation = compareVocabularies(await zoo('tok-falcon'), await zoo('tok-gpt-2'));
    inRange(relation.jaccard, 0.56, 0.6, 'jaccard');
    assert.ok(relation.samePositionFraction < 0.001, `samePositionFraction ${relation.samePositionFraction}`);
    assert.equal(relation.relation, 'overlapping');
    assert.equal(relation.mergesRelation, 'different');
  });

  it('stories260K (its own 512-piece SentencePiece) is not a common ancestor of Llama despite 259 shared leading ids', async () => {
    relation = compareVocabularies(await zoo('tinyllamas-stories260K-gguf'), await zoo('tok-llama-spm'));
    assert.ok(relation.samePositionFraction > 0.5);
    assert.equal(relation.relation, 'overlapping');
  });

  it('onnxruntime tiny-random-gpt2 extends the GPT-2 tokenizer with 38 added tokens', async () => {
    relation = compareVocabularies(await zoo('tiny-gpt2'), await zoo('ort-tiny-random-gpt2-fp32'));
    assert.equal(relation.relation, 'b-extends-a');
    assert.equal(relation.sizeB - relation.sizeA, 38);
    assert.equal(relation.mergesRelation, 'identical');
  });

  afterEach(function () {
    // Keeps the measured numbers in the test log, for the report and for tuning the rules.
    if (this.currentTest?.state === 'passed' && relation !== undefined && process.env['LINEAGE_PRINT_RELATIONS']) {
      console.log(`      ${JSON.stringify(relation)}`);
    }
  });
});
