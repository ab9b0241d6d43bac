// The JSON span scanner used for huge tokenizer vocabularies: same answers as JSON.parse (escapes,
// duplicates, nesting), clear failures on broken text, and a bounded entry count.
import { strict as assert } from 'node:assert';
import { findValueSpan, flatObjectEntries, JsonScanError, skipValue } from '../../../server/src/core/util/jsonSpans';
import { vocabularyFromTokenizerJson, vocabularyFromTokenizerJsonText } from '../../../server/src/core/tokenizers/tokenizerJson';
import { tokenizerJsonWithEntries } from '../../fixtures/hostileInputs';

describe('jsonSpans', () => {
  it('finds nested values and decodes keys like JSON.parse (escapes, last duplicate wins)', () => {
    const text = ' {"a": [1, {"x": "}"}], "model": {"vocab": {"\\u00e9t\\"\\\\": 3, "b": -2, "b": 7, "c": 1e3}, "merges": []}, "model": {"vocab": {"z": 0}}}';
    const span = findValueSpan(text, ['model', 'vocab'])!;
    assert.equal(text.slice(span.start, span.end), '{"z": 0}');
    const first = findValueSpan(text.replace(', "model": {"vocab": {"z": 0}}', ''), ['model', 'vocab'])!;
    const inner = text.replace(', "model": {"vocab": {"z": 0}}', '');
    const entries = flatObjectEntries(inner, first.start);
    assert.deepEqual([...entries], Object.entries(JSON.parse(inner.slice(first.start, first.end)) as object));
    assert.equal(findValueSpan(text, ['missing']), undefined);
  });

  it('fails clearly on broken text and past the entry budget', () => {
    assert.throws(() => skipValue('{"a": "unterminated', 0), JsonScanError);
    assert.throws(() => skipValue('{"a": [1, 2}', 0), JsonScanError);
    assert.throws(() => flatObjectEntries('{"a": 1, "b": 2, "c": 3}', 0, 2), /more than 2 entries/);
  });

  it('a large tokenizer.json read through the scanner equals the JSON.parse reading', () => {
    const text = tokenizerJsonWithEntries(120_000); // > 1 MiB: takes the scanning path
    assert.ok(text.length > 1 << 20);
    const scanned = vocabularyFromTokenizerJsonText(text, 't.json');
    const parsed = vocabularyFromTokenizerJson(JSON.parse(text), 't.json');
    assert.deepEqual(scanned.tokens, parsed.tokens);
    assert.equal(scanned.model, parsed.model);
    assert.throws(() => vocabularyFromTokenizerJsonText(text.replace('"tok0":0', '"tok0":0,'), 't.json'), /t\.json.*not valid JSON/);
  });
});
