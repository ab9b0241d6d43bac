// Look-alike ids (LL008): confusable characters folded, well-known organisations no shelter for a
// homoglyph, the document's own references as models to imitate, legitimate siblings left alone.
import * as assert from 'node:assert/strict';
import { findLookAlike, skeleton, WELL_KNOWN_MODEL_IDS } from '../../server/src/analysis/lookAlike';

describe('look-alike ids (analysis/lookAlike.ts)', () => {
  it('folds l/I/1, rn/m, 0/O, -/_, case and Cyrillic letters', () => {
    assert.equal(skeleton('meta-llama/Llama-3.1-8B-lnstruct'), skeleton('meta-llama/Llama-3.1-8B-Instruct'));
    assert.equal(skeleton('mistra1ai/Mistral-7B-v0.1'), skeleton('mistralai/Mistral-7B-v0.1'));
    assert.equal(skeleton('google/gemrna-7b'), skeleton('google/gemma-7b'));
    assert.equal(skeleton('Qwen/Qwen2.5-7B_lnstruct'), skeleton('qwen/qwen2.5-7b-instruct'));
    assert.equal(skeleton('\u043epenai-community/gpt2'), skeleton('openai-community/gpt2'));
    assert.notEqual(skeleton('meta-llama/Llama-3.2-1B'), skeleton('meta-llama/Llama-3.2-3B'));
  });

  it('flags a homoglyph inside the well-known organisation itself', () => {
    const found = findLookAlike('meta-llama/Llama-3.1-8B-lnstruct');
    assert.deepEqual(found, { wellKnownId: 'meta-llama/Llama-3.1-8B-Instruct', distance: 1, how: 'confusable' });
  });

  it('still flags edits from a well-known id outside its organisation, and leaves siblings of the organisation alone', () => {
    assert.equal(findLookAlike('meta-lama/Llama-3.1-8B')?.wellKnownId, 'meta-llama/Llama-3.1-8B');
    assert.equal(findLookAlike('meta-lama/Llama-3.1-8B')?.how, 'edit');
    assert.equal(findLookAlike('meta-llama/Llama-3.1-70B'), undefined);
    assert.equal(findLookAlike('META-LLAMA/llama-3.1-8b-instruct'), undefined, 'the Hub ignores case');
  });

  it('compares with the other references of the document, not only the well-known list', () => {
    const documentIds = ['acme/c1assifier-v2', 'acme/classifier-v2', 'acme/classifier-v3'];
    const found = findLookAlike('acme/c1assifier-v2', WELL_KNOWN_MODEL_IDS, documentIds);
    assert.equal(found?.wellKnownId, 'acme/classifier-v2');
    assert.equal(found?.fromDocument, true);
    assert.equal(findLookAlike('acme/classifier-v3', WELL_KNOWN_MODEL_IDS, documentIds), undefined, 'a real sibling is no look-alike');
  });
});

describe('look-alike ids: which of two document references is the imitation', () => {
  it('flags the one with digits inside words, not the plain spelling', () => {
    const documentIds = ['acme/c1assifier-v2', 'acme/classifier-v2'];
    assert.equal(findLookAlike('acme/classifier-v2', WELL_KNOWN_MODEL_IDS, documentIds), undefined);
    assert.equal(findLookAlike('acme/c1assifier-v2', WELL_KNOWN_MODEL_IDS, documentIds)?.wellKnownId, 'acme/classifier-v2');
  });
});
