// Look-alike ids (LL008): confusable characters folded, well-known organisations no shelter for a
// homoglyph, the document's own references as models to imitate, legitimate siblings left alone.
import * as assert from 'node:assert/strict';
import { findLookAlike, skeleton, WELL_KNOWN_MODEL_IDS } from '../../server/src/analysis/lookAlike';
import { WorkspaceReferenceIndex } from '../../server/src/analysis/workspaceReferenceIndex';

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

describe('look-alike ids across the workspace (analysis/workspaceReferenceIndex.ts)', () => {
  const squat = 'acme-labs/sentinel-1b-lnstruct';
  const real = 'acme-labs/sentinel-1b-Instruct';

  it('flags an id imitating a reference of another file, naming that file', () => {
    const index = new WorkspaceReferenceIndex();
    index.set('file:///ws/configs/config.yml', 'configs/config.yml', [real]);
    const partners = index.partnersOf([squat], 'file:///ws/a.py');
    assert.deepEqual(partners, [{ id: real, referencedIn: 'configs/config.yml' }]);
    assert.deepEqual(findLookAlike(squat, WELL_KNOWN_MODEL_IDS, [squat], partners), { wellKnownId: real, distance: 1, how: 'confusable', fromWorkspace: true, referencedIn: 'configs/config.yml' });
    // The real id, seen from config.yml, is not the imitation: `-ln` opens no English word.
    index.set('file:///ws/a.py', 'a.py', [squat]);
    assert.equal(findLookAlike(real, WELL_KNOWN_MODEL_IDS, [real], index.partnersOf([real], 'file:///ws/configs/config.yml')), undefined);
  });

  it('names the file of a well-known id when this file does not reference it', () => {
    const index = new WorkspaceReferenceIndex();
    index.set('file:///ws/b.yaml', 'b.yaml', ['meta-llama/Llama-3.1-8B-Instruct']);
    const found = findLookAlike('meta-llama/Llama-3.1-8B-lnstruct', WELL_KNOWN_MODEL_IDS, [], index.partnersOf(['meta-llama/Llama-3.1-8B-lnstruct'], 'file:///ws/a.py'));
    assert.deepEqual(found, { wellKnownId: 'meta-llama/Llama-3.1-8B-Instruct', distance: 1, how: 'confusable', referencedIn: 'b.yaml' });
  });

  it('leaves legitimately different ids of the workspace alone: sizes, versions, suffixes, case', () => {
    const index = new WorkspaceReferenceIndex();
    const others = ['acme/Llama-3.1-8B', 'acme/gpt2', 'acme/model-v1', 'org/bert-base', 'META-LLAMA/llama-3.1-8b'];
    index.set('file:///ws/b.yaml', 'b.yaml', others);
    for (const id of ['acme/Llama-3.1-70B', 'acme/gpt2-xl', 'acme/model-v2', 'org/bert-large', 'meta-llama/Llama-3.1-8B', 'acme/Llama-3.2-8B']) {
      assert.equal(findLookAlike(id, WELL_KNOWN_MODEL_IDS, [id], index.partnersOf([id], 'file:///ws/a.py')), undefined, id);
    }
  });

  it('reports which documents gain or lose a partner when a document changes', () => {
    const index = new WorkspaceReferenceIndex();
    assert.deepEqual(index.set('file:///ws/a.py', 'a.py', [squat, 'acme/other']), []);
    assert.deepEqual(index.set('file:///ws/b.yaml', 'b.yaml', [real]), ['file:///ws/a.py'], 'a.py gains a partner');
    assert.deepEqual(index.set('file:///ws/b.yaml', 'b.yaml', [real.toUpperCase()]), [], 'the Hub ignores case: nothing changed');
    assert.deepEqual(index.set('file:///ws/c.py', 'c.py', ['acme/unrelated']), [], 'an unrelated id affects nobody');
    assert.deepEqual(index.remove('file:///ws/b.yaml'), ['file:///ws/a.py'], 'a.py loses its partner');
    assert.deepEqual(index.partnersOf([squat], 'file:///ws/a.py'), []);
    assert.deepEqual(index.uris().sort(), ['file:///ws/a.py', 'file:///ws/c.py']);
  });
});
