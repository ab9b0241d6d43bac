// JSON configs, model cards, transformers.js sources and plain-text URLs: ids, ranges, revisions, negatives.
import * as assert from 'node:assert/strict';
import { documentKindOf, findReferences } from '../../server/src/references';
import { assertRangesCoverIds, range, siteFor, textAt } from './helpers';

describe('references/json', () => {
  it('reads adapter_config.json base_model_name_or_path with its revision', async () => {
    const text = '{\n  "peft_type": "LORA",\n  "base_model_name_or_path": "meta-llama/Llama-2-7b-hf",\n  "revision": "v1.0"\n}\n';
    const [site, ...rest] = await findReferences(text, 'out/adapter_config.json');
    assert.equal(rest.length, 0);
    assert.equal(site?.kind, 'base-model-claim');
    assert.equal(site?.loader, 'adapter_config.base_model_name_or_path');
    assert.deepEqual(site?.range, range(2, 30, 2, 54));
    assert.deepEqual(site?.revision, { value: 'v1.0', range: range(3, 15, 3, 19) });
  });

  it('reads config.json _name_or_path only when it is a Hub id, and survives broken JSON', async () => {
    assert.equal((await findReferences('{"_name_or_path": "/home/me/ckpt"}', 'config.json')).length, 0);
    const hub = await findReferences('{"_name_or_path": "Qwen/Qwen2-0.5B", "architectures": [', 'config.json');
    assert.deepEqual(hub.map((site) => [site.id, site.loader]), [['Qwen/Qwen2-0.5B', 'config._name_or_path']]);
    for (const broken of ['{"base_model_name_or_path": "a/b', '{{{{', '[' .repeat(100000), '{"a": "\\u12"}']) {
      await findReferences(broken, 'adapter_config.json');
    }
  });
});

describe('references/card', () => {
  it('reads base_model as a string or a list from the front matter only', async () => {
    const text = '\uFEFF---\r\nlicense: mit\r\nbase_model:\r\n- teknium/OpenHermes-2.5-Mistral-7B\r\n- "Intel/neural-chat-7b-v3-3"\r\n---\r\n# Card\r\nbase_model: not/front-matter\r\n';
    const sites = await findReferences(text, 'README.md');
    assert.deepEqual(sites.map((site) => site.id), ['teknium/OpenHermes-2.5-Mistral-7B', 'Intel/neural-chat-7b-v3-3']);
    assert.deepEqual(sites[1]?.range, range(4, 3, 4, 28));
    assert.equal(sites[0]?.kind, 'base-model-claim');
    assert.equal(sites[0]?.loader, 'card.base_model');
    assertRangesCoverIds(text, sites);
  });

  it('reports body links to Hub repos as URL references, not site pages', async () => {
    const text = '---\nbase_model: mistralai/Mistral-7B-v0.1\n---\nFine-tuned from [it](https://huggingface.co/mistralai/Mistral-7B-v0.1). See https://huggingface.co/docs/hub.\n';
    const sites = await findReferences(text, 'README.md');
    assert.deepEqual(sites.map((site) => site.loader), ['card.base_model', 'url']);
    assert.equal(sites[1]?.id, 'https://huggingface.co/mistralai/Mistral-7B-v0.1');
  });
});

describe('references/javascript', () => {
  const text = [
    "import { pipeline, AutoTokenizer } from '@huggingface/transformers';",
    "const MODEL = 'Xenova/all-MiniLM-L6-v2';",
    "// pipeline('feature-extraction', 'org/commented-out');",
    "const extractor = await pipeline('feature-extraction', MODEL, { dtype: 'q8', revision: 'v2' });",
    "const classifier = await pipeline('sentiment-analysis');",
    "const tokenizer = await AutoTokenizer.from_pretrained(`Xenova/gpt2`);",
    "const model = await AutoModel.from_pretrained(process.env.MODEL_ID ?? 'onnx-community/Qwen2.5-0.5B', {});",
    "const dynamic = await AutoModel.from_pretrained(`${org}/model`);",
    "const label = 'org/not-a-reference'; const re = /pipeline('x', 'a\\/b')/;",
  ].join('\n');

  it('reads pipelines, from_pretrained, constants, env defaults and options', async () => {
    const sites = await findReferences(text, 'src/app.ts');
    const constant = siteFor(sites, 'Xenova/all-MiniLM-L6-v2');
    assert.equal(constant.loader, 'transformers.js pipeline');
    assert.deepEqual(constant.range, range(1, 15, 1, 38));
    assert.equal(constant.revision?.value, 'v2');
    assert.equal(constant.task, 'feature-extraction');
    assert.deepEqual(constant.insertion?.style, 'js-options-property');
    const implicit = sites.find((site) => site.flags.implicitDefault);
    assert.equal(implicit?.task, 'sentiment-analysis');
    const template = siteFor(sites, 'Xenova/gpt2');
    assert.deepEqual(template.insertion, { position: { line: 5, character: 67 }, needsComma: true, style: 'js-options-object' });
    const env = siteFor(sites, 'onnx-community/Qwen2.5-0.5B');
    assert.equal(env.envVar, 'MODEL_ID');
    assert.deepEqual(env.insertion, { position: { line: 6, character: 102 }, needsComma: false, style: 'js-options-property' });
    assert.equal(siteFor(sites, '${org}/model').flags.dynamic, true);
    assert.equal(sites.some((site) => site.id.includes('commented') || site.id.includes('not-a-reference') || site.id === 'a/b'), false);
    assert.equal(sites.length, 5);
    assertRangesCoverIds(text, sites);
  });
});

describe('references/urls and dispatch', () => {
  it('finds hf:// URIs and URLs with revisions and files in any text, skipping site pages', async () => {
    const text = 'weights: hf://datasets/HuggingFaceFW/fineweb@main/data.parquet\n(https://huggingface.co/openai-community/gpt2/blob/abc123/config.json).\nhttps://huggingface.co/blog/x https://huggingface.co/spaces/org/demo https://example.com/a/b\n';
    const sites = await findReferences(text, 'notes.txt');
    assert.deepEqual(sites.map((site) => [site.id, site.kind, site.loader]), [
      ['hf://datasets/HuggingFaceFW/fineweb@main/data.parquet', 'dataset', 'hf-uri'],
      ['https://huggingface.co/openai-community/gpt2/blob/abc123/config.json', 'model', 'url'],
      ['https://huggingface.co/spaces/org/demo', 'model', 'url'],
    ]);
    assert.equal(textAt(text, sites[0]!.revision!.range), 'main');
    assert.equal(textAt(text, sites[1]!.revision!.range), 'abc123');
    assert.equal(sites[1]?.file, 'config.json');
    assert.equal(sites[2]?.reference?.kind === 'hub' && sites[2].reference.repoType, 'space');
  });

  it('dispatches by file name', () => {
    assert.equal(documentKindOf('a/b/train.PY'), 'python');
    assert.equal(documentKindOf('compose.yml'), 'yaml');
    assert.equal(documentKindOf('C:\\x\\Dockerfile.prod'), 'dockerfile');
    assert.equal(documentKindOf('Modelfile'), 'modelfile');
    assert.equal(documentKindOf('run.sh'), 'shell');
    assert.equal(documentKindOf('web/app.tsx'), 'javascript');
    assert.equal(documentKindOf('LICENSE'), 'text');
  });
});
