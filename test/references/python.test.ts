// Python finder: every loader syntax of the fixture, exact ranges, value resolution, negatives, scale.
import * as assert from 'node:assert/strict';
import { findReferences } from '../../server/src/references';
import type { ModelReferenceSite } from '../../server/src/references/types';
import { assertRangesCoverIds, range, readDocument, siteFor, textAt } from './helpers';

describe('references/python', () => {
  const text = readDocument('loaders.py');
  let sites: ModelReferenceSite[];
  before(async () => {
    sites = await findReferences(text, '/work/project/loaders.py');
  });

  it('reports a from_pretrained id with its exact range, revision and trust_remote_code range', () => {
    const site = siteFor(sites, 'openai-community/gpt2');
    assert.equal(site.loader, 'AutoModelForCausalLM.from_pretrained');
    assert.equal(site.kind, 'model');
    assert.deepEqual(site.range, range(13, 46, 13, 67));
    assert.deepEqual(site.revision, { value: 'main', range: range(13, 80, 13, 84) });
    assert.equal(site.flags.trustRemoteCode, true);
    assert.equal(textAt(text, site.flags.trustRemoteCodeRange!), 'trust_remote_code=True');
    assert.deepEqual(site.insertion, { position: { line: 13, character: 109 }, needsComma: true, style: 'python-keyword' });
    assert.equal(site.reference?.kind, 'hub');
    assert.equal(site.reference?.kind === 'hub' && site.reference.repoId, 'openai-community/gpt2');
  });

  it('follows module constants: the range points at the constant literal, the usage at the argument', () => {
    const site = siteFor(sites, 'meta-llama/Llama-3.1-8B');
    assert.equal(site.loader, 'AutoTokenizer.from_pretrained');
    assert.deepEqual(site.range, range(4, 12, 4, 35));
    assert.deepEqual(site.usageRange, range(14, 36, 14, 44));
    assert.equal(site.revision?.value, '0123456789abcdef0123456789abcdef01234567');
    assert.deepEqual(site.revision?.range, range(5, 12, 5, 52));
  });

  it('reads pipeline models by keyword and by position, and flags a pipeline without a model', () => {
    const keyword = siteFor(sites, 'HuggingFaceH4/zephyr-7b-beta');
    assert.equal(keyword.loader, 'pipeline');
    assert.equal(keyword.task, 'text-generation');
    const positional = siteFor(sites, 'distilbert/distilbert-base-uncased');
    assert.equal(positional.task, 'text-classification');
    const implicit = sites.filter((site) => site.flags.implicitDefault);
    assert.equal(implicit.length, 1);
    assert.equal(implicit[0]?.task, 'sentiment-analysis');
    assert.equal(textAt(text, implicit[0]!.range), 'sentiment-analysis');
  });

  it('prefixes bare sentence-transformers names with their organisation', () => {
    const site = siteFor(sites, 'all-MiniLM-L6-v2');
    assert.equal(site.loader, 'SentenceTransformer');
    assert.equal(site.reference?.kind === 'hub' && site.reference.repoId, 'sentence-transformers/all-MiniLM-L6-v2');
    assert.equal(siteFor(sites, 'cross-encoder/ms-marco-MiniLM-L-6-v2').loader, 'CrossEncoder');
  });

  it('reads hub download helpers, vLLM, llama-cpp-python, PEFT adapters and datasets', () => {
    const download = siteFor(sites, 'TheBloke/Llama-2-7B-GGUF');
    assert.equal(download.loader, 'hf_hub_download');
    assert.equal(download.file, 'llama-2-7b.Q4_K_M.gguf');
    assert.equal(download.revision?.value, 'v1.0');
    assert.equal(siteFor(sites, 'stabilityai/stable-diffusion-xl-base-1.0').loader, 'snapshot_download');
    assert.equal(siteFor(sites, 'Qwen/Qwen2-1.5B').loader, 'LLM');
    const gguf = siteFor(sites, 'bartowski/Llama-3.2-1B-Instruct-GGUF');
    assert.equal(gguf.loader, 'Llama.from_pretrained');
    assert.equal(gguf.file, '*Q8_0.gguf');
    const adapter = siteFor(sites, 'tloen/alpaca-lora-7b');
    assert.equal(adapter.kind, 'adapter');
    assert.equal(adapter.loader, 'PeftModel.from_pretrained');
    const dataset = siteFor(sites, 'stanfordnlp/imdb');
    assert.equal(dataset.kind, 'dataset');
    assert.equal(dataset.reference?.kind === 'hub' && dataset.reference.repoType, 'dataset');
  });

  it('resolves environment defaults and marks variables without a default as dynamic', () => {
    const viaConstant = siteFor(sites, 'Qwen/Qwen2.5-7B');
    assert.equal(viaConstant.envVar, 'MODEL_ID');
    assert.deepEqual(viaConstant.range, range(7, 35, 7, 50));
    const inline = siteFor(sites, 'google/gemma-2-2b');
    assert.equal(inline.envVar, 'HF_MODEL');
    assert.equal(textAt(text, inline.range), 'google/gemma-2-2b');
    const envOnly = sites.find((site) => site.envVar === 'MODEL_PATH');
    assert.equal(envOnly?.flags.dynamic, true);
    assert.equal(envOnly?.reference, undefined);
  });

  it('resolves f-strings over constants and keeps unresolved ones dynamic on their literal part', () => {
    const resolved = siteFor(sites, 'mistralai/Mistral-7B-v0.1');
    assert.equal(resolved.flags.dynamic, undefined);
    assert.equal(textAt(text, resolved.range), '{ORG}/Mistral-7B-v0.1');
    const partial = siteFor(sites, '{org}/model-7b');
    assert.equal(partial.flags.dynamic, true);
    assert.equal(partial.reference, undefined);
    assert.equal(textAt(text, partial.range), '/model-7b');
  });

  it('handles raw, triple-quoted and multi-line calls, use_safetensors and UTF-16 columns', () => {
    assert.equal(textAt(text, siteFor(sites, 'org/raw-name').range), 'org/raw-name');
    assert.equal(textAt(text, siteFor(sites, 'org/triple').range), 'org/triple');
    assert.equal(siteFor(sites, 'org/diffuser').flags.useSafetensors, false);
    const multi = siteFor(sites, 'org/multi-line');
    assert.deepEqual(multi.range, range(36, 5, 36, 19));
    assert.equal(multi.flags.trustRemoteCode, true);
    const emoji = siteFor(sites, '😀/x');
    assert.deepEqual(emoji.range, range(39, 35, 39, 39));
    assert.equal(emoji.revision?.dynamic, true);
    assert.equal(emoji.revision?.value, 'args.rev');
  });

  it('reports local paths as local references, and parameter defaults as values', () => {
    assert.equal(siteFor(sites, './checkpoints/final').reference?.kind, 'local');
    assert.equal(siteFor(sites, 'org/param-default').usageRange?.start.line, 45);
  });

  it('ignores ids outside loader calls and in comments, but reports hub URLs in comments', () => {
    for (const id of ['org/looks-like-id', 'some/path', 'org/commented-out']) {
      assert.equal(sites.some((site) => site.id.includes(id)), false, id);
    }
    const url = siteFor(sites, 'https://huggingface.co/bigscience/bloom');
    assert.equal(url.loader, 'url');
    assert.equal(sites.some((site) => site.id.includes('/docs/')), false);
  });

  it('covers each id exactly with its range', () => {
    assertRangesCoverIds(text, sites, ['mistralai/Mistral-7B-v0.1', '{org}/model-7b']);
    assert.equal(sites.length, 26);
  });

  it('finds every reference in a generated 2,000-line file', async () => {
    const generatedLines: string[] = ['from transformers import AutoModel', 'BASE = "org/base-model"'];
    for (let i = 0; generatedLines.length < 2000; i++) {
      generatedLines.push(`m${i} = AutoModel.from_pretrained("org/model-${i}", revision="main")`);
      for (let filler = 0; filler < 8; filler++) generatedLines.push(`x${i}_${filler} = compute(${filler}, "not/a-reference")`);
      if (i % 2 === 0) generatedLines.push('# org/comment-only');
    }
    const generated = generatedLines.join('\n');
    const found = await findReferences(generated, 'gen.py');
    const expected = generatedLines.filter((line) => line.includes('from_pretrained(')).length;
    assert.ok(expected >= 200, `fixture has ${expected} references`);
    assert.equal(found.length, expected);
    assert.equal(found.at(-1)?.id, `org/model-${expected - 1}`);
  });
});
