import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ModelFormatError } from '../../../server/src/core/errors';
import type { GgufValue } from '../../../server/src/core/formats/gguf';
import { vocabularyFromGgufMetadata } from '../../../server/src/core/tokenizers/ggufTokenizer';
import { parseSentencePieceModel, readSentencePieceModel, vocabularyFromSentencePieceModel } from '../../../server/src/core/tokenizers/sentencepiece';
import { MAX_TOKENIZER_FILE_BYTES, readTokenizerFileBytes } from '../../../server/src/core/tokenizers/tokenizerFiles';
import { readTokenizerJson, vocabularyFromTokenizerJson } from '../../../server/src/core/tokenizers/tokenizerJson';
import { readVocabJsonMerges, vocabularyFromVocabJsonMerges } from '../../../server/src/core/tokenizers/vocabJsonMerges';
import { readVocabTxt, vocabularyFromVocabTxt } from '../../../server/src/core/tokenizers/vocabTxt';
import { MAX_VOCABULARY_TOKENS } from '../../../server/src/core/tokenizers/vocabulary';
import { zooPath } from '../../support/zoo';

/** Asserts a ModelFormatError naming `file` whose message matches `pattern`. */
function assertFormatError(run: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof ModelFormatError, `expected ModelFormatError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.message, pattern);
    return true;
  });
}

/** Protobuf bytes: a varint. */
function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}
/** Protobuf bytes: a length-delimited field. */
function lengthDelimited(field: number, payload: number[]): number[] {
  return [...varint(field * 8 + 2), ...varint(payload.length), ...payload];
}
function piece(text: string, type?: number): number[] {
  const fields = lengthDelimited(1, [...new TextEncoder().encode(text)]);
  if (type !== undefined) fields.push(...varint(3 * 8), ...varint(type));
  return lengthDelimited(1, fields);
}

describe('tokenizers: SentencePiece tokenizer.model', () => {
  it('reads the Llama 2 model: 32,000 pieces, BPE, byte fallback, the BOM piece intact', async () => {
    const vocabulary = await readSentencePieceModel(zooPath('tok-llama2-sentencepiece', 'tokenizer.model'));
    assert.equal(vocabulary.tokens.length, 32000);
    assert.equal(vocabulary.model, 'sentencepiece-bpe');
    assert.deepEqual(vocabulary.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.deepEqual(vocabulary.specialTokens, [{ id: 0, content: '<unk>' }, { id: 1, content: '<s>' }, { id: 2, content: '</s>' }]);
    assert.deepEqual(vocabulary.specialTokenIds, { unk: 0, bos: 1, eos: 2 });
    assert.equal(vocabulary.tokens[259], '  ');
    assert.equal(vocabulary.tokens[450], ' The');
    // Llama's piece 30143 is exactly U+FEFF; a decoder that strips byte-order marks loses it.
    assert.equal(vocabulary.tokens[30143], '\ufeff');
    assert.equal(vocabulary.tokens.filter((token) => token === '').length, 0);
  });

  it('reads piece types and an explicit trainer spec', () => {
    const trainerSpec = lengthDelimited(2, [...varint(3 * 8), 1, ...varint(43 * 8), ...varint(3)]);
    const bytes = new Uint8Array([...piece('<pad>', 3), ...piece('<0x41>', 6), ...piece('▁hi'), ...piece('▁x', 4), ...trainerSpec]);
    const vocabulary = vocabularyFromSentencePieceModel(bytes, 'm.model');
    assert.deepEqual(vocabulary.tokens, ['<pad>', '<0x41>', ' hi', ' x']);
    assert.equal(vocabulary.model, 'sentencepiece-unigram');
    assert.deepEqual(vocabulary.specialTokenIds, { unk: 0, bos: 1, eos: 2, pad: 3 });
    assert.equal(vocabulary.addedTokenCount, 1);
  });

  it('reads a negative int32 (pad_id -1) written as a 10-byte varint', () => {
    const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const trainerSpec = lengthDelimited(2, [...varint(43 * 8), ...minusOne, ...varint(40 * 8), 0]);
    const parsed = parseSentencePieceModel(new Uint8Array([...piece('a'), ...trainerSpec]), 'm.model');
    assert.deepEqual(parsed.trainerSpec?.specialTokenIds, { unk: 0, bos: 1, eos: 2 });
  });

  it('skips unknown fields of every wire type', () => {
    const unknown = [...varint(9 * 8 + 0), 0x96, 0x01, ...varint(10 * 8 + 1), 1, 2, 3, 4, 5, 6, 7, 8, ...varint(11 * 8 + 5), 1, 2, 3, 4, ...lengthDelimited(12, [1, 2, 3])];
    const bytes = new Uint8Array([...unknown, ...piece('a'), ...unknown]);
    assert.deepEqual(vocabularyFromSentencePieceModel(bytes, 'm.model').tokens, ['a']);
  });

  describe('hostile input', () => {
    it('rejects a truncated file with the offset of the fault', () => {
      const real = readFileSync(zooPath('tok-llama2-sentencepiece', 'tokenizer.model'));
      assertFormatError(() => parseSentencePieceModel(real.subarray(0, 1000), 'cut.model'), 'cut.model', /needs \d+ more bytes/);
    });

    it('rejects a varint longer than 10 bytes and one wider than 64 bits', () => {
      assertFormatError(() => parseSentencePieceModel(new Uint8Array([0x0a, ...new Array<number>(11).fill(0xff), 0x01]), 'v.model'), 'v.model', /longer than 10 bytes|overflows/);
      assertFormatError(() => parseSentencePieceModel(new Uint8Array([0x48, ...new Array<number>(9).fill(0xff), 0x02]), 'v.model'), 'v.model', /overflows 64 bits/);
    });

    it('rejects a giant length prefix without allocating it', () => {
      assertFormatError(() => parseSentencePieceModel(new Uint8Array([0x0a, ...varint(2 ** 40), 1, 2, 3]), 'g.model'), 'g.model', /needs 1099511627776 more bytes/);
    });

    it('rejects groups, field 0, wrong wire types, pieces without text and empty files', () => {
      assertFormatError(() => parseSentencePieceModel(new Uint8Array([0x0b]), 'w.model'), 'w.model', /wire type 3/);
      assertFormatError(() => parseSentencePieceModel(new Uint8Array([0x02, 0x00]), 'w.model'), 'w.model', /field number 0/);
      assertFormatError(() => parseSentencePieceModel(new Uint8Array([0x08, 0x01]), 'w.model'), 'w.model', /pieces \(1\) has wire type 0/);
      assertFormatError(() => parseSentencePieceModel(new Uint8Array(lengthDelimited(1, [0x18, 0x01])), 'w.model'), 'w.model', /piece 0 has no text/);
      assertFormatError(() => parseSentencePieceModel(new Uint8Array(0), 'e.model'), 'e.model', /no SentencePiece pieces/);
    });
  });
});

describe('tokenizers: tokenizer.json', () => {
  it('reads a byte-level BPE with merges given as pairs (tiny-gpt2)', async () => {
    const vocabulary = await readTokenizerJson(zooPath('tiny-gpt2', 'tokenizer.json'));
    assert.equal(vocabulary.convention, 'byte-level');
    assert.equal(vocabulary.model, 'bpe');
    assert.equal(vocabulary.tokens.length, 50257);
    assert.equal(vocabulary.merges.length, 50000);
    assert.equal(vocabulary.merges[0], '  t');
    assert.equal(vocabulary.tokens[464], 'The');
    assert.equal(vocabulary.tokens[383], ' The');
    assert.deepEqual(vocabulary.specialTokens, [{ id: 50256, content: '<|endoftext|>' }]);
  });

  it('reads a WordPiece tokenizer.json (MiniLM) with its special tokens', async () => {
    const vocabulary = await readTokenizerJson(zooPath('minilm-all-L6-v2-meta', 'tokenizer.json'));
    assert.equal(vocabulary.convention, 'wordpiece');
    assert.equal(vocabulary.tokens.length, 30522);
    assert.equal(vocabulary.tokens[1996], ' the');
    assert.deepEqual(vocabulary.specialTokens.map((special) => special.content), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    assert.deepEqual(vocabulary.specialTokenIds, { unk: 100 });
  });

  it('counts added tokens beyond the model vocabulary (onnxruntime tiny-random-gpt2)', async () => {
    const vocabulary = await readTokenizerJson(zooPath('ort-tiny-random-gpt2-fp32', 'tokenizer.json'));
    assert.equal(vocabulary.tokens.length, 50295);
    assert.equal(vocabulary.addedTokenCount, 38);
    // Added tokens are raw text, not byte-level: a run of spaces stays a run of spaces.
    assert.equal(vocabulary.tokens[50257], ' '.repeat(31));
  });

  it('reads Unigram (Metaspace) and merges written "a b"', () => {
    const unigram = vocabularyFromTokenizerJson(
      { model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0], ['▁the', -1], ['s', -2]] }, pre_tokenizer: { type: 'Metaspace' }, added_tokens: [{ id: 0, content: '<unk>', special: true }] },
      'u.json',
    );
    assert.deepEqual(unigram.tokens, ['<unk>', ' the', 's']);
    assert.equal(unigram.model, 'sentencepiece-unigram');
    assert.deepEqual(unigram.specialTokenIds, { unk: 0 });
    const bpe = vocabularyFromTokenizerJson(
      {
        model: { type: 'BPE', vocab: { '▁': 0, t: 1, '▁t': 2 }, merges: ['▁ t'] },
        normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      },
      'b.json',
    );
    assert.equal(bpe.model, 'sentencepiece-bpe');
    assert.deepEqual(bpe.tokens, [' ', 't', ' t']);
    assert.deepEqual(bpe.merges, ['  t']);
  });

  describe('hostile input', () => {
    it('rejects a non-object, a missing model and an unknown model type', () => {
      assertFormatError(() => vocabularyFromTokenizerJson([1, 2], 't.json'), 't.json', /must hold a JSON object/);
      assertFormatError(() => vocabularyFromTokenizerJson('text', 't.json'), 't.json', /must hold a JSON object/);
      assertFormatError(() => vocabularyFromTokenizerJson({ version: '1.0' }, 't.json'), 't.json', /no "model" object/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'Eval', vocab: {} } }, 't.json'), 't.json', /not a tokenizer model we read/);
    });

    it('rejects ids that would allocate a giant vocabulary, and ids that are not integers', () => {
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: { a: 1e9 } } }, 't.json'), 't.json', /token id 1000000000 .* is outside/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: { a: -1 } } }, 't.json'), 't.json', /outside/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: { a: 1.5 } } }, 't.json'), 't.json', /outside/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: { a: '0' } } }, 't.json'), 't.json', /not a number/);
      assertFormatError(
        () => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: { a: 0 } }, added_tokens: [{ id: MAX_VOCABULARY_TOKENS, content: 'x' }] }, 't.json'),
        't.json',
        /outside/,
      );
    });

    it('rejects two tokens with one id, malformed merges and malformed added tokens', () => {
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: { a: 0, b: 0 } } }, 't.json'), 't.json', /given to both "a" and "b"/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: ['ab'] } }, 't.json'), 't.json', /is not a merge "a b"/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: [['a']] } }, 't.json'), 't.json', /merge 0 is neither/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: {} } }, 't.json'), 't.json', /must be a list/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: { a: 0 } }, added_tokens: [{ content: 'x' }] }, 't.json'), 't.json', /added_tokens\[0\]/);
      assertFormatError(() => vocabularyFromTokenizerJson({ model: { type: 'WordLevel', vocab: {} } }, 't.json'), 't.json', /empty/);
    });
  });
});

describe('tokenizers: vocab.txt and vocab.json + merges.txt', () => {
  it('reads BERT vocab.txt: id = line number, ## continuation, bracketed tokens kept', async () => {
    const vocabulary = await readVocabTxt(zooPath('minilm-all-L6-v2-meta', 'vocab.txt'));
    assert.equal(vocabulary.tokens.length, 30522);
    assert.equal(vocabulary.tokens[1], '[unused0]');
    assert.equal(vocabulary.tokens[1996], ' the');
    assert.equal(vocabulary.tokens[29614], '#'); // '###' on line 29615
    assert.deepEqual(vocabulary.specialTokenIds, { unk: 100, pad: 0 });
  });

  it('reads GPT-2 vocab.json + merges.txt, skipping the #version line', async () => {
    const vocabulary = await readVocabJsonMerges(zooPath('tiny-gpt2', 'vocab.json'), zooPath('tiny-gpt2', 'merges.txt'));
    assert.equal(vocabulary.tokens.length, 50257);
    assert.equal(vocabulary.merges.length, 50000);
    assert.equal(vocabulary.merges[0], '  t');
    assert.deepEqual(vocabulary.specialTokenIds, { bos: 50256, eos: 50256 });
  });

  it('finds tiny-gpt2-medical vocab.json (pretty-printed, sorted keys) identical to tiny-gpt2', async () => {
    const base = await readVocabJsonMerges(zooPath('tiny-gpt2', 'vocab.json'), zooPath('tiny-gpt2', 'merges.txt'));
    const medical = await readVocabJsonMerges(zooPath('tiny-gpt2-medical', 'vocab.json'), zooPath('tiny-gpt2-medical', 'merges.txt'));
    assert.deepEqual(medical.tokens, base.tokens);
    assert.deepEqual(medical.merges, base.merges);
  });

  it('rejects malformed vocab.json, merges.txt and vocab.txt', async () => {
    assertFormatError(() => vocabularyFromVocabJsonMerges('[]', 'v.json'), 'v.json', /must hold an object/);
    assertFormatError(() => vocabularyFromVocabJsonMerges('{"a": ', 'v.json'), 'v.json', /not valid JSON/);
    assertFormatError(() => vocabularyFromVocabJsonMerges('{"a": 0}', 'v.json', '#version: 0.2\nab\n', 'm.txt'), 'v.json', /m\.txt line 2: "ab" is not a merge/);
    assertFormatError(() => vocabularyFromVocabTxt('', 'vocab.txt'), 'vocab.txt', /empty/);
    const folder = await mkdtemp(path.join(tmpdir(), 'lineage-tok-'));
    try {
      const invalidUtf8 = path.join(folder, 'vocab.txt');
      await writeFile(invalidUtf8, new Uint8Array([0x61, 0x0a, 0xff, 0x0a]));
      await assert.rejects(readVocabTxt(invalidUtf8), (err: unknown) => err instanceof ModelFormatError && /not valid UTF-8/.test(err.message));
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('refuses a tokenizer file larger than the cap without reading it', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'lineage-tok-'));
    try {
      const huge = path.join(folder, 'tokenizer.json');
      await writeFile(huge, '');
      await truncate(huge, MAX_TOKENIZER_FILE_BYTES + 1); // sparse: no disk space used
      await assert.rejects(readTokenizerFileBytes(huge), (err: unknown) => err instanceof ModelFormatError && /refused/.test(err.message));
      await assert.rejects(readTokenizerJson(huge), ModelFormatError);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe('tokenizers: GGUF tokenizer metadata', () => {
  it('maps token types, drops llama.cpp [PAD<id>] fillers and out-of-range special ids', () => {
    const metadata = new Map<string, GgufValue>([
      ['tokenizer.ggml.model', 'llama'],
      ['tokenizer.ggml.tokens', ['<unk>', '<s>', '<0x0A>', '▁hi', '<|user|>', '[PAD5]']],
      ['tokenizer.ggml.token_type', [2, 3, 6, 1, 4, 4]],
      ['tokenizer.ggml.bos_token_id', 1],
      ['tokenizer.ggml.padding_token_id', 4294967295],
    ]);
    const vocabulary = vocabularyFromGgufMetadata(metadata, 'v.gguf')!;
    assert.deepEqual(vocabulary.tokens, ['<unk>', '<s>', '<0x0A>', ' hi', '<|user|>', '']);
    assert.deepEqual(vocabulary.specialTokens, [{ id: 0, content: '<unk>' }, { id: 1, content: '<s>' }]);
    assert.deepEqual(vocabulary.specialTokenIds, { bos: 1 });
    assert.equal(vocabulary.addedTokenCount, 1);
  });

  it('returns undefined without a tokenizer and rejects inconsistent metadata', () => {
    assert.equal(vocabularyFromGgufMetadata(new Map<string, GgufValue>([['general.architecture', 'llama']]), 'v.gguf'), undefined);
    assert.equal(vocabularyFromGgufMetadata(new Map<string, GgufValue>([['tokenizer.ggml.model', 'none']]), 'v.gguf'), undefined);
    assertFormatError(() => vocabularyFromGgufMetadata(new Map<string, GgufValue>([['tokenizer.ggml.model', 'gpt2']]), 'v.gguf'), 'v.gguf', /no tokenizer\.ggml\.tokens/);
    assertFormatError(() => vocabularyFromGgufMetadata(new Map<string, GgufValue>([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.tokens', 'abc']]), 'v.gguf'), 'v.gguf', /not an array/);
    assertFormatError(() => vocabularyFromGgufMetadata(new Map<string, GgufValue>([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.tokens', ['a', 7]]]), 'v.gguf'), 'v.gguf', /tokens\[1\] is not a string/);
    assertFormatError(
      () => vocabularyFromGgufMetadata(new Map<string, GgufValue>([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.tokens', ['a', 'b']], ['tokenizer.ggml.token_type', [1]]]), 'v.gguf'),
      'v.gguf',
      /1 entries for 2 tokens/,
    );
    assertFormatError(
      () => vocabularyFromGgufMetadata(new Map<string, GgufValue>([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.tokens', ['a']], ['tokenizer.ggml.merges', ['a']]]), 'v.gguf'),
      'v.gguf',
      /merges\[0\]: "a" is not a merge/,
    );
  });
});
