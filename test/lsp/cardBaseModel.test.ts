// Unit tests of the pure pieces behind two quick fixes: the base_model edit for model cards (front
// matter shapes, line endings, relation vocabulary) and the table of transformers' pipeline defaults.
import * as assert from 'node:assert/strict';
import type { Verdict } from '../../server/src/core/compare/types';
import { addBaseModelEdit, baseModelRelation, type BaseModelRelation, readCardFrontMatter, touchesFrontMatter, verifiedAncestors } from '../../server/src/analysis/cardBaseModel';
import { transformersPipelineDefault } from '../../server/src/analysis/pipelineDefaults';
import type { LineageAssessment, ModelFacts } from '../../server/src/protocol';

/** The card text after adding `org/base`; `relation` null stands for "no relation known". */
function withBase(text: string, relation: BaseModelRelation | null = 'finetune'): string | undefined {
  const edit = addBaseModelEdit(readCardFrontMatter(text), 'org/base', relation ?? undefined);
  if (!edit) return undefined;
  const lines = text.split('\n');
  const offset = lines.slice(0, edit.range.start.line).reduce((sum, l) => sum + l.length + 1, 0) + edit.range.start.character;
  return text.slice(0, offset) + edit.newText + text.slice(offset);
}

function facts(files: Array<{ relativePath: string; role: string }>): ModelFacts {
  return { contentIdentity: 'x', displayName: 'x', format: 'safetensors', files: files.map((f) => ({ ...f, sizeBytes: 1 })), weightFiles: [], findings: [], declaredBases: [], integrity: [], problems: [] };
}

describe('base_model edits for model cards', () => {
  it('creates a front matter block at the top of a card without one', () => {
    assert.equal(withBase('# Model\n'), '---\nbase_model: org/base\nbase_model_relation: finetune\n---\n# Model\n');
    assert.equal(withBase(''), '---\nbase_model: org/base\nbase_model_relation: finetune\n---\n');
  });

  it('inserts before the closing line of an existing block, keeping CRLF and an existing relation', () => {
    assert.equal(withBase('---\r\nlicense: mit\r\n---\r\n# M\r\n'), '---\r\nlicense: mit\r\nbase_model: org/base\r\nbase_model_relation: finetune\r\n---\r\n# M\r\n');
    assert.equal(withBase('---\nbase_model_relation: quantized\n---\n'), '---\nbase_model_relation: quantized\nbase_model: org/base\n---\n');
    assert.equal(withBase('---\n---\n', null), '---\nbase_model: org/base\n---\n');
  });

  it('keeps a byte order mark first', () => {
    assert.equal(withBase('\uFEFF# Model\n'), '\uFEFF---\nbase_model: org/base\nbase_model_relation: finetune\n---\n# Model\n');
  });

  it('offers nothing for a card that has a base_model key, an unclosed block or front matter that is not a mapping', () => {
    assert.equal(withBase('---\nbase_model:\n---\n'), undefined);
    assert.equal(withBase('---\nlicense: mit\n# never closed\n'), undefined);
    assert.equal(withBase('---\n- a list\n---\n'), undefined);
    assert.equal(withBase('---\nkey: [unclosed\n---\n'), undefined);
  });

  it('anchors the action on the front matter lines, or on line 0 without a block', () => {
    const block = readCardFrontMatter('---\nlicense: mit\n---\n# M\n');
    const at = (line: number) => ({ start: { line, character: 0 }, end: { line, character: 0 } });
    assert.deepEqual([0, 1, 2, 3].map((l) => touchesFrontMatter(block, at(l))), [true, true, true, false]);
    const absent = readCardFrontMatter('# M\nbody\n');
    assert.deepEqual([0, 1].map((l) => touchesFrontMatter(absent, at(l))), [true, false]);
  });

  it('maps verdicts to the Hub relation vocabulary; copies are not ancestors, PEFT folders are adapters', () => {
    const plain = facts([{ relativePath: 'model.safetensors', role: 'weights' }]);
    const expected: Array<[Verdict, string | undefined]> = [['quantized', 'quantized'], ['derived', 'finetune'], ['merge', 'merge'], ['identical', undefined], ['same-weights', undefined], ['same-family', undefined]];
    for (const [verdict, relation] of expected) assert.equal(baseModelRelation(verdict, plain), relation, verdict);
    const peft = facts([{ relativePath: 'adapter_config.json', role: 'adapter' }]);
    assert.equal(baseModelRelation('derived', peft), 'adapter');

    const lineage: LineageAssessment = {
      status: 'verified',
      candidatesCompared: 3,
      declared: [],
      matches: [
        { repoId: 'org/copy', verdict: 'identical', reason: '', source: 'local-cache' },
        { repoId: 'org/base', verdict: 'derived', reason: '', source: 'local-cache', log10P: -50 },
      ],
    };
    assert.deepEqual(verifiedAncestors(lineage).map((m) => m.repoId), ['org/base']);
    assert.deepEqual(verifiedAncestors({ ...lineage, status: 'contradicted' }), []);
  });
});

describe("transformers' pipeline defaults", () => {
  it('resolves task aliases and translation pairs, and knows nothing about unknown tasks', () => {
    assert.deepEqual(transformersPipelineDefault('sentiment-analysis'), { repoId: 'distilbert/distilbert-base-uncased-finetuned-sst-2-english', revision: '714eb0f' });
    assert.deepEqual(transformersPipelineDefault('text-classification'), transformersPipelineDefault('sentiment-analysis'));
    assert.equal(transformersPipelineDefault('ner')?.repoId, 'dbmdz/bert-large-cased-finetuned-conll03-english');
    assert.equal(transformersPipelineDefault('translation_en_to_de')?.repoId, 'google-t5/t5-base');
    assert.equal(transformersPipelineDefault('translation'), undefined, 'plain translation needs a language pair');
    assert.equal(transformersPipelineDefault('constructor'), undefined, 'object prototype names are not tasks');
    assert.equal(transformersPipelineDefault('video-to-text'), undefined, 'a default on a moving branch is not offered');
  });
});
