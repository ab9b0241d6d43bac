import { strict as assert } from 'node:assert';
import {
  BYTE_TO_UNICODE,
  byteLevelToBytes,
  bytesToByteLevel,
  decodeUtf8WithByteEscapes,
  normalizeMerge,
  normalizeToken,
} from '../../../server/src/core/tokenizers/vocabulary';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('tokenizers: normalizeToken', () => {
  describe('GPT-2 byte-level', () => {
    it('turns Ġ into a space and keeps ASCII', () => {
      assert.equal(normalizeToken('Ġhello', 'byte-level'), ' hello');
      assert.equal(normalizeToken('hello', 'byte-level'), 'hello');
      assert.equal(normalizeToken('ĊĊ', 'byte-level'), '\n\n');
    });

    it('maps all 256 bytes to 256 distinct characters and back', () => {
      assert.equal(new Set(BYTE_TO_UNICODE).size, 256);
      for (let byte = 0; byte < 256; byte++) {
        assert.deepEqual([...byteLevelToBytes(BYTE_TO_UNICODE[byte]!)!], [byte], `byte ${byte}`);
        // A lone byte is text when it is ASCII, otherwise it is not valid UTF-8 on its own.
        const expected = byte < 0x80 ? String.fromCharCode(byte) : `<0x${byte.toString(16).toUpperCase()}>`;
        assert.equal(normalizeToken(BYTE_TO_UNICODE[byte]!, 'byte-level'), expected, `byte ${byte}`);
      }
    });

    it('decodes multi-byte UTF-8 spread over byte characters', () => {
      const text = ' héllo 世界 🙂';
      assert.equal(normalizeToken(bytesToByteLevel(utf8(text)), 'byte-level'), text);
      assert.equal(normalizeToken('Ã©', 'byte-level'), 'é');
    });

    it('escapes bytes that do not form valid UTF-8 as <0xNN>', () => {
      assert.equal(normalizeToken('Ã', 'byte-level'), '<0xC3>'); // lead byte without continuation
      assert.equal(normalizeToken('Ġä¸', 'byte-level'), ' <0xE4><0xB8>'); // first two bytes of 世
      assert.equal(decodeUtf8WithByteEscapes(new Uint8Array([0xc0, 0xaf])), '<0xC0><0xAF>'); // overlong '/'
      assert.equal(decodeUtf8WithByteEscapes(new Uint8Array([0xed, 0xa0, 0x80])), '<0xED><0xA0><0x80>'); // surrogate
      assert.equal(decodeUtf8WithByteEscapes(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), '<0xF4><0x90><0x80><0x80>'); // > U+10FFFF
      assert.equal(decodeUtf8WithByteEscapes(new Uint8Array([0x41, 0x80, 0x42])), 'A<0x80>B');
    });

    it('keeps a token with characters outside the byte table as stored', () => {
      assert.equal(normalizeToken('<｜begin▁of▁sentence｜>', 'byte-level'), '<｜begin▁of▁sentence｜>');
    });
  });

  describe('SentencePiece', () => {
    it('turns every ▁ into a space', () => {
      assert.equal(normalizeToken('▁hello', 'sentencepiece'), ' hello');
      assert.equal(normalizeToken('▁▁a▁b', 'sentencepiece'), '  a b');
    });

    it('keeps byte pieces as upper-case <0xNN>, equal to a lone byte-level byte', () => {
      assert.equal(normalizeToken('<0x0A>', 'sentencepiece', 'byte'), '<0x0A>');
      assert.equal(normalizeToken('<0xe4>', 'sentencepiece', 'byte'), '<0xE4>');
      assert.equal(normalizeToken('<0xE4>', 'sentencepiece', 'byte'), normalizeToken('ä', 'byte-level'));
    });
  });

  describe('WordPiece', () => {
    it('makes word-initial tokens start with a space and strips ##', () => {
      assert.equal(normalizeToken('hello', 'wordpiece'), ' hello');
      assert.equal(normalizeToken('##ing', 'wordpiece'), 'ing');
      assert.equal(normalizeToken('###', 'wordpiece'), '#');
    });

    it('keeps bracketed tokens, as llama.cpp does', () => {
      assert.equal(normalizeToken('[unused0]', 'wordpiece'), '[unused0]');
      assert.equal(normalizeToken('[CLS]', 'wordpiece', 'special'), '[CLS]');
    });

    it('normalizes vocab.txt and llama.cpp GGUF spellings to the same text', () => {
      assert.equal(normalizeToken('the', 'wordpiece'), normalizeToken('▁the', 'sentencepiece'));
      assert.equal(normalizeToken('##s', 'wordpiece'), normalizeToken('s', 'sentencepiece'));
    });
  });

  it('keeps special tokens exactly and only unescapes ▁ in user-defined SentencePiece tokens', () => {
    assert.equal(normalizeToken('<|endoftext|>', 'byte-level', 'special'), '<|endoftext|>');
    assert.equal(normalizeToken('▁<s>', 'sentencepiece', 'special'), '▁<s>');
    assert.equal(normalizeToken('ĠĠ', 'byte-level', 'user-defined'), 'ĠĠ');
    assert.equal(normalizeToken('▁▁', 'sentencepiece', 'user-defined'), '  ');
    assert.equal(normalizeToken('[PAD5]', 'sentencepiece', 'hole'), '');
  });

  it('normalizes merges side by side', () => {
    assert.equal(normalizeMerge('Ġ', 't', 'byte-level'), '  t');
    assert.equal(normalizeMerge('▁t', 'he', 'sentencepiece'), ' t he');
  });
});
